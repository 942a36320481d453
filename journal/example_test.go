package journal_test

import (
	"context"
	"fmt"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// Append gives each event the next seq, once it is durable; an event sent
// again with its id answers duplicate with the seq it already has. Scan
// reads in seq order, filtered.
func Example() {
	j, err := journal.Open("example", journal.Options{InMemory: true})
	if err != nil {
		panic(err)
	}
	defer j.Close()
	ctx := context.Background()
	games, _ := event.Decode([]byte(`{"id":"01JD0000000000000000000001","type":"new_games","config_key":"hex8_2p","payload":{"games":60}}`))
	sync, _ := event.Decode([]byte(`{"type":"sync_completed"}`))
	res, err := j.Append(ctx, []event.Event{games, sync}, journal.AppendOptions{})
	if err != nil {
		panic(err)
	}
	again, _ := j.Append(ctx, []event.Event{games}, journal.AppendOptions{})
	fmt.Println(res[0].Status, res[0].Seq, res[1].Status, res[1].Seq, again[0].Status, again[0].Seq)
	_ = j.Scan(1, journal.Filter{ConfigKey: "hex8_2p"}, func(e *event.Event) error {
		fmt.Println(e.Seq, e.Type, e.ConfigKey)
		return nil
	})
	// Output:
	// appended 1 appended 2 duplicate 1
	// 1 new_games hex8_2p
}

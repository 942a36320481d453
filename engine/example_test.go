package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/projections"
)

// The engine is the journal's hook: every append is checked against the
// machines, folded into the projections, and the policies' decisions are
// journaled right behind their cause. JSON renders a projection.
func Example() {
	g := engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
	j, err := journal.Open("example", journal.Options{InMemory: true, Hook: g})
	if err != nil {
		panic(err)
	}
	defer j.Close()
	games, _ := event.Decode([]byte(`{"type":"new_games","config_key":"hex8_2p","payload":{"games":600}}`))
	sync, _ := event.Decode([]byte(`{"type":"sync_completed"}`))
	res, err := j.Append(context.Background(), []event.Event{games, sync}, journal.AppendOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("decisions after sync_completed:", res[1].Decisions)
	_ = j.Scan(3, journal.Filter{}, func(e *event.Event) error {
		fmt.Println(e.Seq, e.Type, e.Source, e.ConfigKey)
		return nil
	})
	var pipes projections.PipelinesView
	_ = json.Unmarshal(g.JSON(engine.Pipelines), &pipes)
	fmt.Println(pipes["hex8_2p"].State, pipes["hex8_2p"].GamesSinceTraining)
	// Output:
	// decisions after sync_completed: 1
	// 3 training_threshold ringriftd/threshold hex8_2p
	// training_ready 600
}

package flows_test

import (
	"fmt"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// The machines follow each config's pipeline through its events; in strict
// mode an event its state does not allow is refused as a flow violation,
// naming what the state would accept.
func Example() {
	m := flows.New(flows.Options{Enforcement: flows.Strict})
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	apply := func(typ, payload string) *event.Error {
		e := &event.Event{Type: typ, ConfigKey: "hex8_2p", Time: at, Payload: []byte(payload)}
		if err := event.Validate(e); err != nil {
			return err
		}
		_, err := m.Apply(e)
		return err
	}
	err := apply("training_completed", `{"model_path": "models/hex8_2p/iter_0001.pth"}`)
	fmt.Println(err.Code)
	fmt.Println(apply("new_games", `{"games": 600}`), apply("training_threshold", `{"games": 600}`))
	p := m.Pipeline("hex8_2p")
	fmt.Println(p.State, p.Iteration, p.GamesSinceTraining)
	// Output:
	// flow_violation
	// <nil> <nil>
	// training_ready 1 600
}

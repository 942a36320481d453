package fsm_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/ringrift/ringriftd/fsm"
)

// exampleDefinition is a small machine with a self-transition, a
// conditional destination and a transition from several states.
func exampleDefinition() fsm.Definition {
	return fsm.Definition{
		Name:    "job",
		Initial: "idle",
		States:  []string{"idle", "running", "done", "failed"},
		Transitions: []fsm.Transition{
			{Event: "start", From: []string{"idle"}, To: "running"},
			{Event: "tick", From: []string{"running"}, To: "running", Label: "tick (progress)"},
			{Event: "finish/ok", From: []string{"running"}, To: "done", Label: "finish [ok]"},
			{Event: "finish/error", From: []string{"running"}, To: "failed", Label: "finish [error]"},
			{Event: "reset", From: []string{"done", "failed"}, To: "idle"},
		},
	}
}

// A machine keeps one state per key; Apply moves a key by an event name
// and refuses what its state does not allow, saying what it would accept.
func Example() {
	m := fsm.MustNew(exampleDefinition())
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	step, err := m.Apply("job-1", "start", 1, at)
	fmt.Println(step.From, "->", step.To, err)
	fmt.Println("job-1:", m.State("job-1"), "job-2:", m.State("job-2"))
	_, err = m.Apply("job-1", "reset", 2, at.Add(time.Minute))
	fmt.Println(errors.Is(err, fsm.ErrNotAllowed))
	fmt.Println(m.Accepts("running"))
	// Output:
	// idle -> running <nil>
	// job-1: running job-2: idle
	// true
	// [finish tick]
}

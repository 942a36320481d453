package fsm_test

import "github.com/ringrift/ringriftd/fsm"

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

package flows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/stretchr/testify/require"
)

const (
	cfg    = "hex8_2p"
	model  = "models/hex8_2p/iter_0001.pth"
	model2 = "models/hex8_2p/iter_0002.pth"
	node   = "gpu-1"
)

var start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// ev builds an event for config key (none when ""), payload compact JSON
// ("" = {}).
func ev(typ, key, payload string) *event.Event {
	if payload == "" {
		payload = "{}"
	}
	return &event.Event{Type: typ, ConfigKey: key, Payload: json.RawMessage(payload)}
}

// nev builds an event for a node.
func nev(typ, id, payload string) *event.Event {
	e := ev(typ, "", payload)
	e.NodeID = id
	return e
}

func withModel(m string) string { return `{"model_path":"` + m + `"}` }

// results is an evaluation_completed payload for m.
func results(m string) string {
	return `{"model_path":"` + m + `","opponents":{"random":{"games":50,"win_rate":0.96},"heuristic":{"games":60,"win_rate":0.71}}}`
}

// run drives Machines with events numbered 1, 2, 3 … one second apart.
type run struct {
	t   *testing.T
	m   *flows.Machines
	seq uint64
}

func newRun(t *testing.T, o flows.Options) *run {
	return &run{t: t, m: flows.New(o)}
}

func (r *run) next(e *event.Event) *event.Event {
	r.seq++
	e.Seq = r.seq
	e.Time = start.Add(time.Duration(r.seq) * time.Second)
	return e
}

// apply folds e and requires it accepted.
func (r *run) apply(e *event.Event) flows.Change {
	r.t.Helper()
	c, err := r.m.Apply(r.next(e))
	require.Nil(r.t, err, "%s: %v", e.Type, err)
	return c
}

// applyAll folds events in order.
func (r *run) applyAll(es ...*event.Event) {
	r.t.Helper()
	for _, e := range es {
		r.apply(e)
	}
}

// refuse folds e, requires a refusal with code, and that nothing changed.
func (r *run) refuse(e *event.Event, code event.Code) *event.Error {
	r.t.Helper()
	before := r.state()
	checked := r.m.Check(e)
	c, err := r.m.Apply(r.next(e))
	require.NotNil(r.t, err, "%s was accepted: %+v", e.Type, c)
	require.Equal(r.t, code, err.Code, "%s: %v", e.Type, err)
	require.Equal(r.t, err, checked, "Check answers what Apply does")
	require.Equal(r.t, flows.Change{}, c)
	require.JSONEq(r.t, before, r.state(), "a refused event changes nothing")
	return err
}

// state is the complete state as JSON.
func (r *run) state() string {
	r.t.Helper()
	b, err := json.Marshal(r.m)
	require.NoError(r.t, err)
	return string(b)
}

func (r *run) p() *flows.Pipeline { return r.m.Pipeline(cfg) }

// toState lists the events that take a fresh config to each pipeline state
// with the iteration's model = model.
var toState = map[string][]*event.Event{
	flows.Collecting:    nil,
	flows.TrainingReady: {ev("training_threshold", cfg, "")},
	flows.Training:      {ev("training_started", cfg, "")},
	flows.RollingBack:   {ev("training_started", cfg, ""), ev("training_rollback_needed", cfg, `{"reason":"nan"}`)},
	flows.Trained:       {ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model))},
	flows.Evaluating: {ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model)),
		ev("evaluation_started", cfg, withModel(model))},
	flows.Evaluated: {ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model)),
		ev("evaluation_started", cfg, withModel(model)), ev("evaluation_completed", cfg, results(model))},
	flows.Candidate: {ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model)),
		ev("evaluation_started", cfg, withModel(model)), ev("evaluation_completed", cfg, results(model)),
		ev("promotion_candidate", cfg, withModel(model))},
	flows.Promoting: {ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model)),
		ev("evaluation_started", cfg, withModel(model)), ev("evaluation_completed", cfg, results(model)),
		ev("promotion_candidate", cfg, withModel(model)), ev("promotion_started", cfg, withModel(model))},
}

// reach drives hex8_2p to state (events are copied, so paths can be reused).
func (r *run) reach(state string) {
	r.t.Helper()
	path, ok := toState[state]
	require.True(r.t, ok, "no path to %s", state)
	for _, e := range path {
		c := *e
		r.apply(&c)
	}
	require.Equal(r.t, state, r.p().State)
}

// toNode lists the events that take a fresh node to each recovery state,
// with failures and attempts where the state allows them.
var toNode = map[string][]*event.Event{
	flows.Unknown:    nil,
	flows.Healthy:    {nev("health_check_passed", node, "")},
	flows.Degraded:   {nev("health_check_failed", node, "")},
	flows.Unhealthy:  {nev("node_unhealthy", node, "")},
	flows.Recovering: {nev("node_unhealthy", node, ""), nev("recovery_initiated", node, `{"action":"restart_daemon","attempt":1}`)},
	flows.Offline:    {nev("node_unhealthy", node, ""), nev("recovery_initiated", node, ""), nev("host_offline", node, "")},
	flows.Escalated:  {nev("node_unhealthy", node, ""), nev("health_alert", node, "")},
}

func (r *run) reachNode(state string) {
	r.t.Helper()
	for _, e := range toNode[state] {
		c := *e
		r.apply(&c)
	}
	require.Equal(r.t, state, r.m.ExplainNode(node).State)
}

// fakeBackpressure blocks training for the scopes it lists ("" = cluster).
type fakeBackpressure map[string]bool

func (f fakeBackpressure) Blocks(scope string) bool { return f[scope] }

var _ flows.Backpressure = fakeBackpressure(nil)

func secs(n uint64) time.Duration { return time.Duration(n) * time.Second }

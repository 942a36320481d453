package flows_test

import (
	"encoding/json"
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLenient(t *testing.T) {
	strict := newRun(t, flows.Options{})
	lenient := newRun(t, flows.Options{Enforcement: flows.Lenient})
	for _, r := range []*run{strict, lenient} {
		r.apply(ev("training_started", cfg, ""))
	}
	bad := ev("evaluation_started", cfg, withModel(model))
	want := strict.refuse(bad, event.CodeFlowViolation)

	before := lenient.state()
	b := *bad
	assert.Nil(t, lenient.m.Check(&b), "lenient mode accepts a violation")
	c := lenient.apply(&b)
	assert.Equal(t, flows.Change{Machine: flows.PipelineMachine, Config: cfg, From: flows.Training, To: flows.Training, Violation: true, Refusal: want}, c)
	p := lenient.p()
	assert.Equal(t, 1, p.Violations)
	assert.Equal(t, uint64(1), p.LastSeq, "last_seq does not move")
	assert.Equal(t, flows.Training, p.State)

	// Only the violations counter differs from the state before.
	var x, y map[string]any
	require.NoError(t, json.Unmarshal([]byte(before), &x))
	require.NoError(t, json.Unmarshal([]byte(lenient.state()), &y))
	y["pipelines"].(map[string]any)[cfg].(map[string]any)["violations"] = float64(0)
	assert.Equal(t, x, y)

	// Guards are violations too: a paused training start.
	l := newRun(t, flows.Options{Enforcement: flows.Lenient})
	l.apply(ev("training_blocked_by_quality", cfg, ""))
	c = l.apply(ev("training_threshold", cfg, ""))
	assert.True(t, c.Violation)
	assert.Equal(t, event.CodePaused, c.Refusal.Code)
	assert.Equal(t, flows.Collecting, l.p().State)
	// An extended config with violations only is listed.
	c = l.apply(ev("training_completed", "octo8_2p", withModel(model)))
	assert.True(t, c.Violation)
	require.NotNil(t, l.m.Pipeline("octo8_2p"))
	assert.Equal(t, 1, l.m.Pipeline("octo8_2p").Violations)
	assert.Zero(t, l.m.Pipeline("octo8_2p").LastSeq)
	assert.Equal(t, flows.Lenient, l.m.Enforcement())
}

func TestEnforcementParse(t *testing.T) {
	e, err := flows.ParseEnforcement("lenient")
	require.NoError(t, err)
	assert.Equal(t, flows.Lenient, e)
	assert.Equal(t, "lenient", e.String())
	e, err = flows.ParseEnforcement("strict")
	require.NoError(t, err)
	assert.Equal(t, flows.Strict, e)
	_, err = flows.ParseEnforcement("Strict")
	assert.ErrorIs(t, err, flows.ErrOptions)
	assert.ErrorIs(t, flows.Options{Enforcement: 7}.Validate(), flows.ErrOptions)
	assert.Panics(t, func() { flows.New(flows.Options{Enforcement: 7}) })
}

// TestGuardOrder: the state check, then the model guard (both
// flow_violation), then the pause guard (paused).
func TestGuardOrder(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.reach(flows.Evaluated)
	r.apply(ev("regression_severe", cfg, "")) // paused for promotion and training

	// Wrong state, wrong model, paused: the state check answers.
	err := r.refuse(ev("model_promoted", cfg, withModel("phantom.pth")), event.CodeFlowViolation)
	assert.Equal(t, "type", err.Field)
	assert.Contains(t, err.Message, "in state evaluated")

	r.apply(ev("promotion_candidate", cfg, withModel(model)))
	// Right state, wrong model, paused: the model guard answers.
	err = r.refuse(ev("model_promoted", cfg, withModel("phantom.pth")), event.CodeFlowViolation)
	assert.Equal(t, "payload.model_path", err.Field)
	assert.Equal(t, `model_promoted for hex8_2p names model "phantom.pth", not the iteration's model ("`+model+`")`, err.Message)
	err = r.refuse(ev("model_promoted", cfg, ""), event.CodeFlowViolation)
	assert.Contains(t, err.Message, "has no model_path")

	// Right state, right model, paused: the pause guard answers.
	err = r.refuse(ev("model_promoted", cfg, withModel(model)), event.CodePaused)
	assert.Equal(t, "config_key", err.Field)
	assert.Equal(t, "hex8_2p is paused for promotion (regression)", err.Message)
	assert.Contains(t, err.Hint, "regression_cleared")
	r.refuse(ev("promotion_started", cfg, withModel(model)), event.CodePaused)

	// Not paused: accepted; rejection and failure are never paused.
	r.apply(ev("regression_cleared", cfg, ""))
	r.apply(ev("promotion_started", cfg, withModel(model)))
	r.apply(ev("regression_critical", cfg, ""))
	r.refuse(ev("model_promoted", cfg, withModel(model)), event.CodePaused)
	r.apply(ev("promotion_failed", cfg, `{"model_path":"`+model+`","error":"x"}`))
	assert.Equal(t, flows.Collecting, r.p().State)
}

func TestMonitoringEvaluations(t *testing.T) {
	r := newRun(t, flows.Options{HistoryLimit: 100})
	r.reach(flows.Promoting)
	r.apply(ev("model_promoted", cfg, withModel(model)))
	require.Equal(t, model, r.p().Champion())
	hist := len(r.m.History(cfg))

	// In collecting (no iteration model) every evaluation type of the
	// champion is accepted, without a transition.
	for _, e := range []*event.Event{
		ev("evaluation_started", cfg, withModel(model)), ev("evaluation_progress", cfg, withModel(model)),
		ev("evaluation_completed", cfg, results(model)), ev("evaluation_failed", cfg, `{"error":"x","model_path":"`+model+`"}`),
	} {
		c := r.apply(e)
		assert.Equal(t, flows.Change{Machine: flows.PipelineMachine, Config: cfg, From: flows.Collecting, To: flows.Collecting, Monitoring: true}, c, e.Type)
		assert.Equal(t, r.seq, r.p().LastSeq)
	}
	p := r.p()
	assert.Nil(t, p.Results, "a monitoring evaluation stores no results")
	assert.Zero(t, p.Failures.Evaluation)
	assert.Len(t, r.m.History(cfg), hist, "no transition")

	// While the next iteration evaluates model2, evaluations of the
	// champion are monitoring, of model2 transitions.
	r.applyAll(ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model2)),
		ev("evaluation_started", cfg, withModel(model2)))
	c := r.apply(ev("evaluation_completed", cfg, results(model)))
	assert.True(t, c.Monitoring)
	assert.Equal(t, flows.Evaluating, p.State)
	c = r.apply(ev("evaluation_failed", cfg, `{"error":"x","model_path":"`+model+`"}`))
	assert.True(t, c.Monitoring)
	assert.Zero(t, p.Failures.Evaluation)
	c = r.apply(ev("evaluation_completed", cfg, results(model2)))
	assert.False(t, c.Monitoring)
	assert.Equal(t, flows.Evaluated, p.State)

	// Promotion events of the champion are no monitoring: phantom.
	err := r.refuse(ev("promotion_candidate", cfg, withModel(model)), event.CodeFlowViolation)
	assert.Equal(t, "payload.model_path", err.Field)
}

func TestModelThatIsTheChampionIsNotMonitoring(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.reach(flows.Promoting)
	r.apply(ev("model_promoted", cfg, withModel(model)))
	// The next iteration trains to the same path (the champion).
	r.applyAll(ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model)))
	c := r.apply(ev("evaluation_started", cfg, withModel(model)))
	assert.False(t, c.Monitoring)
	assert.Equal(t, flows.Evaluating, r.p().State)
}

func TestPhantomEvents(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.reach(flows.Promoting)
	r.apply(ev("model_promoted", cfg, withModel(model)))
	r.applyAll(ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model2)),
		ev("evaluation_started", cfg, withModel(model2)))

	for _, e := range []*event.Event{
		ev("evaluation_progress", cfg, withModel("old.pth")),
		ev("evaluation_completed", cfg, results("old.pth")),
		ev("evaluation_failed", cfg, `{"error":"x","model_path":"old.pth"}`),
		ev("promotion_rejected", cfg, `{"model_path":"old.pth","reason":"x"}`),
	} {
		err := r.refuse(e, event.CodeFlowViolation)
		assert.Equal(t, "payload.model_path", err.Field, e.Type)
		assert.Contains(t, err.Message, `"old.pth"`)
	}
	err := r.refuse(ev("evaluation_completed", cfg, results("old.pth")), event.CodeFlowViolation)
	assert.Equal(t, `evaluation_completed for hex8_2p names model "old.pth", which is neither the iteration's model ("`+model2+`") nor the champion ("`+model+`")`, err.Message)
	assert.Contains(t, err.Hint, "elo_updated")

	// Evaluation of an unknown model while collecting: the state check.
	r2 := newRun(t, flows.Options{})
	err = r2.refuse(ev("evaluation_started", cfg, withModel("old.pth")), event.CodeFlowViolation)
	assert.Equal(t, "type", err.Field)
}

func TestChampionStack(t *testing.T) {
	r := newRun(t, flows.Options{})
	promote := func(m string) {
		t.Helper()
		r.applyAll(ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(m)),
			ev("evaluation_started", cfg, withModel(m)), ev("evaluation_completed", cfg, results(m)),
			ev("promotion_candidate", cfg, withModel(m)), ev("model_promoted", cfg, withModel(m)))
	}
	rollback := func(to string) flows.Change {
		t.Helper()
		return r.apply(ev("promotion_rolled_back", cfg, `{"from_model":"x","to_model":"`+to+`"}`))
	}
	promote("a")
	promote("b")
	promote("c")
	p := r.p()
	assert.Equal(t, []string{"a", "b", "c"}, p.Champions)
	assert.Equal(t, "b", p.PreviousChampion())

	rollback("b")
	assert.Equal(t, []string{"a", "b"}, p.Champions, "pops back to to_model")
	assert.Equal(t, "a", p.PreviousChampion())
	c := rollback("b")
	assert.Equal(t, []string{"a", "b"}, p.Champions, "a rollback to the top changes nothing")
	assert.Equal(t, flows.Change{Config: cfg, From: flows.Collecting, To: flows.Collecting}, c)
	rollback("z")
	assert.Equal(t, []string{"a", "b", "z"}, p.Champions, "a model not in the stack is pushed")
	promote("a")
	assert.Equal(t, []string{"a", "b", "z", "a"}, p.Champions, "a model promoted before is pushed again")
	rollback("a")
	assert.Equal(t, []string{"a", "b", "z", "a"}, p.Champions, "the topmost a")
	rollback("b")
	assert.Equal(t, []string{"a", "b"}, p.Champions)
	held := p.Champions
	promote("d")
	assert.Equal(t, []string{"a", "b"}, held, "a slice read before is not overwritten by a later push")

	// A rollback in the middle of an iteration leaves the iteration alone.
	r.applyAll(ev("training_started", cfg, ""), ev("training_completed", cfg, withModel("e")))
	rollback("a")
	assert.Equal(t, flows.Trained, p.State)
	assert.Equal(t, "e", p.Model)
	assert.Equal(t, "a", p.Champion())
}

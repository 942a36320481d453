package flows_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type pipelineRow struct {
	name  string
	from  string
	pre   []*event.Event // after reaching from
	event *event.Event
	to    string
	fired string // the fsm event, when it is a variant
	check func(t *testing.T, p *flows.Pipeline, c flows.Change)
}

// TestPipelineRows has one case per row of flows.md's pipeline table (rows
// with several from-states: one case per from-state).
func TestPipelineRows(t *testing.T) {
	tests := []pipelineRow{
		{name: "collecting training_threshold", from: flows.Collecting, event: ev("training_threshold", cfg, `{"games":60}`), to: flows.TrainingReady},
		{
			name: "collecting training_started", from: flows.Collecting,
			pre:   []*event.Event{ev("sync_completed", cfg, "")},
			event: ev("training_started", cfg, ""), to: flows.Training,
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) {
				assert.False(t, p.SyncedSinceTraining, "synced_since_training := false")
			},
		},
		{
			name: "training_ready training_started", from: flows.TrainingReady,
			pre:   []*event.Event{ev("sync_completed", cfg, "")},
			event: ev("training_started", cfg, ""), to: flows.Training,
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) { assert.False(t, p.SyncedSinceTraining) },
		},
		{
			name: "training_ready training_threshold no-op", from: flows.TrainingReady,
			event: ev("training_threshold", cfg, ""), to: flows.TrainingReady,
			check: func(t *testing.T, p *flows.Pipeline, c flows.Change) {
				assert.False(t, c.Changed())
				assert.Equal(t, start.Add(time.Second), p.EnteredAt, "a self-transition does not move entered_at")
			},
		},
		{name: "training training_progress", from: flows.Training, event: ev("training_progress", cfg, `{"epoch":3}`), to: flows.Training},
		{
			name: "training training_completed", from: flows.Training,
			pre: []*event.Event{
				ev("training_failed", cfg, `{"error":"oom"}`), ev("new_games", cfg, `{"games":70}`),
				ev("training_started", cfg, ""),
			},
			event: ev("training_completed", cfg, `{"checkpoint_path":"`+model+`"}`), to: flows.Trained,
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) {
				assert.Equal(t, model, p.Model, "model := model_path (read through its alias)")
				assert.Zero(t, p.GamesSinceTraining)
				assert.Zero(t, p.Failures.Training)
			},
		},
		{
			name: "training training_early_stopped with model", from: flows.Training,
			pre:   []*event.Event{ev("training_failed", cfg, `{"error":"oom"}`), ev("new_games", cfg, `{"games":70}`), ev("training_started", cfg, "")},
			event: ev("training_early_stopped", cfg, `{"model_path":"`+model+`","reason":"plateau"}`), to: flows.Trained,
			fired: "training_early_stopped/model",
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) {
				assert.Equal(t, model, p.Model)
				assert.Zero(t, p.GamesSinceTraining)
				assert.Zero(t, p.Failures.Training)
			},
		},
		{
			name: "training training_early_stopped without model", from: flows.Training,
			pre:   []*event.Event{ev("new_games", cfg, `{"games":70}`)},
			event: ev("training_early_stopped", cfg, `{"reason":"diverged"}`), to: flows.Collecting,
			fired: "training_early_stopped/no_model",
			check: func(t *testing.T, p *flows.Pipeline, c flows.Change) {
				assert.Empty(t, p.Model)
				assert.Equal(t, int64(70), p.GamesSinceTraining, "games are kept")
				assert.Equal(t, 1, p.Iteration, "the same iteration is retried")
				assert.Nil(t, c.Outcome)
			},
		},
		{
			name: "training training_failed", from: flows.Training,
			event: ev("training_failed", cfg, `{"error":"oom"}`), to: flows.Collecting,
			check: func(t *testing.T, p *flows.Pipeline, c flows.Change) {
				assert.Equal(t, 1, p.Failures.Training)
				assert.Equal(t, 1, p.Iteration)
				assert.Nil(t, c.Outcome)
			},
		},
		{name: "training training_rollback_needed", from: flows.Training, event: ev("training_rollback_needed", cfg, `{"reason":"nan"}`), to: flows.RollingBack},
		{
			name: "rolling_back training_rollback_completed", from: flows.RollingBack,
			event: ev("training_rollback_completed", cfg, ""), to: flows.Collecting,
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) { assert.Equal(t, 1, p.Iteration) },
		},
		{
			name: "rolling_back training_failed", from: flows.RollingBack,
			event: ev("training_failed", cfg, `{"error":"x"}`), to: flows.Collecting,
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) {
				assert.Zero(t, p.Failures.Training, "only a failure in training counts")
			},
		},
		{name: "trained evaluation_started", from: flows.Trained, event: ev("evaluation_started", cfg, withModel(model)), to: flows.Evaluating},
		{name: "evaluating evaluation_progress without model", from: flows.Evaluating, event: ev("evaluation_progress", cfg, ""), to: flows.Evaluating},
		{name: "evaluating evaluation_progress with model", from: flows.Evaluating, event: ev("evaluation_progress", cfg, withModel(model)), to: flows.Evaluating},
		{
			name: "evaluating evaluation_completed", from: flows.Evaluating,
			pre:   []*event.Event{ev("evaluation_failed", cfg, `{"error":"x"}`), ev("evaluation_started", cfg, withModel(model))},
			event: ev("evaluation_completed", cfg, results(model)), to: flows.Evaluated,
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) {
				assert.Equal(t, []event.Opponent{{Name: "heuristic", Games: 60, WinRate: 0.71}, {Name: "random", Games: 50, WinRate: 0.96}}, p.Results)
				assert.Zero(t, p.Failures.Evaluation)
			},
		},
		{
			name: "evaluating evaluation_failed", from: flows.Evaluating,
			event: ev("evaluation_failed", cfg, `{"error":"x"}`), to: flows.Trained, fired: "evaluation_failed/retry",
			check: func(t *testing.T, p *flows.Pipeline, _ flows.Change) {
				assert.Equal(t, 1, p.Failures.Evaluation)
				assert.Equal(t, model, p.Model)
			},
		},
		{
			name: "evaluating evaluation_failed 3rd consecutive", from: flows.Evaluating,
			pre: []*event.Event{
				ev("evaluation_failed", cfg, `{"error":"x","model_path":"`+model+`"}`), ev("evaluation_started", cfg, withModel(model)),
				ev("evaluation_failed", cfg, `{"error":"x"}`), ev("evaluation_started", cfg, withModel(model)),
			},
			event: ev("evaluation_failed", cfg, `{"error":"x"}`), to: flows.Collecting, fired: "evaluation_failed/abandon",
			check: func(t *testing.T, p *flows.Pipeline, c flows.Change) {
				want := &flows.Outcome{Iteration: 1, Outcome: flows.OutcomeAbandoned, Model: model}
				assert.Equal(t, want, c.Outcome)
				assert.Equal(t, want, p.LastOutcome)
				assert.Equal(t, 2, p.Iteration)
				assert.Empty(t, p.Model)
				assert.Zero(t, p.Failures.Evaluation)
			},
		},
		{name: "evaluated evaluation_started", from: flows.Evaluated, event: ev("evaluation_started", cfg, withModel(model)), to: flows.Evaluating},
		{name: "evaluated promotion_candidate", from: flows.Evaluated, event: ev("promotion_candidate", cfg, withModel(model)), to: flows.Candidate},
		{name: "candidate promotion_started", from: flows.Candidate, event: ev("promotion_started", cfg, withModel(model)), to: flows.Promoting},
	}
	for _, from := range []string{flows.Evaluating, flows.Evaluated, flows.Candidate, flows.Promoting} {
		tests = append(tests, pipelineRow{
			name: from + " promotion_rejected", from: from,
			event: ev("promotion_rejected", cfg, `{"model_path":"`+model+`","reason":"too weak","gate":"win_rate_heuristic"}`), to: flows.Collecting,
			check: func(t *testing.T, p *flows.Pipeline, c flows.Change) {
				want := &flows.Outcome{Iteration: 1, Outcome: flows.OutcomeRejected, Gate: "win_rate_heuristic", Model: model}
				assert.Equal(t, want, p.LastOutcome)
				assert.Equal(t, want, c.Outcome)
				assert.Equal(t, 2, p.Iteration)
				assert.Empty(t, p.Model)
				assert.Nil(t, p.Results)
				assert.Empty(t, p.Champions)
			},
		})
	}
	for _, from := range []string{flows.Candidate, flows.Promoting} {
		tests = append(tests, pipelineRow{
			name: from + " model_promoted", from: from,
			event: ev("model_promoted", cfg, withModel(model)), to: flows.Collecting,
			check: func(t *testing.T, p *flows.Pipeline, c flows.Change) {
				want := &flows.Outcome{Iteration: 1, Outcome: flows.OutcomePromoted, Model: model}
				assert.Equal(t, want, p.LastOutcome)
				assert.Equal(t, want, c.Outcome)
				assert.Equal(t, []string{model}, p.Champions)
				assert.Equal(t, model, p.Champion())
				assert.Equal(t, 2, p.Iteration)
				assert.Empty(t, p.Model)
			},
		}, pipelineRow{
			name: from + " promotion_failed", from: from,
			event: ev("promotion_failed", cfg, `{"model_path":"`+model+`","error":"copy failed","gate":"ignored"}`), to: flows.Collecting,
			check: func(t *testing.T, p *flows.Pipeline, c flows.Change) {
				assert.Equal(t, &flows.Outcome{Iteration: 1, Outcome: flows.OutcomeFailed, Model: model}, p.LastOutcome, "a gate is kept for rejected only")
				assert.Empty(t, p.Champions)
				assert.Equal(t, 2, p.Iteration)
			},
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, flows.Options{HistoryLimit: -1})
			r.reach(tt.from)
			r.applyAll(tt.pre...)
			require.Equal(t, tt.from, r.p().State, "setup")
			c := r.apply(tt.event)
			p := r.p()
			assert.Equal(t, tt.to, p.State)
			fired := tt.fired
			if fired == "" {
				fired = tt.event.Type
			}
			assert.Equal(t, flows.Change{Machine: flows.PipelineMachine, Config: cfg, Event: fired, From: tt.from, To: tt.to, Outcome: c.Outcome}, c)
			assert.Equal(t, r.seq, p.LastSeq)
			if tt.from != tt.to {
				assert.Equal(t, tt.event.Time, p.EnteredAt, "entered_at is the time of the transition")
			}
			h := r.m.History(cfg)
			require.NotEmpty(t, h)
			assert.Equal(t, r.seq, h[len(h)-1].Seq)
			assert.Equal(t, fired, h[len(h)-1].Event)
			if tt.check != nil {
				tt.check(t, p, c)
			}
		})
	}
}

// pipelineAccepts is flows.md's pipeline table read by state.
var pipelineAccepts = map[string][]string{
	flows.Collecting:    {"training_started", "training_threshold"},
	flows.TrainingReady: {"training_started", "training_threshold"},
	flows.Training:      {"training_completed", "training_early_stopped", "training_failed", "training_progress", "training_rollback_needed"},
	flows.RollingBack:   {"training_failed", "training_rollback_completed"},
	flows.Trained:       {"evaluation_started"},
	flows.Evaluating:    {"evaluation_completed", "evaluation_failed", "evaluation_progress", "promotion_rejected"},
	flows.Evaluated:     {"evaluation_started", "promotion_candidate", "promotion_rejected"},
	flows.Candidate:     {"model_promoted", "promotion_failed", "promotion_rejected", "promotion_started"},
	flows.Promoting:     {"model_promoted", "promotion_failed", "promotion_rejected"},
}

var pipelineEvents = []string{
	"training_threshold", "training_started", "training_progress", "training_completed", "training_early_stopped",
	"training_failed", "training_rollback_needed", "training_rollback_completed", "evaluation_started",
	"evaluation_progress", "evaluation_completed", "evaluation_failed", "promotion_candidate", "promotion_rejected",
	"promotion_started", "model_promoted", "promotion_failed",
}

// TestPipelineRefusesWhatTheTableDoesNotAllow checks every (state, event)
// outside the table: strict mode refuses it with a flow_violation naming the
// config, the state and what it accepts.
func TestPipelineRefusesWhatTheTableDoesNotAllow(t *testing.T) {
	for state, accepts := range pipelineAccepts {
		r := newRun(t, flows.Options{})
		r.reach(state)
		assert.Equal(t, accepts, r.m.Explain(cfg).Accepts, state)
		for _, typ := range pipelineEvents {
			if slices.Contains(accepts, typ) {
				continue
			}
			t.Run(state+"/"+typ, func(t *testing.T) {
				r.t = t
				err := r.refuse(ev(typ, cfg, `{"model_path":"`+model+`","opponents":{"random":{"games":5,"win_rate":1}}}`), event.CodeFlowViolation)
				assert.Equal(t, "type", err.Field)
				assert.Equal(t, typ+" is not allowed for hex8_2p in state "+state+"; it accepts "+joinComma(accepts), err.Message)
				assert.Contains(t, err.Hint, typ+" is accepted in state ")
			})
		}
	}
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

func TestRefusalMessageExample(t *testing.T) {
	r := newRun(t, flows.Options{})
	err := r.refuse(ev("training_completed", cfg, withModel(model)), event.CodeFlowViolation)
	assert.Equal(t, "training_completed is not allowed for hex8_2p in state collecting; it accepts training_started, training_threshold", err.Message)
	assert.Equal(t, "training_completed is accepted in state training", err.Hint)
	assert.Equal(t, "type", err.Field)
}

func TestIterations(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.reach(flows.Promoting)
	r.apply(ev("model_promoted", cfg, withModel(model)))
	assert.Equal(t, 2, r.p().Iteration)

	// Returns to collecting that are not outcomes retry the same iteration.
	r.applyAll(ev("training_started", cfg, ""), ev("training_failed", cfg, `{"error":"x"}`),
		ev("training_started", cfg, ""), ev("training_rollback_needed", cfg, `{"reason":"x"}`), ev("training_rollback_completed", cfg, ""),
		ev("training_started", cfg, ""), ev("training_early_stopped", cfg, ""))
	assert.Equal(t, 2, r.p().Iteration)
	assert.Equal(t, 1, r.p().Failures.Training)

	r.applyAll(ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model2)),
		ev("evaluation_started", cfg, withModel(model2)), ev("evaluation_completed", cfg, results(model2)),
		ev("promotion_rejected", cfg, `{"model_path":"`+model2+`","reason":"weak"}`))
	p := r.p()
	assert.Equal(t, 3, p.Iteration)
	assert.Equal(t, &flows.Outcome{Iteration: 2, Outcome: flows.OutcomeRejected, Model: model2}, p.LastOutcome, "no gate when the rejection names none")
	assert.Zero(t, p.Failures.Training, "training_completed reset it")
	assert.Equal(t, []string{model}, p.Champions)
}

func TestEvaluationFailuresAreConsecutive(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.reach(flows.Evaluating)
	r.apply(ev("evaluation_failed", cfg, `{"error":"x"}`))
	r.apply(ev("evaluation_started", cfg, withModel(model)))
	r.apply(ev("evaluation_failed", cfg, `{"error":"x"}`))
	assert.Equal(t, 2, r.p().Failures.Evaluation)
	r.applyAll(ev("evaluation_started", cfg, withModel(model)), ev("evaluation_completed", cfg, results(model)))
	assert.Zero(t, r.p().Failures.Evaluation, "evaluation_completed resets the count")
	r.applyAll(ev("evaluation_started", cfg, withModel(model)), ev("evaluation_failed", cfg, `{"error":"x"}`))
	assert.Equal(t, flows.Trained, r.p().State, "a failure after a success is the 1st again")
	assert.Equal(t, 1, r.p().Failures.Evaluation)
}

func TestResultsOfReevaluation(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.reach(flows.Evaluated)
	r.applyAll(ev("evaluation_started", cfg, withModel(model)),
		ev("evaluation_completed", cfg, `{"model_path":"`+model+`","opponents":{"champion":{"games":10,"win_rate":0.5}}}`))
	assert.Equal(t, []event.Opponent{{Name: "champion", Games: 10, WinRate: 0.5}}, r.p().Results, "a re-evaluation replaces the results")
}

func TestEnteredAtAndLastSeq(t *testing.T) {
	r := newRun(t, flows.Options{})
	p := r.p()
	assert.True(t, p.EnteredAt.IsZero(), "null before the first transition")
	r.apply(ev("training_started", cfg, ""))
	entered := p.EnteredAt
	assert.Equal(t, start.Add(time.Second), entered)
	r.apply(ev("training_progress", cfg, ""))
	r.apply(ev("elo_updated", cfg, `{"participant":"x","elo":1500}`))
	assert.Equal(t, entered, p.EnteredAt, "only a change of state moves entered_at")
	assert.Equal(t, uint64(3), p.LastSeq, "last_seq moves for any accepted event of the config")
	r.apply(ev("new_games", "square8_2p", `{"games":3}`))
	assert.Equal(t, uint64(3), p.LastSeq, "not for another config's")
	r.refuse(ev("evaluation_started", cfg, withModel(model)), event.CodeFlowViolation)
	assert.Equal(t, uint64(3), p.LastSeq, "not for a refused one")
}

func TestCounters(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.applyAll(ev("new_games", cfg, `{"games":40}`), ev("selfplay_complete", cfg, `{"games_count":15}`),
		ev("new_games", cfg, ""), ev("selfplay_complete", cfg, `{"num_games":5}`))
	assert.Equal(t, int64(60), r.p().GamesSinceTraining, "games and its aliases; absent counts 0")

	r.applyAll(ev("sync_failed", cfg, `{"error":"x"}`), ev("sync_failed", cfg, `{"error":"x"}`))
	assert.Equal(t, 2, r.p().Failures.Sync)
	assert.False(t, r.p().SyncedSinceTraining)
	c := r.apply(ev("sync_completed", cfg, ""))
	assert.Equal(t, flows.Change{Config: cfg, From: flows.Collecting, To: flows.Collecting}, c)
	assert.True(t, r.p().SyncedSinceTraining)
	assert.Zero(t, r.p().Failures.Sync)

	// Counters move in any state.
	r.reach(flows.Evaluating)
	r.apply(ev("new_games", cfg, `{"games":7}`))
	assert.Equal(t, int64(7), r.p().GamesSinceTraining)
}

func TestSyncWithoutConfigAppliesToEveryConfig(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.apply(ev("new_games", "octo8_2p", `{"games":1}`)) // an extended config
	r.apply(ev("sync_failed", "", `{"error":"x"}`))
	c := r.apply(ev("sync_failed", "", `{"error":"x"}`))
	assert.True(t, c.AllConfigs)
	assert.Empty(t, c.Config)
	keys := r.m.PipelineKeys()
	require.Len(t, keys, 13)
	for _, k := range keys {
		assert.Equal(t, 2, r.m.Pipeline(k).Failures.Sync, k)
	}
	r.apply(ev("sync_failed", "square8_3p", `{"error":"x"}`))
	assert.Equal(t, 3, r.m.Pipeline("square8_3p").Failures.Sync)
	assert.Equal(t, 2, r.m.Pipeline(cfg).Failures.Sync, "a sync with a config_key is for that config only")

	c = r.apply(ev("sync_completed", "", ""))
	assert.True(t, c.AllConfigs)
	for _, k := range keys {
		p := r.m.Pipeline(k)
		assert.True(t, p.SyncedSinceTraining, k)
		assert.Zero(t, p.Failures.Sync, k)
	}
	assert.Equal(t, uint64(1), r.m.Pipeline("octo8_2p").LastSeq, "an event without a config_key does not move last_seq")
	assert.True(t, r.apply(ev("sync_started", "", "")).AllConfigs)
}

func TestConfigs(t *testing.T) {
	r := newRun(t, flows.Options{})
	assert.Equal(t, event.ConfigKeys(), r.m.PipelineKeys(), "the twelve canonical configs exist from the start")
	for _, k := range event.ConfigKeys() {
		p := r.m.Pipeline(k)
		require.NotNil(t, p, k)
		assert.Equal(t, flows.Collecting, p.State)
		assert.Equal(t, 1, p.Iteration)
		assert.NotNil(t, p.Paused)
	}
	assert.Nil(t, r.m.Pipeline("octo8_2p"))
	r.apply(ev("curriculum_advanced", "octo8_2p", `{"new_tier":1}`))
	require.NotNil(t, r.m.Pipeline("octo8_2p"), "an extended config appears at its first event")
	keys := r.m.PipelineKeys()
	assert.True(t, slices.IsSorted(keys))
	assert.Contains(t, keys, "octo8_2p")
	assert.Equal(t, uint64(1), r.m.Pipeline("octo8_2p").LastSeq)

	r.refuse(ev("training_completed", "octo9_2p", withModel(model)), event.CodeFlowViolation)
	assert.Nil(t, r.m.Pipeline("octo9_2p"), "a refused event creates nothing")
	assert.Nil(t, r.m.Check(ev("training_started", "octo9_2p", "")))
	assert.Nil(t, r.m.Pipeline("octo9_2p"), "Check creates nothing")
}

func TestMissingKeys(t *testing.T) {
	for _, mode := range []flows.Enforcement{flows.Strict, flows.Lenient} {
		r := newRun(t, flows.Options{Enforcement: mode})
		err := r.refuse(ev("training_started", "", ""), event.CodeMissingField)
		assert.Equal(t, "config_key", err.Field)
		err = r.refuse(nev("host_offline", "", ""), event.CodeMissingField)
		assert.Equal(t, "node_id", err.Field)
	}
}

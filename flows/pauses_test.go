package flows_test

import (
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPauseEvents checks each set and clear event of flows.md's pause table,
// in both scopes.
func TestPauseEvents(t *testing.T) {
	sets := []struct {
		event  string
		reason string
	}{
		{"training_blocked_by_quality", flows.PauseQuality},
		{"regression_severe", flows.PauseRegression},
		{"regression_critical", flows.PauseRegression},
		{"regression_moderate", flows.PausePromotionHold},
	}
	clears := map[string][]*event.Event{
		flows.PauseQuality:       {ev("high_quality_data_available", cfg, "")},
		flows.PauseRegression:    {ev("regression_cleared", cfg, ""), ev("promotion_rolled_back", cfg, `{"to_model":"m"}`), ev("training_rollback_completed", cfg, "")},
		flows.PausePromotionHold: {ev("regression_cleared", cfg, ""), ev("promotion_rolled_back", cfg, `{"to_model":"m"}`)},
	}
	for _, s := range sets {
		for _, clear := range clears[s.reason] {
			t.Run(s.event+" then "+clear.Type, func(t *testing.T) {
				r := newRun(t, flows.Options{})
				if clear.Type == "training_rollback_completed" {
					r.reach(flows.RollingBack)
				}
				r.apply(ev(s.event, cfg, ""))
				assert.Equal(t, []string{s.reason}, r.m.Paused(cfg))
				assert.True(t, r.p().Paused[s.reason])
				assert.Empty(t, r.m.Paused("square8_2p"), "another config is not paused")
				c := *clear
				r.apply(&c)
				assert.Empty(t, r.m.Paused(cfg), "%s clears %s", clear.Type, s.reason)
			})
		}
	}
	t.Run("others clear nothing", func(t *testing.T) {
		r := newRun(t, flows.Options{})
		r.applyAll(ev("training_blocked_by_quality", cfg, ""), ev("regression_moderate", cfg, ""))
		r.applyAll(ev("regression_cleared", cfg, ""))
		assert.Equal(t, []string{flows.PauseQuality}, r.m.Paused(cfg), "regression_cleared leaves quality")
		r.applyAll(ev("regression_severe", cfg, ""), ev("high_quality_data_available", cfg, ""),
			ev("regression_minor", cfg, ""), ev("regression_detected", cfg, ""))
		assert.Equal(t, []string{flows.PauseRegression}, r.m.Paused(cfg))
	})
}

func TestClusterPauses(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.apply(ev("training_blocked_by_quality", "", ""))
	assert.Equal(t, []string{flows.PauseQuality}, r.m.ClusterPaused())
	assert.Empty(t, r.p().Paused, "cluster reasons live in their own scope")
	for _, k := range r.m.PipelineKeys() {
		assert.Equal(t, []string{flows.PauseQuality}, r.m.Paused(k), "every config is paused by the cluster scope")
	}
	err := r.refuse(ev("training_threshold", cfg, ""), event.CodePaused)
	assert.Contains(t, err.Hint, "without a config_key")

	r.apply(ev("high_quality_data_available", cfg, ""))
	assert.Equal(t, []string{flows.PauseQuality}, r.m.Paused(cfg), "a config's clear leaves the cluster scope")
	r.apply(ev("training_blocked_by_quality", cfg, ""))
	r.apply(ev("high_quality_data_available", "", ""))
	assert.Empty(t, r.m.ClusterPaused())
	assert.Equal(t, []string{flows.PauseQuality}, r.m.Paused(cfg), "a cluster-wide clear leaves config scopes")
	assert.Empty(t, r.m.Paused("square8_2p"))

	r.applyAll(ev("regression_moderate", "", ""), ev("regression_critical", "", ""))
	assert.Equal(t, []string{flows.PausePromotionHold, flows.PauseRegression}, r.m.ClusterPaused())
	r.apply(ev("promotion_rolled_back", "", `{"to_model":"m"}`))
	assert.Empty(t, r.m.ClusterPaused())
	assert.Empty(t, r.p().Champions, "a rollback without a config changes no champion")
}

func TestPausesBlockStartsOnly(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.apply(ev("training_blocked_by_quality", cfg, ""))
	err := r.refuse(ev("training_threshold", cfg, ""), event.CodePaused)
	assert.Equal(t, "hex8_2p is paused for training (quality)", err.Message)
	assert.Equal(t, "high_quality_data_available clears quality", err.Hint)
	r.refuse(ev("training_started", cfg, ""), event.CodePaused)
	r.apply(ev("high_quality_data_available", cfg, ""))
	r.apply(ev("training_threshold", cfg, ""))

	r.apply(ev("training_blocked_by_quality", cfg, ""))
	r.apply(ev("training_threshold", cfg, "")) // training_ready: the no-op has no guard
	r.refuse(ev("training_started", cfg, ""), event.CodePaused)
	r.apply(ev("high_quality_data_available", cfg, ""))

	// Running training and evaluation continue; quality does not block
	// promotion.
	r.apply(ev("training_started", cfg, ""))
	r.apply(ev("regression_severe", cfg, ""))
	r.apply(ev("training_blocked_by_quality", cfg, ""))
	r.applyAll(ev("training_progress", cfg, ""), ev("training_completed", cfg, withModel(model)),
		ev("evaluation_started", cfg, withModel(model)), ev("evaluation_completed", cfg, results(model)),
		ev("promotion_candidate", cfg, withModel(model)))
	assert.Equal(t, []string{flows.PauseQuality, flows.PauseRegression}, r.m.PausedFor(cfg, flows.ForTraining))
	assert.Equal(t, []string{flows.PauseRegression}, r.m.PausedFor(cfg, flows.ForPromotion))
	r.refuse(ev("promotion_started", cfg, withModel(model)), event.CodePaused)
	r.apply(ev("regression_cleared", cfg, ""))
	assert.Empty(t, r.m.PausedFor(cfg, flows.ForPromotion))
	r.apply(ev("model_promoted", cfg, withModel(model)))

	// promotion_hold blocks promotion, not training.
	r.apply(ev("regression_moderate", cfg, ""))
	r.apply(ev("high_quality_data_available", cfg, ""))
	assert.Empty(t, r.m.PausedFor(cfg, flows.ForTraining))
	assert.Equal(t, []string{flows.PausePromotionHold}, r.m.PausedFor(cfg, flows.ForPromotion))
	r.apply(ev("training_started", cfg, ""))
}

func TestBackpressure(t *testing.T) {
	bp := fakeBackpressure{}
	r := newRun(t, flows.Options{Backpressure: bp})
	r.apply(ev("training_blocked_by_quality", cfg, ""))
	bp[cfg] = true
	assert.Equal(t, []string{flows.PauseBackpressure, flows.PauseQuality}, r.m.Paused(cfg), "sorted")
	assert.Empty(t, r.m.Paused("square8_2p"), "the config's scope only")
	err := r.refuse(ev("training_threshold", cfg, ""), event.CodePaused)
	assert.Equal(t, "hex8_2p is paused for training (quality, backpressure)", err.Message)
	assert.Contains(t, err.Hint, "backpressure clears when")
	assert.Empty(t, r.m.PausedFor(cfg, flows.ForPromotion), "backpressure blocks training only")

	bp[cfg] = false
	bp[""] = true
	for _, k := range r.m.PipelineKeys() {
		assert.Contains(t, r.m.Paused(k), flows.PauseBackpressure, "the cluster-wide scope blocks every config")
	}
	r.apply(ev("high_quality_data_available", cfg, ""))
	err = r.refuse(ev("training_started", cfg, ""), event.CodePaused)
	assert.Equal(t, "hex8_2p is paused for training (backpressure)", err.Message)
	bp[""] = false
	r.apply(ev("training_started", cfg, ""))

	// Explain shows it all.
	bp[""] = true
	x := r.m.Explain(cfg)
	assert.Equal(t, flows.Explanation{
		Key: cfg, State: flows.Training,
		Accepts:        []string{"training_completed", "training_early_stopped", "training_failed", "training_progress", "training_rollback_needed"},
		Paused:         []string{flows.PauseBackpressure},
		TrainingPaused: []string{flows.PauseBackpressure},
	}, x)

	// A clone reads the backpressure it is given.
	c := r.m.Clone()
	c.SetBackpressure(nil)
	assert.Empty(t, c.Paused(cfg))
	assert.Equal(t, []string{flows.PauseBackpressure}, r.m.Paused(cfg))
}

func TestNilBackpressureNeverBlocks(t *testing.T) {
	r := newRun(t, flows.Options{Backpressure: nil})
	assert.Empty(t, r.m.Paused(cfg))
	r.apply(ev("training_threshold", cfg, ""))
	require.Equal(t, flows.TrainingReady, r.p().State)
}

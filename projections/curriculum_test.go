package projections_test

import (
	"strings"
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/projections"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func weight(t *testing.T, c *projections.Curriculum, k string) float64 {
	t.Helper()
	w, ok := c.Weight(k)
	require.True(t, ok, "config %s unknown", k)
	return w
}

func TestCurriculumStartsAtOne(t *testing.T) {
	c := projections.NewCurriculum()
	require.Equal(t, event.ConfigKeys(), c.Configs())
	for _, k := range event.ConfigKeys() {
		assert.Equal(t, 1.0, weight(t, c, k))
		assert.Equal(t, 0, c.Tier(k))
	}
	var w, tiers, shares []string
	for _, k := range event.ConfigKeys() {
		w = append(w, `"`+k+`":1.0`)
		tiers = append(tiers, `"`+k+`":0`)
		shares = append(shares, `"`+k+`":0.083`) // 1/12
	}
	want := `{"weights":{` + strings.Join(w, ",") + `},"tiers":{` + strings.Join(tiers, ",") + `},"shares":{` + strings.Join(shares, ",") + `}}`
	assert.Equal(t, want, string(projections.CurriculumJSON(c)))
}

// TestCurriculumRules has one row per rule of the table in projections.md,
// each applied once to a weight of 1.0.
func TestCurriculumRules(t *testing.T) {
	cases := []struct {
		typ, payload string
		want         float64
	}{
		{"model_promoted", `{"model_path":"m"}`, 0.9},
		{"promotion_rejected", `{"model_path":"m","reason":"r"}`, 1.15},
		{"promotion_failed", `{"model_path":"m","error":"e"}`, 1.15},
		{"training_early_stopped", `{}`, 1.3},
		{"opponent_mastered", `{"opponent":"heuristic"}`, 0.9},
		{"regression_moderate", `{}`, 1.1},
		{"regression_severe", `{}`, 1.25},
		{"regression_critical", `{}`, 1.5},
		{"weight_updated", `{"new_weight":1.7}`, 1.7},
		{"curriculum_advanced", `{"new_tier":2}`, 0.9},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			cur := projections.NewCurriculum()
			changed := cur.Apply(mk(t, c.typ, cfg, "", at(0), c.payload))
			assert.True(t, changed)
			assert.Equal(t, c.want, weight(t, cur, cfg))
			assert.Equal(t, 1.0, weight(t, cur, "square8_2p"), "other configs are untouched")
		})
	}
}

func TestCurriculumClampAndRounding(t *testing.T) {
	seq := func(typ, payload string, wants ...float64) {
		t.Helper()
		c := projections.NewCurriculum()
		for i, w := range wants {
			c.Apply(mk(t, typ, cfg, "", at(0), payload))
			assert.Equal(t, w, weight(t, c, cfg), "%s #%d", typ, i+1)
		}
	}
	// the rounded value is the state: no drift below 0.9, 0.8 …
	seq("model_promoted", `{"model_path":"m"}`, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5)
	seq("training_early_stopped", `{}`, 1.3, 1.69, 2.0, 2.0)
	seq("opponent_mastered", `{}`, 0.9, 0.81, 0.729, 0.656, 0.59, 0.531, 0.5)
	seq("regression_critical", `{}`, 1.5, 2.0)
	seq("promotion_rejected", `{"model_path":"m","reason":"r"}`, 1.15, 1.3, 1.45, 1.6, 1.75, 1.9, 2.0)

	c := projections.NewCurriculum()
	for _, tc := range []struct {
		w    string
		want float64
	}{{"5", 2.0}, {"0.1", 0.5}, {"-3", 0.5}, {"1.2344", 1.234}, {"1.2346", 1.235}, {"0.99951", 1.0}} {
		c.Apply(mk(t, "weight_updated", cfg, "", at(0), `{"new_weight":`+tc.w+`}`))
		assert.Equal(t, tc.want, weight(t, c, cfg), "new_weight %s", tc.w)
	}
	// a rule that leaves the weight as it is is no change.
	c.Apply(mk(t, "weight_updated", cfg, "", at(0), `{"new_weight":2}`))
	assert.False(t, c.Apply(mk(t, "training_early_stopped", cfg, "", at(0), `{}`)))
	assert.False(t, c.Apply(mk(t, "weight_updated", cfg, "", at(0), `{"new_weight":2.0004}`)))
}

func TestCurriculumAdvancedUsesTheProjectionsTier(t *testing.T) {
	c := projections.NewCurriculum()
	// old_tier in the payload is not trusted: the projection's tier is 0.
	assert.True(t, c.Apply(mk(t, "curriculum_advanced", cfg, "", at(0), `{"new_tier":2,"old_tier":1}`)))
	assert.Equal(t, 2, c.Tier(cfg))
	assert.Equal(t, 0.9, weight(t, c, cfg))
	// falling is not rising: the tier follows, the weight does not move.
	assert.False(t, c.Apply(mk(t, "curriculum_advanced", cfg, "", at(1), `{"new_tier":1}`)))
	assert.Equal(t, 1, c.Tier(cfg))
	assert.Equal(t, 0.9, weight(t, c, cfg))
	// the alias new_stage; rising 1 → 3 subtracts 0.10.
	assert.True(t, c.Apply(mk(t, "curriculum_advanced", cfg, "", at(2), `{"new_stage":3}`)))
	assert.Equal(t, 3, c.Tier(cfg))
	assert.Equal(t, 0.8, weight(t, c, cfg))
}

func TestCurriculumRebalanced(t *testing.T) {
	c := projections.NewCurriculum()
	changed := c.Apply(mk(t, "curriculum_rebalanced", "", "", at(0),
		`{"weights":{"hex8_2p":0.7,"square8_2":3,"hex8_3p":1.0},"trigger":"model_promoted"}`))
	assert.True(t, changed)
	assert.Equal(t, 0.7, weight(t, c, "hex8_2p"))
	assert.Equal(t, 2.0, weight(t, c, "square8_2p"), "normalised key, clamped value")
	assert.Equal(t, 1.0, weight(t, c, "hex8_3p"))
	// the alias new_weights; the same weights again change nothing.
	assert.False(t, c.Apply(mk(t, "curriculum_rebalanced", "", "", at(1), `{"new_weights":{"hex8_2p":0.7}}`)))
}

func TestCurriculumSharesAndExtendedConfigs(t *testing.T) {
	c := projections.NewCurriculum()
	c.Apply(mk(t, "model_promoted", cfg, "", at(0), `{"model_path":"m"}`))
	s := c.Shares()
	assert.InDelta(t, 0.9/11.9, s[cfg], 1e-15)
	assert.InDelta(t, 1/11.9, s["square8_2p"], 1e-15)
	var sum float64
	for _, v := range s {
		sum += v
	}
	assert.InDelta(t, 1, sum, 1e-12)
	js := string(projections.CurriculumJSON(c))
	assert.Contains(t, js, `"weights":{"hex8_2p":0.9,`)
	assert.Contains(t, js, `"shares":{"hex8_2p":0.076,"hex8_3p":0.084,`)

	// an extended config joins at its first event, at 1.0 / tier 0: no change.
	assert.False(t, c.Apply(mkRaw("new_games", "hexbig_2p", "", at(1), `{"games":1}`)))
	assert.Equal(t, 1.0, weight(t, c, "hexbig_2p"))
	assert.Len(t, c.Configs(), 13)
	requireSortedStrings(t, c.Configs())
	assert.InDelta(t, 1/12.9, c.Shares()["hexbig_2p"], 1e-15)
	assert.Contains(t, string(projections.CurriculumJSON(c)), `"hexbig_2p":1.0,`)
}

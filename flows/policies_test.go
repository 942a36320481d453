package flows_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/flows"
)

// fakeView answers the policies' reads with fixed figures.
type fakeView struct{ ratings map[string]float64 }

func (v fakeView) Rating(_, p string) (float64, bool) { r, ok := v.ratings[p]; return r, ok }
func (v fakeView) ChampionElo(string) (float64, bool) { return 0, false }
func (v fakeView) Velocity(string) (float64, bool, string) {
	return 0, false, "unknown"
}
func (v fakeView) Tier(string) int               { return 0 }
func (v fakeView) AppendWeights(b []byte) []byte { return append(b, "{}"...) }

// TestPromotionStage2HoldsAPostedCandidate: a promotion_candidate that
// reaches candidate while the config is held (posted with the promotion
// policy off, then the policy on) is rejected at stage 2 with gate
// promotion_hold. Fixtures cannot show it: with the policy on, stage 1
// decides on the evaluation and its candidate is applied before anything
// can set a pause.
func TestPromotionStage2HoldsAPostedCandidate(t *testing.T) {
	r := newRun(t, flows.Options{})
	r.applyAll(
		r.next(ev("training_started", cfg, "")),
		r.next(ev("training_completed", cfg, withModel(model))),
		r.next(ev("evaluation_started", cfg, withModel(model))),
		r.next(ev("evaluation_completed", cfg, results(model))),
		r.next(ev("regression_moderate", cfg, "")),
	)
	cand := r.next(ev("promotion_candidate", cfg, withModel(model)))
	ch := r.apply(cand)
	require.Equal(t, flows.Candidate, ch.To)

	pc := flows.PolicyConfig{Enabled: flows.PolicySet(flows.PolicyPromotion), Thresholds: flows.DefaultThresholds()}
	ds := pc.Decide(r.m, flows.NewMemory(), fakeView{ratings: map[string]float64{model: 1600}}, cand, flows.Effects{Change: ch}, nil)
	require.Len(t, ds, 1)
	assert.Equal(t, "promotion_rejected", ds[0].Type)
	assert.Contains(t, string(ds[0].Payload), `"gate":"promotion_hold"`)
	assert.Contains(t, string(ds[0].Payload), "promotion_hold")
	assert.NotContains(t, string(ds[0].Payload), `"actual"`, "promotion_hold has no actual/threshold")

	// the same candidate without the hold is promoted (no champion,
	// combined win rate (48+42.6)/110 = 0.824 ≥ 0.65)
	r2 := newRun(t, flows.Options{})
	r2.applyAll(
		r2.next(ev("training_started", cfg, "")),
		r2.next(ev("training_completed", cfg, withModel(model))),
		r2.next(ev("evaluation_started", cfg, withModel(model))),
		r2.next(ev("evaluation_completed", cfg, results(model))),
	)
	cand = r2.next(ev("promotion_candidate", cfg, withModel(model)))
	ch = r2.apply(cand)
	ds = pc.Decide(r2.m, flows.NewMemory(), fakeView{ratings: map[string]float64{model: 1600}}, cand, flows.Effects{Change: ch}, nil)
	var types []string
	for _, d := range ds {
		types = append(types, d.Type)
	}
	assert.Equal(t, "promotion_started,model_promoted", strings.Join(types, ","))
	assert.Equal(t, `{"model_path":"`+model+`","elo":1600}`, string(ds[1].Payload), "no previous_model or elo_gain without a champion")
}

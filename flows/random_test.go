package flows_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/stretchr/testify/require"
)

// randomEvent draws from every type the machines react to, for few configs,
// nodes and models, so that transitions, refusals, monitoring evaluations
// and pauses all happen. Half of the draws follow the config's flow (an
// event its state accepts, naming its model or champion), so that
// iterations get somewhere.
func randomEvent(rng *rand.Rand, m *flows.Machines) *event.Event {
	keys := []string{cfg, "square8_3p", "octo8_2p", ""}
	models := []string{"", "m1", "m2", "m3"}
	types := append(append([]string{}, pipelineEvents...), recoveryEvents...)
	types = append(types, "new_games", "sync_completed", "sync_failed", "promotion_rolled_back",
		"training_blocked_by_quality", "high_quality_data_available", "regression_severe",
		"regression_moderate", "regression_cleared", "elo_updated")
	typ := types[rng.IntN(len(types))]
	key := keys[rng.IntN(len(keys))]
	model := models[rng.IntN(len(models))]
	if key != "" && rng.IntN(2) == 0 {
		x := m.Explain(key)
		typ = x.Accepts[rng.IntN(len(x.Accepts))]
		if p := m.Pipeline(key); p != nil {
			model = p.Model
			if model == "" || rng.IntN(4) == 0 {
				model = p.Champion()
			}
			if typ == "training_completed" || typ == "training_early_stopped" {
				model = models[1+rng.IntN(3)]
			}
		}
	}
	var payload string
	switch m := model; {
	case typ == "evaluation_completed":
		payload = results(m)
	case typ == "promotion_rolled_back":
		payload = `{"to_model":"` + m + `"}`
	case typ == "new_games":
		payload = fmt.Sprintf(`{"games":%d}`, rng.IntN(50))
	case typ == "recovery_initiated" && rng.IntN(2) == 0:
		payload = fmt.Sprintf(`{"attempt":%d,"action":"a%d"}`, rng.IntN(4), rng.IntN(3))
	case m != "":
		payload = withModel(m)
	}
	e := ev(typ, key, payload)
	if rng.IntN(3) > 0 || slicesContains(recoveryEvents, typ) {
		e.NodeID = []string{"n1", "n2", ""}[rng.IntN(3)]
	}
	return e
}

func slicesContains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// TestRandomStreams folds random streams in both modes and checks, at every
// step, that Check answers what Apply does, that the fsm and the pipelines
// agree on states, and from time to time that a checkpoint and a clone equal
// the live state and go on alike.
func TestRandomStreams(t *testing.T) {
	for _, mode := range []flows.Enforcement{flows.Strict, flows.Lenient} {
		for seed := uint64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("%s/%d", mode, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 42))
				o := flows.Options{Enforcement: mode, HistoryLimit: 3, Backpressure: fakeBackpressure{"square8_3p": true}}
				r := newRun(t, o)
				var twin *flows.Machines
				accepted, refused, violations, outcomes, monitoring := 0, 0, 0, 0, 0
				for i := range 3000 {
					e := r.next(randomEvent(rng, r.m))
					checked := r.m.Check(e)
					c, err := r.m.Apply(e)
					require.Equal(t, checked, err, "step %d: Check answers what Apply does for %s", i, e.Type)
					if err != nil {
						refused++
					} else if c.Violation {
						violations++
						require.NotNil(t, c.Refusal)
					} else {
						accepted++
						if c.Outcome != nil {
							outcomes++
						}
						if c.Monitoring {
							monitoring++
						}
					}
					if twin != nil {
						_, terr := twin.Apply(e)
						require.Equal(t, err, terr, "step %d", i)
					}
					for _, k := range r.m.PipelineKeys() {
						require.Equal(t, r.m.Pipeline(k).State, r.m.Explain(k).State, "step %d %s", i, k)
						for _, a := range []flows.Activity{flows.ForTraining, flows.ForPromotion} {
							require.Equal(t, len(r.m.PausedFor(k, a)) > 0, r.m.Blocked(k, a), "step %d %s %s", i, k, a)
						}
					}
					known, failing := 0, 0
					for _, k := range r.m.NodeKeys() {
						n := r.m.Node(k)
						require.Equal(t, n.State, r.m.ExplainNode(k).State, "step %d %s", i, k)
						if n.Known {
							known++
							if n.Failing() {
								failing++
							}
						}
					}
					gotKnown, gotFailing := r.m.NodeCounts()
					require.Equal(t, [2]int{known, failing}, [2]int{gotKnown, gotFailing}, "step %d: node counts kept as nodes change", i)
					if twin != nil {
						tk, tf := twin.NodeCounts()
						require.Equal(t, [2]int{known, failing}, [2]int{tk, tf}, "step %d: counts of a clone or restored copy", i)
					}
					if i%500 == 250 {
						data, err := json.Marshal(r.m)
						require.NoError(t, err)
						restored := flows.New(o)
						require.NoError(t, json.Unmarshal(data, restored))
						require.Equal(t, snapshot(t, r.m), snapshot(t, restored), "step %d", i)
						twin = restored
					}
					if i%500 == 499 {
						require.Equal(t, snapshot(t, r.m), snapshot(t, twin), "step %d: restored at 250 and went on alike", i)
						twin = r.m.Clone()
					}
				}
				require.Positive(t, accepted)
				require.Positive(t, outcomes, "iterations end")
				require.Positive(t, monitoring, "champions get re-checked")
				if mode == flows.Strict {
					require.Positive(t, refused)
				} else {
					require.Positive(t, violations)
				}
			})
		}
	}
}

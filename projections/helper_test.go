package projections_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// at returns t0 plus h hours.
func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

// mk builds an event and validates it as the journal would (aliases and the
// lifted config key included), so tests only feed events the schema accepts.
func mk(tb testing.TB, typ, config, node string, when time.Time, payload string) *event.Event {
	tb.Helper()
	if payload == "" {
		payload = "{}"
	}
	e := &event.Event{Type: typ, ConfigKey: config, NodeID: node, Time: event.Millis(when), Payload: json.RawMessage(payload)}
	if err := event.Validate(e); err != nil {
		tb.Fatalf("test event %s %s is invalid: %v", typ, payload, err)
	}
	return e
}

// evalPayload is an evaluation_completed payload with opponents given as
// name, games, win rate triples.
func evalPayload(model string, elo *float64, opps ...any) string {
	m := map[string]any{}
	for i := 0; i+2 < len(opps); i += 3 {
		m[opps[i].(string)] = map[string]any{"games": opps[i+1], "win_rate": opps[i+2]}
	}
	p := map[string]any{"model_path": model, "opponents": m}
	if elo != nil {
		p["elo"] = *elo
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func ptr(x float64) *float64 { return &x }

// expected is Σ n·E(r, Rₒ), computed independently of the package.
func expected(r float64, opps map[float64]float64) float64 {
	var s float64
	for ro, n := range opps {
		s += n / (1 + math.Pow(10, (ro-r)/400))
	}
	return s
}

// gen generates n events of a fresh generator (see generator).
func gen(tb testing.TB, n int, seed uint64) []*event.Event {
	tb.Helper()
	return newGenerator(seed).next(n)
}

// generator makes a realistic stream of events: mostly self-play and sync
// traffic, heartbeats and health checks, with training, evaluation,
// promotion, curriculum and backpressure events mixed in; about 5% are
// evaluations. Times advance half a second per event with occasional
// backwards jumps (skewed producer clocks). Successive calls of next continue
// the same stream.
type generator struct {
	r    *rand.Rand
	iter map[string]int
	now  time.Time
}

func newGenerator(seed uint64) *generator {
	return &generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), iter: map[string]int{}, now: t0}
}

var (
	genKeys    = append(event.ConfigKeys(), "hexbig_2p")
	genNodes   = []string{"gpu-1", "gpu-2", "gpu-3", "gpu-4", "cpu-1"}
	genDaemons = []string{"DataPipeline", "SelfplayScheduler", "EvaluationDaemon"}
	genLevels  = []string{"none", "soft", "hard", "stop", "low", "medium", "high", "critical"}
)

func (g *generator) next(n int) []*event.Event {
	r, iter := g.r, g.iter
	keys, nodes, daemons, levels := genKeys, genNodes, genDaemons, genLevels
	out := make([]*event.Event, 0, n)
	for len(out) < n {
		g.now = g.now.Add(500 * time.Millisecond)
		when := g.now
		if r.IntN(100) == 0 {
			when = g.now.Add(-time.Duration(r.IntN(3600)) * time.Second)
		}
		k := keys[r.IntN(len(keys))]
		node := nodes[r.IntN(len(nodes))]
		model := func() string { return fmt.Sprintf("models/%s/iter_%04d.pth", k, iter[k]) }
		var e *event.Event
		switch x := r.IntN(1000); {
		case x < 300:
			e = mkRaw("new_games", k, "", when, fmt.Sprintf(`{"games":%d}`, 1+r.IntN(200)))
		case x < 400:
			e = mkRaw("selfplay_complete", k, "", when, fmt.Sprintf(`{"games":%d}`, 1+r.IntN(500)))
		case x < 450:
			e = mkRaw("sync_completed", "", "", when, `{}`)
		case x < 540:
			e = mkRaw("training_progress", k, "", when, fmt.Sprintf(`{"epoch":%d,"loss":%g}`, r.IntN(50), r.Float64()))
		case x < 640:
			e = mkRaw("coordinator_heartbeat", "", "", when, fmt.Sprintf(`{"daemon":%q}`, daemons[r.IntN(len(daemons))]))
		case x < 700:
			e = mkRaw("health_check_passed", "", node, when, `{}`)
		case x < 740:
			e = mkRaw("health_check_failed", "", node, when, `{"reason":"timeout"}`)
		case x < 790:
			e = mkRaw("evaluation_progress", k, "", when, fmt.Sprintf(`{"model_path":%q}`, model()))
		case x < 840:
			var elo *float64
			if r.IntN(4) == 0 {
				elo = ptr(1300 + 600*r.Float64())
			}
			opps := []any{"heuristic", 50 + r.IntN(50), r.Float64(), "random", 50 + r.IntN(50), r.Float64()}
			if r.IntN(2) == 0 {
				opps = append([]any{"champion", 100 + r.IntN(100), r.Float64()}, opps...)
			}
			if r.IntN(5) == 0 && iter[k] > 1 {
				opps = append(opps, fmt.Sprintf("models/%s/iter_%04d.pth", k, iter[k]-1), 40, r.Float64())
			}
			e = mkRaw("evaluation_completed", k, "", when, evalPayload(model(), elo, opps...))
		case x < 860:
			iter[k]++
			e = mkRaw("training_completed", k, "", when, fmt.Sprintf(`{"model_path":%q}`, model()))
		case x < 870:
			e = mkRaw("model_promoted", k, "", when, fmt.Sprintf(`{"model_path":%q}`, model()))
		case x < 880:
			e = mkRaw("promotion_rejected", k, "", when, fmt.Sprintf(`{"model_path":%q,"reason":"gate"}`, model()))
		case x < 885:
			e = mkRaw("promotion_rolled_back", k, "", when, fmt.Sprintf(`{"to_model":"models/%s/iter_%04d.pth"}`, k, max(0, iter[k]-2)))
		case x < 900:
			e = mkRaw("backpressure_activated", pick(r, k, ""), "", when, fmt.Sprintf(`{"level":%q}`, levels[r.IntN(len(levels))]))
		case x < 910:
			e = mkRaw("backpressure_released", pick(r, k, ""), "", when, `{}`)
		case x < 925:
			e = mkRaw([]string{"daemon_started", "daemon_stopped", "daemon_status_changed"}[r.IntN(3)], "", "", when,
				fmt.Sprintf(`{"name":%q,"status":"degraded"}`, daemons[r.IntN(len(daemons))]))
		case x < 935:
			e = mkRaw("elo_updated", k, "", when, fmt.Sprintf(`{"model_id":%q,"new_elo":%g}`, model(), 1000+1000*r.Float64()))
		case x < 940:
			e = mkRaw("curriculum_advanced", k, "", when, fmt.Sprintf(`{"new_tier":%d}`, r.IntN(4)))
		case x < 945:
			e = mkRaw("weight_updated", k, "", when, fmt.Sprintf(`{"new_weight":%g}`, 2.5*r.Float64()))
		case x < 955:
			e = mkRaw([]string{"regression_moderate", "regression_severe", "regression_critical", "opponent_mastered", "training_early_stopped", "promotion_failed"}[r.IntN(6)],
				k, "", when, `{"model_path":"m","error":"x"}`)
		case x < 960:
			e = mkRaw("curriculum_rebalanced", "", "", when, fmt.Sprintf(`{"weights":{%q:%g,"hex8_3p":%g}}`, k, 2*r.Float64(), 2*r.Float64()))
		case x < 970:
			e = mkRaw("disk_space_low", "", node, when, `{}`)
		case x < 975:
			e = mkRaw("host_online", "", node, when, `{}`)
		case x < 985:
			e = mkRaw([]string{"leader_elected", "leader_stepdown", "leader_lost"}[r.IntN(3)], "", node, when, `{}`)
		default:
			e = mkRaw("training_started", k, "", when, `{}`)
		}
		out = append(out, e)
	}
	return out
}

func pick(r *rand.Rand, a, b string) string {
	if r.IntN(2) == 0 {
		return a
	}
	return b
}

// extended accepts the extra board hexbig.
var extended = event.NewValidator(64<<10, "hexbig")

// mkRaw builds an event without a testing.TB, validated as by a daemon with
// the extended board hexbig.
func mkRaw(typ, config, node string, when time.Time, payload string) *event.Event {
	e := &event.Event{Type: typ, ConfigKey: config, NodeID: node, Time: event.Millis(when), Payload: json.RawMessage(payload)}
	if err := extended.Validate(e); err != nil {
		panic(fmt.Sprintf("generated event %s %s is invalid: %v", typ, payload, err))
	}
	return e
}

// naiveVelocity is the velocity of projections.md computed from scratch: the
// points (append order) whose time is no more than 72 h before the last
// appended one, a two-pass least-squares slope in Elo per hour.
func naiveVelocity(ts []time.Time, ys []float64) (v float64, ok bool, points int) {
	if len(ts) == 0 {
		return 0, false, 0
	}
	last := ts[len(ts)-1]
	var xs, ws []float64
	var tmin, tmax time.Time
	for i, t := range ts {
		if t.Before(last.Add(-72 * time.Hour)) {
			continue
		}
		if len(xs) == 0 || t.Before(tmin) {
			tmin = t
		}
		if len(xs) == 0 || t.After(tmax) {
			tmax = t
		}
		xs = append(xs, t.Sub(t0).Hours())
		ws = append(ws, ys[i])
	}
	points = len(xs)
	if points < 3 || tmax.Sub(tmin) < 6*time.Minute {
		return 0, false, points
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ws[i]
	}
	mx /= float64(points)
	my /= float64(points)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ws[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	return num / den, true, points
}

func requireSortedStrings(t *testing.T, ss []string) {
	t.Helper()
	require.True(t, slices.IsSorted(ss), "not sorted: %v", ss)
}

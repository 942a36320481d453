// Package gen generates random but plausible event streams for tests and
// benchmarks: every canonical config walking its pipeline (data, sync,
// training, evaluation, promotion or rejection, regressions), nodes failing
// and recovering, backpressure, curriculum and daemon traffic — with a share
// of bad events mixed in (unknown types, bad config keys, events the state
// machines refuse). The same seed gives the same stream.
package gen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ringrift/ringriftd/event"
)

// Options tune a generator.
type Options struct {
	Seed  uint64
	Start time.Time
	Nodes int // default 24
	// BadShare is the share of events that are wrong on purpose (default
	// 0.02): refused by validation or by the state machines.
	BadShare float64
	// Step is the time between events (default 1s).
	Step time.Duration
}

// Generator produces events one at a time.
type Generator struct {
	o       Options
	r       *rand.Rand
	now     time.Time
	configs []string
	phase   map[string]int // config → position in its iteration script
	iter    map[string]int
	nodes   []string
	n       int
}

// New returns a generator.
func New(o Options) *Generator {
	if o.Nodes <= 0 {
		o.Nodes = 24
	}
	if o.BadShare == 0 {
		o.BadShare = 0.02
	}
	if o.Step <= 0 {
		o.Step = time.Second
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	g := &Generator{o: o, r: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), now: o.Start,
		configs: event.ConfigKeys(), phase: map[string]int{}, iter: map[string]int{}}
	for i := 0; i < o.Nodes; i++ {
		g.nodes = append(g.nodes, fmt.Sprintf("gpu-%02d", i))
	}
	return g
}

// Next returns the next event (not validated; bad ones are meant to be
// refused).
func (g *Generator) Next() event.Event {
	g.n++
	g.now = g.now.Add(g.o.Step)
	if g.r.Float64() < g.o.BadShare {
		return g.bad()
	}
	switch x := g.r.IntN(100); {
	case x < 45:
		return g.pipeline(g.configs[g.r.IntN(len(g.configs))])
	case x < 60:
		return g.health()
	case x < 70:
		return g.mk("new_games", g.configs[g.r.IntN(len(g.configs))], "", fmt.Sprintf(`{"games":%d}`, 1+g.r.IntN(20)))
	case x < 75:
		return g.mk("sync_completed", "", "", `{}`)
	case x < 80:
		return g.mk("coordinator_heartbeat", "", "", fmt.Sprintf(`{"daemon":"daemon-%d"}`, g.r.IntN(5)))
	case x < 83:
		levels := []string{"none", "soft", "hard", "low", "high", "none"}
		cfg := ""
		if g.r.IntN(2) == 0 {
			cfg = g.configs[g.r.IntN(len(g.configs))]
		}
		return g.mk("backpressure_activated", cfg, "", fmt.Sprintf(`{"level":%q}`, levels[g.r.IntN(len(levels))]))
	case x < 85:
		return g.mk("backpressure_released", "", "", `{}`)
	case x < 88:
		return g.mk("opponent_mastered", g.configs[g.r.IntN(len(g.configs))], "", `{"opponent":"heuristic"}`)
	case x < 90:
		cfg := g.configs[g.r.IntN(len(g.configs))]
		return g.mk("elo_updated", cfg, "", fmt.Sprintf(`{"participant":"%s/old_%d","elo":%d}`, cfg, g.r.IntN(5), 1200+g.r.IntN(600)))
	case x < 92:
		cfg := g.configs[g.r.IntN(len(g.configs))]
		if g.r.IntN(2) == 0 {
			return g.mk("training_blocked_by_quality", cfg, "", `{"quality_score":0.4,"threshold":0.6}`)
		}
		return g.mk("high_quality_data_available", cfg, "", `{}`)
	case x < 94:
		cfg := g.configs[g.r.IntN(len(g.configs))]
		sev := []string{"regression_minor", "regression_moderate", "regression_severe", "regression_cleared"}[g.r.IntN(4)]
		return g.mk(sev, cfg, "", `{"elo_drop":40}`)
	default:
		return g.mk("work_queued", "", "", fmt.Sprintf(`{"work_id":"w-%d"}`, g.n))
	}
}

// script is one iteration of a config's pipeline, in order.
var script = []string{"sync_completed", "training_threshold", "training_started", "training_progress",
	"training_completed", "evaluation_started", "evaluation_completed", "outcome"}

func (g *Generator) pipeline(cfg string) event.Event {
	it := g.iter[cfg]
	model := fmt.Sprintf("models/%s/iter_%04d.pth", cfg, it)
	step := script[g.phase[cfg]]
	g.phase[cfg] = (g.phase[cfg] + 1) % len(script)
	switch step {
	case "sync_completed":
		return g.mk("sync_completed", cfg, "", `{}`)
	case "training_threshold":
		return g.mk("training_threshold", cfg, "", `{"games":60,"reason":"games_threshold"}`)
	case "training_started":
		return g.mk("training_started", cfg, "", fmt.Sprintf(`{"job_id":"job-%d"}`, g.n))
	case "training_progress":
		return g.mk("training_progress", cfg, "", fmt.Sprintf(`{"epoch":%d,"loss":%.3f}`, g.r.IntN(50), g.r.Float64()))
	case "training_completed":
		if g.r.IntN(20) == 0 {
			g.phase[cfg] = 0
			return g.mk("training_failed", cfg, "", `{"error":"cuda oom"}`)
		}
		return g.mk("training_completed", cfg, "", fmt.Sprintf(`{"model_path":%q,"final_loss":0.3}`, model))
	case "evaluation_started":
		return g.mk("evaluation_started", cfg, "", fmt.Sprintf(`{"model_path":%q}`, model))
	case "evaluation_completed":
		wr := 0.5 + g.r.Float64()/2
		return g.mk("evaluation_completed", cfg, "", fmt.Sprintf(
			`{"model_path":%q,"opponents":{"random":{"games":50,"win_rate":%.3f},"heuristic":{"games":50,"win_rate":%.3f}}}`,
			model, min(1, wr+0.2), wr))
	default:
		g.iter[cfg]++
		g.phase[cfg] = 0
		if g.r.IntN(3) == 0 {
			return g.mk("promotion_rejected", cfg, "", fmt.Sprintf(`{"model_path":%q,"reason":"win rate","gate":"win_rate_heuristic"}`, model))
		}
		return g.mk("model_promoted", cfg, "", fmt.Sprintf(`{"model_path":%q}`, model))
	}
}

func (g *Generator) health() event.Event {
	node := g.nodes[g.r.IntN(len(g.nodes))]
	types := []string{"health_check_passed", "health_check_passed", "health_check_failed", "health_check_failed",
		"node_unhealthy", "recovery_initiated", "recovery_completed", "recovery_failed", "host_online", "host_offline",
		"disk_space_low", "leader_elected"}
	t := types[g.r.IntN(len(types))]
	payload := `{}`
	if t == "recovery_initiated" {
		payload = `{"action":"restart_daemon"}`
	}
	return g.mk(t, "", node, payload)
}

func (g *Generator) bad() event.Event {
	cfg := g.configs[g.r.IntN(len(g.configs))]
	switch g.r.IntN(4) {
	case 0:
		return g.mk("training_complete", cfg, "", `{}`) // unknown type
	case 1:
		return g.mk("new_games", "hex9_2p", "", `{"games":3}`) // bad config key
	case 2:
		return g.mk("promotion_started", cfg, "", `{"model_path":"models/phantom.pth"}`) // flow violation
	default:
		return g.mk("training_completed", cfg, "", `{}`) // missing model_path
	}
}

func (g *Generator) mk(typ, cfg, node, payload string) event.Event {
	return event.Event{Type: typ, ConfigKey: cfg, NodeID: node, Source: "gen", Time: g.now, Payload: []byte(payload)}
}

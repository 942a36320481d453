package flows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/fsm"
)

// The budget these benchmarks are compared with: the whole rebuild (decode,
// machines, four projections) at ≥ 1,000,000 events/s (replay.md), so the
// machines get a fraction of 1 µs per event.

// cycle is one iteration of config key, with model m, as the cluster emits
// it: self-play games, syncs, training with progress, evaluation with
// progress, a monitoring evaluation of the champion (when there is one),
// promotion, node health checks and events of no machine.
func cycle(key, m, champion string, nodes []string) []*event.Event {
	var out []*event.Event
	add := func(e *event.Event) { out = append(out, e) }
	for i := range 20 {
		add(ev("new_games", key, `{"games":5,"source_node":"gpu-3"}`))
		if i%4 == 0 {
			add(nev("health_check_passed", nodes[i%len(nodes)], `{"reason":"ok"}`))
			add(ev("work_completed", key, `{"work_id":"w-1234","duration_s":12.5}`))
		}
	}
	add(ev("sync_completed", key, `{"files":12}`))
	add(ev("training_threshold", key, `{"games":100,"reason":"games_threshold"}`))
	add(ev("training_started", key, `{"job_id":"job-77"}`))
	for i := range 10 {
		add(ev("training_progress", key, fmt.Sprintf(`{"epoch":%d,"loss":0.%d5}`, i, i)))
	}
	add(ev("training_completed", key, `{"model_path":"`+m+`","final_loss":0.031,"epochs":50}`))
	add(ev("evaluation_started", key, withModel(m)))
	for range 3 {
		add(ev("evaluation_progress", key, `{"model_path":"`+m+`","games_done":40}`))
	}
	if champion != "" {
		add(ev("evaluation_completed", key, results(champion)))
	}
	add(ev("evaluation_completed", key, results(m)))
	add(ev("elo_updated", key, `{"participant":"`+m+`","elo":1612.5}`))
	add(ev("promotion_candidate", key, withModel(m)))
	add(ev("promotion_started", key, withModel(m)))
	add(ev("model_promoted", key, `{"model_path":"`+m+`","elo":1612.5}`))
	return out
}

// interleave merges per-config streams round robin, as concurrent configs
// reach the journal.
func interleave(streams [][]*event.Event) []*event.Event {
	var out []*event.Event
	for i := 0; ; i++ {
		more := false
		for _, s := range streams {
			if i < len(s) {
				out = append(out, s[i])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

// mix returns a priming stream (one promotion per config) and a stream that
// can be replayed forever after it.
func mix() (prime, loop []*event.Event) {
	nodes := []string{"gpu-1", "gpu-2", "gpu-3", "gpu-4", "gpu-5", "gpu-6", "gpu-7", "gpu-8"}
	var p, l [][]*event.Event
	for _, k := range event.ConfigKeys() {
		a, b := "models/"+k+"/iter_a.pth", "models/"+k+"/iter_b.pth"
		p = append(p, cycle(k, b, "", nodes))
		l = append(l, append(cycle(k, a, b, nodes), cycle(k, b, a, nodes)...))
	}
	loop = interleave(l)
	loop = append(loop, ev("sync_completed", "", ""), ev("sync_failed", "", `{"error":"timeout"}`))
	return interleave(p), loop
}

// BenchmarkApply folds a realistic mix of events (about 60 per config
// iteration, a third of them transition events) into strict Machines with
// the daemon's history limit; ns/op is per event.
func BenchmarkApply(b *testing.B) {
	for _, limit := range []int{0, fsm.DefaultHistoryLimit} {
		b.Run(fmt.Sprintf("history=%d", limit), func(b *testing.B) {
			m := flows.New(flows.Options{HistoryLimit: limit, Backpressure: fakeBackpressure{}})
			prime, loop := mix()
			t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
			var seq uint64
			for _, e := range prime {
				seq++
				e.Seq, e.Time = seq, t0
				if _, err := m.Apply(e); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e := loop[i%len(loop)]
				seq++
				e.Seq = seq
				if _, err := m.Apply(e); err != nil {
					b.Fatalf("%s %s: %v", e.Type, e.ConfigKey, err)
				}
			}
		})
	}
}

// BenchmarkCheck measures Check on a refused and an accepted event.
func BenchmarkCheck(b *testing.B) {
	m := flows.New(flows.Options{})
	accepted := ev("training_threshold", cfg, `{"games":100}`)
	refused := ev("training_completed", cfg, withModel(model))
	b.Run("accepted", func(b *testing.B) {
		for b.Loop() {
			if m.Check(accepted) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		for b.Loop() {
			if m.Check(refused) == nil {
				b.Fatal("accepted")
			}
		}
	})
}

// BenchmarkClone measures a Clone of twelve configs and eight nodes, the
// cost of an atomic batch's rollback point.
func BenchmarkClone(b *testing.B) {
	m := flows.New(flows.Options{HistoryLimit: fsm.DefaultHistoryLimit})
	prime, _ := mix()
	for i, e := range prime {
		e.Seq = uint64(i + 1)
		if _, err := m.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Clone()
	}
}

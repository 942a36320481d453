package projections_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/projections"
)

// foldBudgetNs is the limit the folds are measured against: all the folds of
// one event, on average, over a 1M-event journal.
const foldBudgetNs = 300

// journal is a generated 1M-event journal (≈50k evaluations), made once
// for all benchmarks.
var journal = sync.OnceValue(func() []*event.Event { return newGenerator(7).next(1_000_000) })

// benchFold measures a fold in steady state with warm events, as the
// engine folds an event it has just decoded: a ring of 4096 generated events
// is fed again and again, each lap shifted in time by the ring's span (timer
// stopped) so that the stream goes on in time order; it reports ns per event
// beside the budget.
func benchFold(b *testing.B, apply func(*event.Event)) {
	ring := newGenerator(42).next(4096)
	span := ring[len(ring)-1].Time.Sub(ring[0].Time) + time.Second
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == len(ring) {
			b.StopTimer()
			for _, ev := range ring {
				ev.Time = ev.Time.Add(span)
			}
			j = 0
			b.StartTimer()
		}
		apply(ring[j])
	}
	b.ReportMetric(foldBudgetNs, "budget-ns/event")
}

func BenchmarkEloApply(b *testing.B) {
	e := projections.NewElo()
	benchFold(b, func(ev *event.Event) { e.Apply(ev) })
}

func BenchmarkCurriculumApply(b *testing.B) {
	c := projections.NewCurriculum()
	benchFold(b, func(ev *event.Event) { c.Apply(ev) })
}

func BenchmarkHealthApply(b *testing.B) {
	h := projections.NewHealth()
	benchFold(b, func(ev *event.Event) { h.Apply(ev) })
}

// BenchmarkFoldAll is the three folds of this package on each event.
func BenchmarkFoldAll(b *testing.B) {
	f := newFolds()
	benchFold(b, func(ev *event.Event) {
		f.elo.Apply(ev)
		f.curriculum.Apply(ev)
		f.health.Apply(ev)
	})
}

// BenchmarkJournal1M folds the whole 1M-event journal per iteration and
// reports the average per event. The events sit cold in a ~0.5 GB heap, so
// this includes the cache misses of reading them; benchFold is the warm
// figure.
func BenchmarkJournal1M(b *testing.B) {
	evs := journal()
	runtime.GC()
	b.ResetTimer()
	var f *folds
	for i := 0; i < b.N; i++ {
		f = newFolds()
		f.apply(evs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)), "ns/event")
	b.ReportMetric(foldBudgetNs, "budget-ns/event")
	b.ReportMetric(float64(f.elo.Velocity(cfg).Points), "window-points")
}

// BenchmarkEloClone measures the rollback copy after a 1M-event journal.
func BenchmarkEloClone(b *testing.B) {
	e := projections.NewElo()
	for _, ev := range journal() {
		e.Apply(ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = e.Clone()
	}
}

// BenchmarkRender writes the three projections of this package and the
// pipelines after a 100k-event journal.
func BenchmarkRender(b *testing.B) {
	f := newFolds()
	f.apply(newGenerator(9).next(100_000))
	keys := event.ConfigKeys()
	p := &flows.Pipeline{State: flows.Evaluating, Iteration: 7, Model: "models/x/iter_0007.pth", Champions: []string{"models/x/iter_0005.pth"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = projections.EloJSON(f.elo)
		_ = projections.CurriculumJSON(f.curriculum)
		_ = projections.HealthJSON(f.health, "healthy", nil, func(string) *flows.Node { return nil })
		_ = projections.PipelinesJSON(keys, func(string) *flows.Pipeline { return p }, nil)
	}
}

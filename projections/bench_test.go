package projections_test

import (
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/projections"
)

// foldBudgetNs is the limit the folds are measured against: all the folds of
// one event, on average, over a 1M-event journal.
const foldBudgetNs = 300

// benchFold feeds b.N events of one continuing realistic stream (generated
// in chunks with the timer stopped) to apply and reports ns per event beside
// the budget.
func benchFold(b *testing.B, apply func(*event.Event)) {
	g := newGenerator(42)
	const chunk = 256 // folded right after generation, as the engine folds a decoded event
	var evs []*event.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(evs) == 0 {
			b.StopTimer()
			evs = g.next(min(chunk, b.N-i))
			b.StartTimer()
		}
		apply(evs[0])
		evs = evs[1:]
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

// BenchmarkJournal1M folds a whole 1M-event journal (≈50k evaluation
// points) per iteration, generated in small chunks with the timer stopped,
// and reports the average per event.
func BenchmarkJournal1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M events")
	}
	const n, chunk = 1_000_000, 256
	var f *folds
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f = newFolds()
		g := newGenerator(7)
		for left := n; left > 0; left -= chunk {
			b.StopTimer()
			evs := g.next(min(left, chunk))
			b.StartTimer()
			f.apply(evs)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
	b.ReportMetric(foldBudgetNs, "budget-ns/event")
	b.ReportMetric(float64(f.elo.Velocity(cfg).Points), "window-points")
}

// BenchmarkEloClone measures the rollback copy after a 1M-event journal.
func BenchmarkEloClone(b *testing.B) {
	if testing.Short() {
		b.Skip("1M events")
	}
	e := projections.NewElo()
	g := newGenerator(7)
	for range 16 {
		for _, ev := range g.next(1 << 16) {
			e.Apply(ev)
		}
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
		_ = projections.HealthJSON(f.health, nil, func(string) *flows.Node { return nil })
		_ = projections.PipelinesJSON(keys, func(string) *flows.Pipeline { return p }, nil)
	}
}

// BenchmarkNoop is the harness alone: what benchFold costs around a fold.
func BenchmarkNoop(b *testing.B) {
	n := 0
	benchFold(b, func(ev *event.Event) { n += len(ev.Type) })
}

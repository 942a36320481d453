package engine_test

import (
	"math/rand/v2"
	"testing"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
)

// benchAdmit feeds generated events through Begin/Admit/Commit, as the
// sequencer does for one-event appends, and reports the cost per event.
func benchAdmit(b *testing.B, pol flows.PolicySet) { benchAdmitWindow(b, pol, 1) }

// benchAdmitWindow is benchAdmit with the events shuffled within windows of
// window events, as 64 concurrent appenders reorder them (the sequencer
// bench): many more are refused by the machines.
func benchAdmitWindow(b *testing.B, pol flows.PolicySet, window int) {
	g := gen.New(gen.Options{Seed: 5})
	evs := make([]event.Event, 1<<16)
	for i := range evs {
		evs[i] = g.Next()
		if event.Validate(&evs[i]) != nil {
			evs[i] = event.Event{Type: "sync_started", Payload: []byte("{}")}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(evs); i += window {
		w := evs[i:min(i+window, len(evs))]
		r.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	eng := engine.New(engine.Options{Policies: flows.PolicyConfig{Enabled: pol}})
	b.ReportAllocs()
	b.ResetTimer()
	var seq uint64
	for i := 0; i < b.N; i++ {
		e := evs[i%len(evs)]
		seq++
		e.Seq = seq
		eng.Begin(false)
		ds, err := eng.Admit(&e)
		if err == nil {
			seq += uint64(len(ds))
			eng.Commit()
		} else {
			seq--
			eng.Commit()
		}
	}
}

func BenchmarkAdmitPoliciesOff(b *testing.B) { benchAdmit(b, 0) }
func BenchmarkAdmitPoliciesOn(b *testing.B)  { benchAdmit(b, flows.AllPolicies) }
func BenchmarkAdmitShuffled(b *testing.B)    { benchAdmitWindow(b, 0, 64) }

// BenchmarkFold folds a journal as a rebuild does: the events a live
// engine with the default policies accepted, and its decisions.
func BenchmarkFold(b *testing.B) {
	g := gen.New(gen.Options{Seed: 7})
	live := engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
	var journal []event.Event
	for len(journal) < 1<<16 {
		e := g.Next()
		if event.Validate(&e) != nil {
			continue
		}
		e.Seq = uint64(len(journal) + 1)
		live.Begin(false)
		ds, err := live.Admit(&e)
		live.Commit()
		if err == nil {
			journal = append(journal, e)
			journal = append(journal, ds...)
		}
	}
	eng := engine.New(engine.Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(journal) == 0 && i > 0 {
			b.StopTimer()
			eng = engine.New(engine.Options{})
			b.StartTimer()
		}
		eng.Fold(&journal[i%len(journal)])
	}
}

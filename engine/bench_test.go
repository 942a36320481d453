package engine_test

import (
	"testing"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
)

// benchAdmit feeds generated events through Begin/Admit/Commit, as the
// sequencer does for one-event appends, and reports the cost per event.
func benchAdmit(b *testing.B, pol flows.PolicySet) {
	g := gen.New(gen.Options{Seed: 5})
	evs := make([]event.Event, 1<<16)
	for i := range evs {
		evs[i] = g.Next()
		if event.Validate(&evs[i]) != nil {
			evs[i] = event.Event{Type: "sync_started", Payload: []byte("{}")}
		}
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

package fsm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	lfsm "github.com/looplab/fsm"
	"github.com/ringrift/ringriftd/fsm"
)

// The figures are compared with the rebuild budget of replay.md: the whole
// rebuild (decode, machines, four projections) at ≥ 1,000,000 events/s, so
// the machines get a few hundred nanoseconds per event at most.

// benchCycle is a realistic cycle of the example definition: it returns to
// its first state, so it can repeat forever.
var benchCycle = []string{"start", "tick", "tick", "finish/ok", "reset"}

// BenchmarkLooplabEvent measures looplab's own Event (what Apply would cost
// without the table): one keyed FSM, the cycle above.
func BenchmarkLooplabEvent(b *testing.B) {
	def := exampleDefinition()
	f := lfsm.NewFSM(def.Initial, def.LooplabEvents(), nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		err := f.Event(ctx, benchCycle[i%len(benchCycle)])
		var nt lfsm.NoTransitionError
		if err != nil && !errors.As(err, &nt) {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply measures Machine.Apply, the table path, over 12 keys with
// the default history limit.
func BenchmarkApply(b *testing.B) {
	for _, limit := range []int{0, fsm.DefaultHistoryLimit} {
		b.Run(map[int]string{0: "history=0", fsm.DefaultHistoryLimit: "history=64"}[limit], func(b *testing.B) {
			m := fsm.MustNew(exampleDefinition())
			m.SetHistoryLimit(limit)
			keys := []string{"k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11"}
			t0 := time.Unix(1_800_000_000, 0).UTC()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				key := keys[i%len(keys)]
				ev := benchCycle[(i/len(keys))%len(benchCycle)]
				if _, err := m.Apply(key, ev, uint64(i), t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

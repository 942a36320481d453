package engine_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
)

// FuzzRebuildEqualsLive drives the live engine through the journal with a
// stream the fuzzer shapes — generated events (a share of them bad), resends
// of earlier events, atomic and non-atomic batch boundaries, policies on or
// off, strict or lenient — and requires that folding the journal from
// scratch, and from a checkpoint taken half way, gives byte-identical
// projections.
func FuzzRebuildEqualsLive(f *testing.F) {
	f.Add(uint64(1), []byte("\x03\x04\x05\x00\x06\x07\x02\x01\x03\x03\x03\x00"), uint8(0))
	f.Add(uint64(7), []byte("\x05\x05\x05\x05\x05\x05\x05\x05\x01\x0a\x12\x00"), uint8(1))
	f.Add(uint64(42), []byte("\x07\x06\x05\x04\x03\x02\x01\x00\x07\x06\x05\x04"), uint8(7))
	f.Fuzz(func(t *testing.T, seed uint64, script []byte, flags uint8) {
		if len(script) > 600 {
			script = script[:600]
		}
		var pol flows.PolicySet
		if flags&1 != 0 {
			pol = flows.AllPolicies
		}
		mode := flows.Strict
		if flags&2 != 0 {
			mode = flows.Lenient
		}
		ctx := context.Background()
		live := engine.New(engine.Options{Enforcement: mode, Policies: flows.PolicyConfig{Enabled: pol}})
		j, err := journal.Open("fuzz", journal.Options{InMemory: true, Hook: live})
		require.NoError(t, err)
		defer j.Close()
		g := gen.New(gen.Options{Seed: seed, BadShare: float64(flags>>2&3) * 0.05})
		var batch, sent []event.Event
		var cp []byte
		var cpSeq uint64
		flush := func(atomic bool) {
			if len(batch) == 0 {
				return
			}
			res, err := j.Append(ctx, batch, journal.AppendOptions{Atomic: atomic})
			if _, refused := event.AsError(err); !refused {
				require.NoError(t, err)
				require.Len(t, res, len(batch))
			}
			sent = append(sent, batch...)
			batch = nil
		}
		for i, b := range script {
			switch b % 8 {
			case 0:
				flush(true)
			case 1:
				flush(false)
			case 2:
				if len(sent) > 0 {
					batch = append(batch, sent[int(b>>3)%len(sent)]) // a resend: duplicate or conflict
				}
			default:
				batch = append(batch, g.Next())
			}
			if cp == nil && i >= len(script)/2 {
				flush(false)
				cp, err = live.MarshalCheckpoint()
				require.NoError(t, err)
				cpSeq = j.Durable()
			}
		}
		flush(false)
		want := views(t, live)

		scratch := engine.New(engine.Options{Enforcement: mode})
		require.NoError(t, j.Scan(1, journal.Filter{}, func(e *event.Event) error { scratch.Fold(e); return nil }))
		require.Equal(t, want, views(t, scratch), "rebuilt from scratch")
		if cp != nil {
			restored := engine.New(engine.Options{Enforcement: mode})
			require.NoError(t, restored.UnmarshalCheckpoint(cp))
			require.NoError(t, j.Scan(cpSeq+1, journal.Filter{}, func(e *event.Event) error { restored.Fold(e); return nil }))
			require.Equal(t, want, views(t, restored), "restored from the checkpoint at seq %d", cpSeq)
		}
	})
}

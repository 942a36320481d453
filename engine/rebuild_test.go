package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/projections"
)

func views(t *testing.T, g *engine.Engine) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range engine.Projections {
		out[p.String()] = string(g.JSON(p))
	}
	// The Elo history of every config (GET /v1/elo/{config}/history).
	for _, k := range g.Elo().Configs() {
		b, ok := projections.EloHistoryJSON(g.Elo(), k)
		require.True(t, ok)
		out["elo_history/"+k] = string(b)
	}
	return out
}

// historyPoints counts the Elo history's rating points and champion changes
// over every config.
func historyPoints(g *engine.Engine) (points, champions int) {
	for _, k := range g.Elo().Configs() {
		p, c, _, _ := g.Elo().History(k)
		points += len(p)
		champions += len(c)
	}
	return points, champions
}

// TestRebuildEqualsLive folds generated streams live through the sequencer,
// then again from the journal — from scratch and from a checkpoint taken
// half way — and requires byte-identical projections.
func TestRebuildEqualsLive(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 1500
	}
	for _, pol := range []flows.PolicySet{0, flows.AllPolicies} {
		for _, mode := range []flows.Enforcement{flows.Strict, flows.Lenient} {
			for seed := uint64(1); seed <= 3; seed++ {
				t.Run(fmt.Sprintf("policies=%s/%s/seed%d", pol, mode, seed), func(t *testing.T) {
					rebuildEqualsLive(t, n, mode, pol, seed)
				})
			}
		}
	}
}

// rebuildEqualsLive is one run of TestRebuildEqualsLive. With policies on,
// the replays run with them off (the decisions are in the journal), and a
// Verifier re-running the policies over the journal must find every
// journaled decision again.
func rebuildEqualsLive(t *testing.T, n int, mode flows.Enforcement, pol flows.PolicySet, seed uint64) {
	ctx := context.Background()
	live := engine.New(engine.Options{Enforcement: mode, Policies: flows.PolicyConfig{Enabled: pol}})
	j, err := journal.Open("rebuild", journal.Options{InMemory: true, Hook: live})
	require.NoError(t, err)
	defer j.Close()
	g := gen.New(gen.Options{Seed: seed, BadShare: 0.05})
	var cp []byte
	var cpSeq uint64
	refused := 0
	for i := 0; i < n; {
		size := 1 + int(seed+uint64(i))%7
		atomic := i%11 == 0
		evs := make([]event.Event, 0, size)
		for k := 0; k < size && i < n; k++ {
			evs = append(evs, g.Next())
			i++
		}
		res, err := j.Append(ctx, evs, journal.AppendOptions{Atomic: atomic})
		if _, isRefusal := event.AsError(err); isRefusal {
			refused += len(evs)
			continue
		}
		require.NoError(t, err)
		for _, r := range res {
			if r.Status == journal.Refused {
				refused++
			}
		}
		if cp == nil && i >= n/2 {
			cp, err = live.MarshalCheckpoint()
			require.NoError(t, err)
			cpSeq = j.Durable()
		}
	}
	require.Greater(t, refused, 0, "bad events are mixed in")
	require.Greater(t, j.Durable(), uint64(n/2), "most events are journaled")
	want := views(t, live)
	points, champions := historyPoints(live)
	require.Greater(t, points, 0, "the stream rates models: the Elo history is compared")
	if pol != 0 {
		require.Greater(t, champions, 0, "the promotion policy promotes models: the champion history is compared")
	}

	scratch := engine.New(engine.Options{Enforcement: mode})
	require.NoError(t, j.Scan(1, journal.Filter{}, func(e *event.Event) error { scratch.Fold(e); return nil }))
	require.Equal(t, want, views(t, scratch), "rebuilt from scratch")

	restored := engine.New(engine.Options{Enforcement: mode})
	require.NoError(t, restored.UnmarshalCheckpoint(cp))
	require.NoError(t, j.Scan(cpSeq+1, journal.Filter{}, func(e *event.Event) error { restored.Fold(e); return nil }))
	require.Equal(t, want, views(t, restored), "restored from the checkpoint at seq %d", cpSeq)

	if pol == 0 {
		return
	}
	ver := engine.NewVerifier(engine.Options{Enforcement: mode, Policies: flows.PolicyConfig{Enabled: pol}})
	var diffs []engine.Difference
	decisions := map[string]int{}
	require.NoError(t, j.Scan(1, journal.Filter{}, func(e *event.Event) error {
		if engine.IsDecision(e) {
			decisions[e.Type]++
		}
		diffs = append(diffs, ver.Fold(e)...)
		return nil
	}))
	diffs = append(diffs, ver.Close()...)
	require.Empty(t, diffs, "re-running the policies gives the journaled decisions")
	t.Logf("decisions: %v", decisions)
	require.GreaterOrEqual(t, len(decisions), 6, "the stream exercises many policies: %v", decisions)
}

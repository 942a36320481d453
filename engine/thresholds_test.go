package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
)

// TestCheckpointRecordsThresholds: a checkpoint folded with thresholds A is
// refused by an engine with thresholds B (ErrThresholdsChanged), which is
// left in its initial state, so folding from seq 1 gives exactly a fresh
// fold with B; with A it loads.
func TestCheckpointRecordsThresholds(t *testing.T) {
	a := flows.DefaultThresholds()
	b := a
	b.ClusterDegraded, b.ClusterCritical = 90, 100 // the health projection's cluster status depends on them
	optsA := engine.Options{Policies: flows.PolicyConfig{Thresholds: a}}
	optsB := engine.Options{Policies: flows.PolicyConfig{Thresholds: b}}
	require.NotEqual(t, engine.ThresholdsHash(a), engine.ThresholdsHash(b))

	live := engine.New(optsA)
	j, err := journal.Open("thresholds", journal.Options{InMemory: true, Hook: live})
	require.NoError(t, err)
	defer j.Close()
	g := gen.New(gen.Options{Seed: 7})
	for i := 0; i < 3000; i++ {
		_, err := j.Append(context.Background(), []event.Event{g.Next()}, journal.AppendOptions{})
		require.NoError(t, err)
	}
	cp, err := live.MarshalCheckpoint()
	require.NoError(t, err)
	fold := func(g *engine.Engine) *engine.Engine {
		require.NoError(t, j.Scan(1, journal.Filter{}, func(e *event.Event) error { g.Fold(e); return nil }))
		return g
	}

	withB := engine.New(optsB)
	err = withB.UnmarshalCheckpoint(cp)
	require.ErrorIs(t, err, engine.ErrThresholdsChanged)
	require.True(t, errors.Is(err, engine.ErrCheckpoint), "a daemon that only knows ErrCheckpoint rebuilds too")
	assert.Equal(t, views(t, engine.New(optsB)), views(t, withB), "nothing of the checkpoint is kept")
	freshB := fold(engine.New(optsB))
	assert.Equal(t, views(t, freshB), views(t, fold(withB)), "refolded from seq 1: equal to a fresh fold with B")
	assert.NotEqual(t, views(t, live)["health"], views(t, freshB)["health"], "the thresholds matter to the state, so a mix would show")

	withA := engine.New(optsA)
	require.NoError(t, withA.UnmarshalCheckpoint(cp))
	assert.Equal(t, views(t, live), views(t, withA))
}

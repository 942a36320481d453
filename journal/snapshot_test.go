package journal_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/journal"
)

// countdown is a context that ends after its Err has been asked n times:
// a cancellation in the middle of a copy, at a point the test chooses.
type countdown struct {
	context.Context
	n atomic.Int64
}

func (c *countdown) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestSnapshotCopyEndsWithContext: the copy of a journal another process
// holds stops when ctx ends, before or in the middle of the copy, and
// leaves nothing in TMPDIR.
func TestSnapshotCopyEndsWithContext(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	appendAll(t, j, ev("new_games", "hex8_2p", `{"games":1}`), ev("new_games", "hex8_3p", `{"games":2}`))
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for name, ctx := range map[string]context.Context{
		"before":     cancelled,
		"first file": &countdown{Context: context.Background()},
		"midway":     func() context.Context { c := &countdown{Context: context.Background()}; c.n.Store(3); return c }(),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := journal.OpenSnapshot(ctx, dir, journal.Options{})
			if err == nil {
				s.Close()
			}
			assert.ErrorIs(t, err, context.Canceled)
			ents, err := os.ReadDir(tmp)
			require.NoError(t, err)
			assert.Empty(t, ents, "the copy is removed")
		})
	}

	s, err := journal.OpenSnapshot(context.Background(), dir, journal.Options{})
	require.NoError(t, err)
	assert.True(t, s.Copied)
	assert.Equal(t, uint64(2), s.Durable())
	require.NoError(t, s.Close())
}

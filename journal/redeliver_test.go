package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// TestRedeliver: a dead letter stays open while its handler keeps failing
// (a failed redelivery appends nothing), and a successful redelivery runs
// the handler on the original event and journals handler_redelivered
// naming the dead letter; the open set is derived from the journal, so a
// fresh index and a reopened journal agree.
func TestRedeliver(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			j, reopen := b.open(t, journal.Options{})
			var broken atomic.Bool
			broken.Store(true)
			var mu sync.Mutex
			var handled []uint64
			h := journal.HandlerFunc(func(_ context.Context, e *event.Event) error {
				if e.Type == "new_games" && e.Seq == 2 && broken.Load() {
					return errors.New("disk full")
				}
				mu.Lock()
				handled = append(handled, e.Seq)
				mu.Unlock()
				return nil
			})
			opts := journal.SubscribeOptions{Attempts: 2, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
			sub, err := j.Subscribe("exporter", h, opts)
			require.NoError(t, err)
			res := appendAll(t, j, ev("new_games", "hex8_2p", ""), ev("new_games", "hex8_2p", `{"games":7}`))
			dls := journal.NewDeadLetters(j)
			var open []journal.DeadLetter
			require.Eventually(t, func() bool {
				open, err = dls.Open("")
				return err == nil && len(open) == 1
			}, 10*time.Second, 5*time.Millisecond)
			dl := open[0]
			assert.Equal(t, "exporter", dl.Handler)
			assert.Equal(t, res[1].Seq, dl.EventSeq)
			assert.Equal(t, "disk full", dl.Error)
			assert.Equal(t, 2, dl.Attempts)
			other, err := dls.Open("someone-else")
			require.NoError(t, err)
			assert.Empty(t, other, "filtered by handler")

			_, err = dls.Redeliver(context.Background(), sub, dl.Seq)
			require.ErrorIs(t, err, journal.ErrHandlerFailed)
			assert.Contains(t, err.Error(), "disk full")
			open, err = dls.Open("exporter")
			require.NoError(t, err)
			require.Len(t, open, 1, "a failed redelivery leaves the letter open")
			last := j.Durable()

			_, err = dls.Redeliver(context.Background(), sub, res[0].Seq)
			require.ErrorIs(t, err, journal.ErrNotDeadLetter, "seq 1 is not a dead letter")

			broken.Store(false)
			r, err := dls.Redeliver(context.Background(), sub, dl.Seq)
			require.NoError(t, err)
			assert.Equal(t, last+1, r.Seq, "nothing was appended by the failures")
			assert.Equal(t, 3, r.Attempts)
			got, err := j.Get(r.Seq)
			require.NoError(t, err)
			assert.Equal(t, "handler_redelivered", got.Type)
			assert.Equal(t, dl.ID, got.CausationID)
			assert.Equal(t, "ringriftd/subscriptions", got.Source)
			var p map[string]any
			require.NoError(t, json.Unmarshal(got.Payload, &p))
			assert.Equal(t, map[string]any{"handler": "exporter", "event_seq": float64(2), "attempts": float64(3)}, p)
			mu.Lock()
			assert.Contains(t, handled, uint64(2), "the handler ran on the original event")
			mu.Unlock()

			_, err = dls.Redeliver(context.Background(), sub, dl.Seq)
			require.ErrorIs(t, err, journal.ErrRedelivered, "never resolved twice")
			open, err = dls.Open("")
			require.NoError(t, err)
			assert.Empty(t, open)
			sub.Close()

			j = reopen()
			open, err = journal.NewDeadLetters(j).Open("")
			require.NoError(t, err)
			assert.Empty(t, open, "rebuilt from the journal after a restart")
		})
	}
}

// TestCursorTypes: a subscription stores its event types with its cursor,
// so a stopped journal tells what each subscription consumes.
func TestCursorTypes(t *testing.T) {
	j, reopen := backends()[0].open(t, journal.Options{})
	appendAll(t, j, ev("new_games", "hex8_2p", ""), ev("training_started", "hex8_2p", ""))
	done := func(_ context.Context, _ *event.Event) error { return nil }
	typed, err := j.Subscribe("typed", journal.HandlerFunc(done),
		journal.SubscribeOptions{Filter: journal.Filter{Types: []string{"training_started", "new_games", "new_games"}}})
	require.NoError(t, err)
	all, err := j.Subscribe("all", journal.HandlerFunc(done), journal.SubscribeOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		a, _ := j.Cursor("all")
		b, _ := j.Cursor("typed")
		return a == 2 && b == 2
	}, 30*time.Second, 5*time.Millisecond)
	typed.Close()
	all.Close()
	j = reopen()
	cs, err := j.Cursors()
	require.NoError(t, err)
	assert.Equal(t, []journal.Cursor{
		{Name: "all", Cursor: 2, TypesKnown: true},
		{Name: "typed", Cursor: 2, Types: []string{"new_games", "training_started"}, TypesKnown: true},
	}, cs)
}

package journal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// TestDeadLetterOnce: a handler's dead letter for an event is journaled
// once however often it is written (a node that died before moving its
// cursor, another node of a cluster): again with the same error it is a
// duplicate, with another error an id_conflict; another handler's is its
// own. A handler's own dead letter yields none (it would loop).
func TestDeadLetterOnce(t *testing.T) {
	j, _ := backends()[0].open(t, journal.Options{})
	res := appendAll(t, j, ev("new_games", "hex8_2p", ""))
	orig, err := j.Get(res[0].Seq)
	require.NoError(t, err)
	write := func(handler string, cause error) journal.Result {
		dead, ok := journal.HandlerFailed(handler, &orig, cause, 5, 0)
		require.True(t, ok)
		out, err := j.Append(context.Background(), []event.Event{dead}, journal.AppendOptions{Validated: true})
		require.NoError(t, err)
		return out[0]
	}
	first := write("exporter", errors.New("disk full"))
	require.Equal(t, journal.Appended, first.Status)
	again := write("exporter", errors.New("disk full"))
	assert.Equal(t, journal.Duplicate, again.Status)
	assert.Equal(t, first.Seq, again.Seq)
	other := write("exporter", errors.New("timeout"))
	require.Equal(t, journal.Refused, other.Status)
	assert.Equal(t, event.CodeIDConflict, other.Refusal.Code)
	assert.Equal(t, journal.Appended, write("archiver", errors.New("disk full")).Status)

	open, err := journal.NewDeadLetters(j).Open("exporter")
	require.NoError(t, err)
	require.Len(t, open, 1)

	own, err := j.Get(first.Seq)
	require.NoError(t, err)
	_, ok := journal.HandlerFailed("exporter", &own, errors.New("again"), 5, 0)
	assert.False(t, ok, "a dead letter of a handler's own dead letter")
}

// TestRedeliverOnceAcrossIndexes: two dead-letter indexes of one journal
// (two nodes of a cluster) redelivering one letter at once journal one
// handler_redelivered; the second is answered ErrRedelivered.
func TestRedeliverOnceAcrossIndexes(t *testing.T) {
	j, _ := backends()[0].open(t, journal.Options{})
	res := appendAll(t, j, ev("new_games", "hex8_2p", ""))
	orig, err := j.Get(res[0].Seq)
	require.NoError(t, err)
	dead, _ := journal.HandlerFailed("exporter", &orig, errors.New("disk full"), 5, 0)
	out, err := j.Append(context.Background(), []event.Event{dead}, journal.AppendOptions{Validated: true})
	require.NoError(t, err)
	dl := out[0].Seq
	n1, n2 := journal.NewDeadLetters(j), journal.NewDeadLetters(j)
	ok := func(context.Context, *event.Event) error { return nil }
	var first journal.Redelivery
	// n2's handler runs while n1 redelivers the same letter.
	_, err = n2.RedeliverFunc(context.Background(), "exporter", func(ctx context.Context, _ *event.Event) error {
		var err error
		first, err = n1.RedeliverFunc(ctx, "exporter", ok, dl)
		return err
	}, dl)
	require.ErrorIs(t, err, journal.ErrRedelivered)
	require.NotZero(t, first.Seq)
	var redelivered []uint64
	require.NoError(t, j.Scan(1, journal.Filter{Types: []string{"handler_redelivered"}}, func(e *event.Event) error {
		redelivered = append(redelivered, e.Seq)
		return nil
	}))
	assert.Equal(t, []uint64{first.Seq}, redelivered)
}

// TestDeadLetterAfterRedelivery: a handler that fails again on an event
// whose dead letter was redelivered (its subscription handed it the event
// once more) journals a new, open dead letter, not a duplicate of the
// resolved one; writing that new one again is a duplicate of it.
func TestDeadLetterAfterRedelivery(t *testing.T) {
	j, _ := backends()[0].open(t, journal.Options{})
	orig := appendAll(t, j, ev("new_games", "hex8_2p", ""))[0].Seq
	dead := journal.NewDeadLetters(j)
	failing := journal.HandlerFunc(func(context.Context, *event.Event) error { return errors.New("disk full") })
	opts := journal.SubscribeOptions{Filter: journal.Filter{Types: []string{"new_games"}}, Attempts: 1, Backoff: time.Millisecond}
	openLetters := func() []journal.DeadLetter {
		open, err := dead.Open("exporter")
		require.NoError(t, err)
		return open
	}
	sub, err := j.Subscribe("exporter", failing, opts)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(openLetters()) == 1 }, 30*time.Second, 10*time.Millisecond, "the first dead letter")
	require.NoError(t, sub.Close())
	first := openLetters()[0]
	_, err = dead.RedeliverFunc(context.Background(), "exporter", func(context.Context, *event.Event) error { return nil }, first.Seq)
	require.NoError(t, err)
	require.Empty(t, openLetters())

	// The subscription gets the event again (its cursor moved back) and fails.
	require.NoError(t, j.SaveCursor("exporter", orig-1, opts.Filter.Types))
	sub, err = j.Subscribe("exporter", failing, opts)
	require.NoError(t, err)
	defer sub.Close()
	require.Eventually(t, func() bool { return len(openLetters()) == 1 }, 30*time.Second, 10*time.Millisecond,
		"a new open dead letter for the failure after the redelivery")
	second := openLetters()[0]
	assert.Greater(t, second.Seq, first.Seq)
	assert.NotEqual(t, first.ID, second.ID)

	// Written again (a crash before the cursor moved): a duplicate of the new one.
	e, err := j.Get(orig)
	require.NoError(t, err)
	n, err := j.Redeliveries("exporter", orig)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again, _ := journal.HandlerFailed("exporter", &e, errors.New("disk full"), 1, n)
	res, err := j.Append(context.Background(), []event.Event{again}, journal.AppendOptions{Validated: true})
	require.NoError(t, err)
	assert.Equal(t, journal.Duplicate, res[0].Status)
	assert.Equal(t, second.Seq, res[0].Seq)
}

package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// recordingHandler records the seqs it handled and the dead letters asked
// of it; fail decides each attempt, deadFail each dead letter.
type recordingHandler struct {
	mu       sync.Mutex
	handled  []uint64
	calls    map[uint64]int
	dead     [][2]uint64 // {seq, attempts}
	fail     func(e *event.Event) error
	deadFail func(n int) error
}

func newRecorder() *recordingHandler { return &recordingHandler{calls: map[uint64]int{}} }

func (h *recordingHandler) Handle(_ context.Context, e *event.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[e.Seq]++
	if h.fail != nil {
		if err := h.fail(e); err != nil {
			return err
		}
	}
	h.handled = append(h.handled, e.Seq)
	return nil
}

func (h *recordingHandler) DeadLetter(_ context.Context, e *event.Event, _ error, attempts int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dead = append(h.dead, [2]uint64{e.Seq, uint64(attempts)})
	if h.deadFail != nil {
		return h.deadFail(len(h.dead))
	}
	return nil
}

// poisonAt fails every attempt at the event at seq.
func poisonAt(seq uint64) func(e *event.Event) error {
	return func(e *event.Event) error {
		if e.Seq == seq {
			return errors.New("poison")
		}
		return nil
	}
}

func (h *recordingHandler) seen() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.handled)
}

// publish stores events of the given types at the stream's head.
func publish(t *testing.T, node *cluster.Node, types ...string) {
	t.Helper()
	head, err := node.Head(context.Background())
	require.NoError(t, err)
	var evs []event.Event
	for i, typ := range types {
		at := time.Now().UTC().Truncate(time.Millisecond)
		evs = append(evs, event.Event{Seq: head + uint64(i) + 1, ID: ulid.Make(), Type: typ, ConfigKey: "hex8_2p",
			Time: at, RecordedAt: at, Payload: json.RawMessage(`{}`)})
	}
	require.NoError(t, node.Publish(context.Background(), evs))
}

func waitSeen(t *testing.T, h *recordingHandler, want []uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return slices.Equal(h.seen(), want) }, 30*time.Second, 10*time.Millisecond,
		"want %v handled", want)
}

// statsAcked waits until c's stats show the cursor at cursor or past it
// with nothing pending, and returns them. waitSeen follows the handler's
// return only: the delivered count and the ack, which moves the ack floor
// (the cursor), come after it.
func statsAcked(t *testing.T, c *cluster.Consumer, cursor uint64) journal.SubscriptionStats {
	t.Helper()
	var s journal.SubscriptionStats
	require.Eventually(t, func() bool {
		s = c.Stats(context.Background())
		return s.Cursor >= cursor && s.Lag == 0
	}, 30*time.Second, 10*time.Millisecond, "the cursor at %d, nothing pending", cursor)
	return s
}

// TestSharedSubscription is a shared subscription on a one-server stream:
// filtered by type, its cursor the ack floor, which a restart with other
// types keeps; a new consumer starts where asked; a handler that keeps
// failing gets its attempts and one dead letter, and a dead letter that
// cannot be journaled leaves its event to be delivered again, never dropped.
func TestSharedSubscription(t *testing.T) {
	node, err := cluster.Start(context.Background(), cluster.Config{Name: "solo", DataDir: t.TempDir(), Replicas: 1, StartTimeout: 30 * time.Second})
	require.NoError(t, err)
	defer node.Close()
	ctx := context.Background()
	publish(t, node, "new_games", "elo_updated", "new_games") // seqs 1-3

	t.Run("filter and ack floor", func(t *testing.T) {
		assert.Regexp(t, `^sub_a_b_c_[0-9a-f]{8}$`, cluster.DurableName("a b.c"))
		h := newRecorder()
		c := node.Consume(ctx, cluster.ConsumerConfig{Name: "a b.c", Types: []string{"new_games"}}, h)
		waitSeen(t, h, []uint64{1, 3})
		s := statsAcked(t, c, 3)
		assert.Equal(t, uint64(3), s.Cursor)
		assert.Equal(t, uint64(0), s.Lag)
		assert.Equal(t, uint64(2), s.Delivered)
		// An event of another type: the ack floor stays, but nothing of
		// its types waits, so it is handled through the stream's end — and
		// its stats say so too.
		publish(t, node, "elo_updated") // 4
		through, ok := c.Through(ctx)
		require.True(t, ok)
		assert.Equal(t, uint64(4), through)
		assert.Equal(t, uint64(4), c.Stats(ctx).Cursor, "the cursor of the stats, beside Through's")
		c.Close()

		// Restarted with other types: the filter follows, the ack floor stays.
		h = newRecorder()
		c = node.Consume(ctx, cluster.ConsumerConfig{Name: "a b.c", Types: []string{"elo_updated"}}, h)
		defer c.Close()
		waitSeen(t, h, []uint64{4})
		assert.Equal(t, uint64(4), statsAcked(t, c, 4).Cursor)
	})

	t.Run("start", func(t *testing.T) {
		h := newRecorder()
		var start atomic.Uint64
		start.Store(3)
		c := node.Consume(ctx, cluster.ConsumerConfig{Name: "late", Start: start.Load}, h)
		defer c.Close()
		waitSeen(t, h, []uint64{3, 4})

		// Deleted while running, it is created again from where Start
		// says now, not from where this node started.
		start.Store(2)
		nc, err := nats.Connect(node.ClientURL())
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		require.NoError(t, js.DeleteConsumer(ctx, cluster.DefaultStream, cluster.DurableName("late")))
		waitSeen(t, h, []uint64{3, 4, 2, 3, 4})
	})

	t.Run("attempts and the dead letter", func(t *testing.T) {
		h := newRecorder()
		h.fail = poisonAt(2)
		h.deadFail = func(n int) error {
			if n == 1 {
				return errors.New("no quorum") // the first dead letter does not land
			}
			return nil
		}
		c := node.Consume(ctx, cluster.ConsumerConfig{Name: "failing", Attempts: 3, Backoff: time.Millisecond}, h)
		defer c.Close()
		waitSeen(t, h, []uint64{1, 3, 4})
		s := statsAcked(t, c, 4)
		h.mu.Lock()
		defer h.mu.Unlock()
		assert.Equal(t, [][2]uint64{{2, 3}, {2, 4}}, h.dead, "dead letters asked: at the last attempt, again at the next delivery after it failed")
		assert.Equal(t, 4, h.calls[2], "runs of the poison")
		assert.Equal(t, uint64(4), s.Cursor)
		assert.Equal(t, uint64(2), s.Failed)
		assert.Equal(t, uint64(2), s.Retries)
	})

	t.Run("not ready", func(t *testing.T) {
		// A node that is not ready takes nothing; an event its replica
		// does not hold is handed back as often as need be, without using
		// up the handler's attempts or yielding a dead letter.
		var ready atomic.Bool
		h := newRecorder()
		handbacks := 0
		h.fail = func(e *event.Event) error {
			if e.Seq == 2 && handbacks < 6 {
				handbacks++
				return fmt.Errorf("%w: replica behind", cluster.ErrNotReady)
			}
			return nil
		}
		c := node.Consume(ctx, cluster.ConsumerConfig{Name: "catching-up", Attempts: 3, Backoff: time.Millisecond,
			Ready: ready.Load}, h)
		defer c.Close()
		time.Sleep(1500 * time.Millisecond)
		h.mu.Lock()
		assert.Empty(t, h.calls, "events taken before the node was ready")
		h.mu.Unlock()
		ready.Store(true)
		waitSeen(t, h, []uint64{1, 2, 3, 4})
		h.mu.Lock()
		defer h.mu.Unlock()
		assert.Empty(t, h.dead, "dead letters for events handed back")
		assert.Equal(t, 7, h.calls[2])
		assert.Equal(t, uint64(0), c.Stats(ctx).Retries, "hand-backs counted as retries")
	})

	t.Run("hand-backs are not attempts", func(t *testing.T) {
		// Handed back 5 times (more than its attempts), then failing for
		// good: the handler still runs its 3 attempts before the dead letter.
		h := newRecorder()
		handbacks, runs := 0, 0
		h.fail = func(e *event.Event) error {
			switch {
			case e.Seq != 2:
				return nil
			case handbacks < 5:
				handbacks++
				return fmt.Errorf("%w: replica behind", cluster.ErrNotReady)
			}
			runs++
			return errors.New("poison")
		}
		c := node.Consume(ctx, cluster.ConsumerConfig{Name: "handed-back", Attempts: 3, Backoff: time.Millisecond}, h)
		defer c.Close()
		waitSeen(t, h, []uint64{1, 3, 4})
		h.mu.Lock()
		defer h.mu.Unlock()
		assert.Equal(t, 3, runs, "the handler's own runs of the poison before its dead letter")
		assert.Equal(t, [][2]uint64{{2, 3}}, h.dead, "one dead letter, at the handler's 3rd failure")
	})

	t.Run("alive while the dead letter is written", func(t *testing.T) {
		// Two consumers of one subscription (two nodes); writing the dead
		// letter takes longer than AckWait: the event stays with the node
		// writing it, handled and dead-lettered once.
		h := newRecorder()
		h.fail = poisonAt(2)
		slow := &slowDeadLetter{recordingHandler: h, delay: 3 * time.Second}
		cfg := cluster.ConsumerConfig{Name: "slow-dead", Attempts: 1, Backoff: time.Millisecond, AckWait: time.Second}
		c1 := node.Consume(ctx, cfg, slow)
		defer c1.Close()
		c2 := node.Consume(ctx, cfg, slow)
		defer c2.Close()
		waitSeen(t, h, []uint64{1, 3, 4})
		h.mu.Lock()
		defer h.mu.Unlock()
		assert.Equal(t, 1, h.calls[2], "runs of the poison")
		assert.Equal(t, [][2]uint64{{2, 1}}, h.dead)
	})

	t.Run("through never passes the replica", func(t *testing.T) {
		// Every event handled (on other nodes, say) while this node's
		// replica holds only seq 2: the cursor it reports, and stores, is 2.
		h := newRecorder()
		c := node.Consume(ctx, cluster.ConsumerConfig{Name: "behind", Held: func() uint64 { return 2 }}, h)
		defer c.Close()
		waitSeen(t, h, []uint64{1, 2, 3, 4})
		through, ok := c.Through(ctx)
		require.True(t, ok)
		assert.Equal(t, uint64(2), through)
		assert.Equal(t, uint64(2), c.Stats(ctx).Cursor, "the cursor of the stats, beside Through's")
	})
}

// slowDeadLetter takes delay to write its first dead letter.
type slowDeadLetter struct {
	*recordingHandler
	delay time.Duration
	slept atomic.Bool
}

func (s *slowDeadLetter) DeadLetter(ctx context.Context, e *event.Event, cause error, attempts int) error {
	if s.slept.CompareAndSwap(false, true) {
		time.Sleep(s.delay)
	}
	return s.recordingHandler.DeadLetter(ctx, e, cause, attempts)
}

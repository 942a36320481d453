package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// clusterLog is what the handlers of one subscription did across the
// nodes of a test cluster (each node has its own instance of the handler).
type clusterLog struct {
	mu       sync.Mutex
	started  map[uint64][]string // seq → the nodes that started on it
	finished map[uint64][]string // seq → the nodes whose run returned nil
	calls    int
}

func newClusterLog() *clusterLog {
	return &clusterLog{started: map[uint64][]string{}, finished: map[uint64][]string{}}
}

func (l *clusterLog) start(node string, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started[seq] = append(l.started[seq], node)
	l.calls++
}

func (l *clusterLog) finish(node string, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished[seq] = append(l.finished[seq], node)
}

// snapshot copies finished and counts its nodes.
func (l *clusterLog) snapshot() (map[uint64][]string, map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[uint64][]string{}
	per := map[string]int{}
	for s, ns := range l.finished {
		out[s] = append([]string(nil), ns...)
		for _, n := range ns {
			per[n]++
		}
	}
	return out, per
}

// clusterHandler is one node's instance of a test subscription: run decides
// each attempt (nil: handled).
type clusterHandler struct {
	name, node string
	types      []string
	log        *clusterLog
	run        func(ctx context.Context, node string, e *event.Event) error
}

func (h *clusterHandler) Name() string    { return h.name }
func (h *clusterHandler) Types() []string { return h.types }

func (h *clusterHandler) Handle(ctx context.Context, e *event.Event) error {
	h.log.start(h.node, e.Seq)
	if err := h.run(ctx, h.node, e); err != nil {
		return err
	}
	h.log.finish(h.node, e.Seq)
	return nil
}

// appendGames posts n new_games events round robin over the running nodes
// (retrying on another node), node_id tagged; it returns their seqs.
func appendGames(t *testing.T, nodes []*testNode, n int, tag string) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := range n {
		body := fmt.Sprintf(`{"id":%q,"type":"new_games","config_key":"square8_2p","node_id":%q,"payload":{"games":1}}`, ulid.Make(), tag)
		var seq uint64
		waitFor(t, 30*time.Second, "an append to be acknowledged", func() bool {
			for k := range nodes {
				base := nodes[(i+k)%len(nodes)].url()
				if base == "" {
					continue
				}
				if status, s, _ := postOnce(base, body); status == "appended" || status == "duplicate" {
					seq = s
					return true
				}
			}
			return false
		})
		seqs = append(seqs, seq)
	}
	return seqs
}

// deadLettersOf are the handler_failed events of a node's journal (its
// export), as {seq, event_seq, attempts} of the handler's.
func deadLettersOf(t *testing.T, base, handler string) [][3]uint64 {
	t.Helper()
	code, b := get(t, base+"/v1/export")
	require.Equal(t, 200, code)
	var out [][3]uint64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Seq     uint64 `json:"seq"`
			Type    string `json:"type"`
			Payload struct {
				Handler  string `json:"handler"`
				EventSeq uint64 `json:"event_seq"`
				Attempts uint64 `json:"attempts"`
			} `json:"payload"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		if e.Type == "handler_failed" && e.Payload.Handler == handler {
			out = append(out, [3]uint64{e.Seq, e.Payload.EventSeq, e.Payload.Attempts})
		}
	}
	return out
}

// subscriptionCursor is a subscription's cursor and lag in a node's GET
// /v1/subscriptions.
func subscriptionCursor(t *testing.T, base, name string) (cursor, lag uint64) {
	t.Helper()
	code, b := get(t, base+"/v1/subscriptions")
	require.Equal(t, 200, code, "%s", b)
	var v struct {
		Subscriptions []struct {
			Name   string `json:"name"`
			Cursor uint64 `json:"cursor"`
			Lag    uint64 `json:"lag"`
		} `json:"subscriptions"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	for _, s := range v.Subscriptions {
		if s.Name == name {
			return s.Cursor, s.Lag
		}
	}
	t.Fatalf("%s: no subscription %s in %s", base, name, b)
	return 0, 0
}

// waitCursor waits until the cursor a node shows for a shared
// subscription reaches seq. It follows the handler's return only: the ack
// goes to JetStream after it, and a node shows the consumer's ack floor,
// bounded by what its replica holds.
func waitCursor(t *testing.T, n *testNode, name string, seq uint64) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%s's cursor on %s to reach %d", name, n.name, seq), func() bool {
		c, _ := subscriptionCursor(t, n.url(), name)
		return c >= seq
	})
}

// storedCursor is a subscription's cursor as a node's journal stores it
// (the node stopped: a running journal's copy may miss writes not synced
// yet, as cursors are).
func storedCursor(t *testing.T, dir, name string) uint64 {
	t.Helper()
	s, err := journal.OpenSnapshot(context.Background(), dir, journal.Options{})
	require.NoError(t, err)
	defer s.Close()
	cs, err := s.Cursors()
	require.NoError(t, err)
	for _, c := range cs {
		if c.Name == name {
			return c.Cursor
		}
	}
	return 0
}

// TestClusterSharedSubscriptions is cluster.md's "Subscriptions run once in
// the cluster" on three in-process nodes, each registering the same three
// handlers: every event is handled exactly once across the cluster and the
// cursor every node shows is the shared one; a handler that keeps failing
// yields one handler_failed in every replica after its attempts, which any
// node can redeliver once; and the node handling an event going away hands
// it to another node, which goes on from the ack floor.
func TestClusterSharedSubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	counted, failing, held := newClusterLog(), newClusterLog(), newClusterLog()
	var fixed atomic.Bool // the failing handler's cause is fixed (redelivery)
	holding := make(chan string, 1)
	var heldOnce atomic.Bool
	nodes := testClusterWith(t, func(n *testNode) {
		n.config = func(c *Config) { c.Cluster.CursorEvery = 200 * time.Millisecond }
		n.handlers = []Handler{
			&clusterHandler{name: "counter", node: n.name, log: counted,
				run: func(context.Context, string, *event.Event) error { return nil }},
			&clusterHandler{name: "failing", node: n.name, types: []string{"new_games"}, log: failing,
				run: func(_ context.Context, _ string, e *event.Event) error {
					if e.NodeID == "poison" && !fixed.Load() {
						return errors.New("cannot digest poison")
					}
					return nil
				}},
			&clusterHandler{name: "held", node: n.name, types: []string{"new_games"}, log: held,
				run: func(ctx context.Context, node string, e *event.Event) error {
					if e.NodeID != "hold" || !heldOnce.CompareAndSwap(false, true) {
						return nil
					}
					holding <- node // the first node to get it holds it until it stops
					<-ctx.Done()
					return ctx.Err()
				}},
		}
	})

	t.Run("each event once across the cluster", func(t *testing.T) {
		seqs := appendGames(t, nodes, 60, "w")
		last := waitConverged(t, []member{nodes[0], nodes[1], nodes[2]})
		require.GreaterOrEqual(t, last, seqs[len(seqs)-1])
		waitFor(t, 30*time.Second, "counter to handle every event", func() bool {
			done, _ := counted.snapshot()
			return len(done) >= int(last)
		})
		for _, n := range nodes {
			waitFor(t, 30*time.Second, "the shared cursor on "+n.name, func() bool {
				c, lag := subscriptionCursor(t, n.url(), "counter")
				return c == last && lag == 0
			})
		}
		done, per := counted.snapshot()
		for seq := uint64(1); seq <= last; seq++ {
			require.Len(t, done[seq], 1, "seq %d handled by %v", seq, done[seq])
		}
		require.Len(t, done, int(last), "handled seqs that were never journaled")
		t.Logf("events handled per node: %v", per)
	})

	var poison, lastFailing uint64
	t.Run("a failing handler's one dead letter", func(t *testing.T) {
		poison = appendGames(t, nodes, 1, "poison")[0]
		after := appendGames(t, nodes, 3, "w")
		waitFor(t, 30*time.Second, "failing to move past the poison", func() bool {
			done, _ := failing.snapshot()
			return len(done[after[len(after)-1]]) == 1
		})
		waitConverged(t, []member{nodes[0], nodes[1], nodes[2]})
		var want [][3]uint64
		for _, n := range nodes {
			got := deadLettersOf(t, n.url(), "failing")
			require.Len(t, got, 1, "node %s: handler_failed of failing: %v", n.name, got)
			require.Equal(t, poison, got[0][1], "event_seq")
			require.Equal(t, uint64(5), got[0][2], "attempts")
			if want == nil {
				want = got
			}
			require.Equal(t, want, got, "node %s", n.name)
		}
		failing.mu.Lock()
		runs := len(failing.started[poison])
		failing.mu.Unlock()
		require.Equal(t, 5, runs, "runs of the poison across the cluster")
		waitCursor(t, nodes[2], "failing", after[len(after)-1]) // past the dead letter

		// Any node redelivers it once; the others then find it resolved.
		dl := want[0][0]
		fixed.Store(true)
		code, out := post(t, fmt.Sprintf("%s/v1/subscriptions/failing/redeliver?seq=%d", nodes[1].url(), dl), "", "")
		require.Equal(t, http.StatusOK, code, "%v", out)
		code, out = post(t, fmt.Sprintf("%s/v1/subscriptions/failing/redeliver?seq=%d", nodes[2].url(), dl), "", "")
		require.Equal(t, http.StatusConflict, code, "%v", out)
		for _, n := range nodes {
			waitFor(t, 30*time.Second, "the letter resolved on "+n.name, func() bool { return len(openDeadLetters(t, n.url(), "failing")) == 0 })
		}
		lastFailing = after[len(after)-1]

	})

	t.Run("the handling node goes away", func(t *testing.T) {
		before := appendGames(t, nodes, 5, "w")
		waitFor(t, 30*time.Second, "held to handle the first events", func() bool {
			done, _ := held.snapshot()
			return len(done[before[len(before)-1]]) == 1
		})
		seqs := append(appendGames(t, nodes, 1, "hold"), appendGames(t, nodes, 4, "w")...)
		var holder *testNode
		select {
		case name := <-holding:
			holder = nodeNamed(nodes, name)
		case <-time.After(30 * time.Second):
			t.Fatal("no node took the held event")
		}
		// One in flight in the cluster: nothing after the held event is handled.
		done, _ := held.snapshot()
		for _, s := range seqs[1:] {
			require.Empty(t, done[s], "seq %d handled while seq %d is in flight", s, seqs[0])
		}
		stopped := time.Now()
		holder.stop(t)
		t.Logf("%s, holding seq %d, stopped in %v", holder.name, seqs[0], time.Since(stopped))
		// Its journal (closed: read in place) stores the shared cursors.
		assert.GreaterOrEqual(t, storedCursor(t, holder.dir, "failing"), lastFailing, "failing's cursor in %s's journal", holder.name)
		assert.GreaterOrEqual(t, storedCursor(t, holder.dir, "held"), before[len(before)-1], "held's cursor in %s's journal", holder.name)
		var alive []*testNode
		for _, n := range nodes {
			if n != holder {
				alive = append(alive, n)
			}
		}
		more := appendGames(t, alive, 3, "w")
		t.Logf("appended %v after %v", more, time.Since(stopped))
		waitFor(t, 30*time.Second, "another node to go on", func() bool {
			done, _ := held.snapshot()
			return len(done[more[len(more)-1]]) == 1
		})
		t.Logf("handled %v after %v", more, time.Since(stopped))
		done, _ = held.snapshot()
		require.Len(t, done[seqs[0]], 1, "the held event, handed over: %v", done[seqs[0]])
		assert.NotEqual(t, holder.name, done[seqs[0]][0], "handled by the node that went away")
		for seq, ns := range done {
			require.Len(t, ns, 1, "seq %d handled (acknowledged) %d times: %v", seq, len(ns), ns)
		}
		for _, s := range append(append(before, seqs...), more...) {
			require.Len(t, done[s], 1, "seq %d lost", s)
		}
		for _, n := range alive {
			waitCursor(t, n, "held", more[len(more)-1])
		}
	})
}

// TestClusterHandlerNamedTwice: two handlers of one name are refused in
// cluster mode as on one node (they would share one consumer unseen).
func TestClusterHandlerNamedTwice(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Cluster.Name, cfg.Cluster.Replicas = "solo", 1
	require.NoError(t, cfg.Validate())
	h := &clusterHandler{name: "twice", node: "solo", log: newClusterLog(), run: func(context.Context, string, *event.Event) error { return nil }}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a daemon that took both runs until then
	defer cancel()
	err := serve(ctx, cfg, log, nil, h, h)
	require.ErrorIs(t, err, journal.ErrSubscribed)
	assert.Contains(t, err.Error(), "twice")
}

// TestSharedHandlerHandsBack: an event this node's replica does not hold
// is handed back (cluster.ErrNotReady: not a failure of the handler, no
// attempt used) without running the handler; one it holds runs it.
func TestSharedHandlerHandsBack(t *testing.T) {
	j, err := journal.Open("j", journal.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer j.Close()
	res, err := j.Append(context.Background(), []event.Event{{Type: "sync_completed", Source: "test"}}, journal.AppendOptions{})
	require.NoError(t, err)
	runs := 0
	s := sharedHandler{d: &daemon{j: j}, name: "h", h: journal.HandlerFunc(func(context.Context, *event.Event) error {
		runs++
		return nil
	})}
	err = s.Handle(context.Background(), &event.Event{Seq: res[0].Seq + 1})
	require.ErrorIs(t, err, cluster.ErrNotReady)
	assert.Zero(t, runs)
	require.NoError(t, s.Handle(context.Background(), &event.Event{Seq: res[0].Seq}))
	assert.Equal(t, 1, runs)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// Handler is an in-process consumer of the journal (daemon.md): a name, the
// event types it wants (none = all) and a function of one event. Each is a
// journal subscription with a durable cursor, so a handler registered after
// the emitters started misses nothing; errors and panics are isolated,
// retried with backoff and dead-lettered as handler_failed.
//
// In cluster mode a handler runs once in the cluster, not once per node: its
// subscription is shared by the nodes (cluster.Consumer), unless it is a
// perNode handler.
type Handler interface {
	Name() string
	Types() []string
	Handle(ctx context.Context, e *event.Event) error
}

// perNode marks a handler that runs on every node in cluster mode too,
// with a cursor in the node's journal: it works on the node's own state
// (the checkpointer checkpoints this node's engine).
type perNode interface {
	PerNode()
}

// PerNode: every node checkpoints its own replica (cluster.md).
func (c *checkpointer) PerNode() {}

// registered is a started handler: a subscription of this node's journal,
// or (cluster mode) this node's part of a shared subscription.
type registered struct {
	name   string
	types  []string
	sub    *journal.Subscription
	shared *cluster.Consumer
	// mirrored is closed once the shared cursors are no longer written to
	// the journal (mirrorCursors): the journal may close then.
	mirrored <-chan struct{}
}

// stats are the subscription's cursor, lag and counts; a shared one's
// cursor is its consumer's ack floor (the cluster's), its counts this
// node's.
func (r *registered) stats(ctx context.Context) journal.SubscriptionStats {
	if r.shared != nil {
		return r.shared.Stats(ctx)
	}
	return r.sub.Stats()
}

// close stops the handler; a per-node subscription saves its cursor (its
// error is that save's).
func (r *registered) close() error {
	if r.shared != nil {
		r.shared.Close()
		<-r.mirrored // the daemon's run has ended: it ends at once
		return nil
	}
	return r.sub.Close()
}

// redeliver runs the handler again on the original event of the dead
// letter at seq (redeliver.go), on this node, serialised with this node's
// other runs of it.
func (r *registered) redeliver(ctx context.Context, dead *journal.DeadLetters, seq uint64) (journal.Redelivery, error) {
	if r.shared != nil {
		return dead.RedeliverFunc(ctx, r.name, r.shared.Call, seq)
	}
	return dead.Redeliver(ctx, r.sub, seq)
}

// traced logs every delivery of a handler (RINGRIFT_EVENT_TRACE=1).
type traced struct {
	d *daemon
	h Handler
}

func (t traced) Handle(ctx context.Context, e *event.Event) error {
	start := time.Now()
	err := t.h.Handle(ctx, e)
	if t.d.cfg.Trace {
		outcome := "ok"
		if err != nil {
			outcome = "error: " + err.Error()
		}
		t.d.log.Info("deliver", "handler", t.h.Name(), "type", e.Type, "seq", e.Seq, "outcome", outcome, "took", time.Since(start))
	}
	return err
}

// register starts the handlers as subscriptions (after catch-up).
func (d *daemon) register(hs ...Handler) error {
	var shared []*registered
	mirrored := make(chan struct{})
	defer func() {
		if len(shared) == 0 {
			close(mirrored)
			return
		}
		go d.mirrorCursors(d.cluster.ctx, shared, mirrored)
	}()
	for _, h := range hs {
		var types []string
		for _, t := range h.Types() {
			tt, ok := event.Lookup(t)
			if !ok {
				return fmt.Errorf("%w: handler %s: unknown event type %q", errConfig, h.Name(), t)
			}
			types = append(types, tt.Value)
		}
		r := &registered{name: h.Name(), types: types, mirrored: mirrored}
		var err error
		_, local := h.(perNode)
		switch {
		case d.cluster != nil && !local && d.subscription(h.Name()) != nil:
			err = fmt.Errorf("%w: %q", journal.ErrSubscribed, h.Name()) // as on one node
		case d.cluster != nil && !local:
			if r.shared, err = d.shareHandler(h, types); err == nil {
				shared = append(shared, r)
			}
		default:
			r.sub, err = d.j.Subscribe(h.Name(), traced{d, h}, journal.SubscribeOptions{Filter: journal.Filter{Types: types}})
		}
		if err != nil {
			return fmt.Errorf("handler %s: %w", h.Name(), err)
		}
		d.subsMu.Lock()
		d.subs = append(d.subs, r)
		d.subsMu.Unlock()
	}
	return nil
}

// shareHandler starts this node's part of h's shared subscription. A
// consumer created — now, or again after it was deleted — starts after the
// cursor this node's journal holds for h then (a deployment that ran it per
// node before, or the mirrored ack floor: mirrorCursors), else at the first
// event.
func (d *daemon) shareHandler(h Handler, types []string) (*cluster.Consumer, error) {
	if _, err := d.j.Cursor(h.Name()); err != nil && !errors.Is(err, journal.ErrNotFound) {
		return nil, err
	}
	start := func() uint64 {
		c, err := d.j.Cursor(h.Name())
		if err != nil {
			if !errors.Is(err, journal.ErrNotFound) {
				d.log.Warn("reading a shared subscription's stored cursor; its consumer starts at the first event", "subscription", h.Name(), "err", err)
			}
			return 0
		}
		return c + 1
	}
	cfg := cluster.ConsumerConfig{Name: h.Name(), Types: types, Start: start, AckWait: d.cfg.Cluster.AckWait,
		// Only while /readyz would answer 200 (the replica within
		// --max-lag): a node catching up takes no events.
		Ready: func() bool { ok, _ := d.clusterReady(); return ok },
		// The cursor mirrored into this node's journal never passes what
		// the journal holds.
		Held: d.j.Durable}
	return d.cluster.node.Consume(d.cluster.ctx, cfg, sharedHandler{d: d, name: h.Name(), h: traced{d, h}}), nil
}

// mirrorCursors stores, until ctx ends and once more then, each shared
// subscription's cursor (Consumer.Through, never moving back) in this
// node's journal, as a subscription of the journal stores its own: what
// reads stored cursors (GET /v1/lost's lagging_subscription, replay
// --journal over this data directory, a later start without cluster mode)
// then sees the cluster's. The consumer's ack floor stays the cursor of
// record. done closes when it returns.
func (d *daemon) mirrorCursors(ctx context.Context, shared []*registered, done chan<- struct{}) {
	defer close(done)
	every := d.cfg.Cluster.CursorEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	saved := map[string]uint64{}
	for {
		pctx, last := ctx, false
		select {
		case <-ctx.Done(): // a last pass, so that a clean stop stores them as they are
			pctx, last = context.WithoutCancel(ctx), true
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(pctx, 3*time.Second)
		for _, r := range shared {
			seq, ok := r.shared.Through(pctx)
			if !ok || seq <= saved[r.name] {
				continue
			}
			if err := d.j.SaveCursor(r.name, seq, r.types); err != nil {
				d.log.Warn("storing a shared subscription's cursor", "subscription", r.name, "err", err)
				continue
			}
			saved[r.name] = seq
		}
		cancel()
		if last {
			return
		}
	}
}

// sharedHandler is a handler as its shared subscription runs it on this
// node.
type sharedHandler struct {
	d    *daemon
	name string
	h    journal.Handler
}

// Handle runs the handler once this node's replica holds the event, as on
// one node (a handler may read the node's state and expect the event in
// it). A replica that does not hold it within a second hands the event
// back (cluster.ErrNotReady): not a failure of the handler, so it uses up
// none of its attempts.
func (s sharedHandler) Handle(ctx context.Context, e *event.Event) error {
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	err := s.d.j.WaitDurable(wctx, e.Seq)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: this node's replica does not hold seq %d yet: %w", cluster.ErrNotReady, e.Seq, err)
	}
	return s.h.Handle(ctx, e)
}

// DeadLetter journals handler_failed as one node does (journal.HandlerFailed),
// through the cluster's append path. Its id is derived from the handler,
// the event and the redeliveries of the handler's letters for it so far
// (read once the replica caught up with the stream, so that one journaled
// through another node counts): written again (a node died before
// acknowledging), it is a duplicate — or, with another error text, an
// id_conflict: journaled either way; a failure after a redelivery is a new
// letter.
func (s sharedHandler) DeadLetter(ctx context.Context, e *event.Event, cause error, attempts int) error {
	if err := s.d.clusterCaughtUp(ctx); err != nil {
		return err
	}
	redelivered, err := s.d.j.Redeliveries(s.name, e.Seq)
	if err != nil {
		return err
	}
	dead, ok := journal.HandlerFailed(s.name, e, cause, attempts, redelivered)
	if !ok {
		return nil // its own dead letter: another would loop (logged, counted)
	}
	res, err := s.d.j.Append(ctx, []event.Event{dead}, journal.AppendOptions{Validated: true})
	if err != nil {
		return fmt.Errorf("journaling handler_failed: %w", err)
	}
	if ref := res[0].Refusal; res[0].Status == journal.Refused && ref.Code != event.CodeIDConflict {
		return fmt.Errorf("handler_failed refused: %w", ref)
	}
	return nil
}

// subscriptionStats are every running subscription's stats, by name.
func (d *daemon) subscriptionStats() []journal.SubscriptionStats {
	out := d.j.Subscriptions() // the per-node ones
	d.subsMu.Lock()
	var shared []*registered
	for _, r := range d.subs {
		if r.shared != nil {
			shared = append(shared, r)
		}
	}
	d.subsMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, r := range shared {
		out = append(out, r.stats(ctx))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ringrift/ringriftd/event"
)

// Handler consumes events of a subscription. Delivery is at-least-once, in seq
// order: a handler should be idempotent on e.Seq. An error (or a panic) is
// retried with backoff; after the last attempt the journal appends a
// handler_failed event and moves on.
type Handler interface {
	Handle(ctx context.Context, e *event.Event) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, e *event.Event) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, e *event.Event) error { return f(ctx, e) }

// SubscribeOptions tune one subscription. Zero fields take the defaults.
type SubscribeOptions struct {
	Filter      Filter
	Attempts    int           // default 5
	Backoff     time.Duration // first retry delay, doubling; default 100 ms
	MaxBackoff  time.Duration // default 30 s
	BatchEvents int           // events read per scan; default 1,024
}

func (o *SubscribeOptions) fill() {
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = 1024
	}
}

// SubscriptionStats is what an operator sees of a subscription.
type SubscriptionStats struct {
	Name      string `json:"name"`
	Cursor    uint64 `json:"cursor"`
	Lag       uint64 `json:"lag"`
	Delivered uint64 `json:"delivered"`
	Retries   uint64 `json:"retries"`
	Failed    uint64 `json:"failed"`
	Panics    uint64 `json:"panics"`
}

// Subscription is a named consumer with a durable cursor. It starts from its
// cursor, catches up, then follows the live tail.
type Subscription struct {
	j      *Journal
	name   string
	h      Handler
	opts   SubscribeOptions
	cancel context.CancelFunc
	done   chan struct{}

	cursor    atomic.Uint64
	delivered atomic.Uint64
	retries   atomic.Uint64
	failed    atomic.Uint64
	panics    atomic.Uint64
	closeOnce sync.Once
	// callMu serialises runs of the handler: the subscription's own and a
	// redelivery's (redeliver.go), so a handler never runs concurrently.
	callMu   sync.Mutex
	types    []string // stored with the cursor (cursor.go)
	closeErr error    // the last cursor save's, set by run before done closes
}

// Subscribe starts the named subscription in its own goroutine, owned by the
// journal: Close on the subscription or the journal stops it.
func (j *Journal) Subscribe(name string, h Handler, opts SubscribeOptions) (*Subscription, error) {
	if name == "" {
		return nil, fmt.Errorf("journal: Subscribe: name is empty; want a stable name such as the handler's")
	}
	if j.closed.Load() {
		return nil, ErrClosed
	}
	opts.fill()
	cursor, err := j.Cursor(name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscription{j: j, name: name, h: h, opts: opts, cancel: cancel, done: make(chan struct{}), types: cursorTypes(opts.Filter)}
	s.cursor.Store(cursor)
	j.subsMu.Lock()
	if _, ok := j.subs[name]; ok {
		j.subsMu.Unlock()
		cancel()
		return nil, fmt.Errorf("%w: %q", ErrSubscribed, name)
	}
	j.subs[name] = s
	j.subsMu.Unlock()
	go s.run(ctx)
	return s, nil
}

// Cursor returns the stored cursor of a subscription.
func (j *Journal) Cursor(name string) (uint64, error) {
	v, closer, err := j.db.Get(nameKey(prefixCursor, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("%w: cursor %q", ErrNotFound, name)
	}
	if err != nil {
		return 0, fmt.Errorf("journal: cursor %q: %w", name, err)
	}
	defer closer.Close()
	c, err := decodeCursor(name, v)
	return c.Cursor, err
}

// Subscriptions returns the stats of the running subscriptions, by name.
func (j *Journal) Subscriptions() []SubscriptionStats {
	j.subsMu.Lock()
	out := make([]SubscriptionStats, 0, len(j.subs))
	for _, s := range j.subs {
		out = append(out, s.Stats())
	}
	j.subsMu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Stats returns the subscription's counters, cursor and lag.
func (s *Subscription) Stats() SubscriptionStats {
	c := s.cursor.Load()
	var lag uint64
	if d := s.j.Durable(); d > c {
		lag = d - c
	}
	return SubscriptionStats{Name: s.name, Cursor: c, Lag: lag, Delivered: s.delivered.Load(),
		Retries: s.retries.Load(), Failed: s.failed.Load(), Panics: s.panics.Load()}
}

// Close stops the subscription and waits for it; its cursor is saved. The
// error is that save's: when it failed, the next start redelivers from the
// cursor saved before.
func (s *Subscription) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.j.subsMu.Lock()
		delete(s.j.subs, s.name)
		s.j.subsMu.Unlock()
	})
	return s.closeErr
}

func (s *Subscription) run(ctx context.Context) {
	defer close(s.done)
	log := s.j.log.With("subscription", s.name)
	for {
		changed := s.j.Changed()
		cursor := s.cursor.Load()
		if hwm := s.j.Durable(); cursor < hwm {
			n := 0
			err := s.j.Scan(cursor+1, s.opts.Filter, func(scanned *event.Event) error {
				e := new(event.Event) // the handler's to keep
				*e = *scanned
				if err := s.deliver(ctx, e); err != nil {
					return err
				}
				s.cursor.Store(e.Seq)
				n++
				if n >= s.opts.BatchEvents {
					return ErrStop
				}
				return nil
			})
			// A filtered scan may pass over events it does not deliver:
			// the cursor still moves to what was scanned when all matched
			// events were handled and the scan reached the end. Only to
			// hwm, read before the scan: an event published while the
			// scan ran may not have been seen, and must not be skipped.
			if err == nil && n < s.opts.BatchEvents {
				s.cursor.Store(max(s.cursor.Load(), hwm))
			}
			if s.closeErr = s.saveCursor(); s.closeErr != nil {
				log.Error("saving cursor", "err", s.closeErr)
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Error("subscription stopped reading", "err", err)
				if !sleepCtx(ctx, s.opts.Backoff) {
					return
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			if s.closeErr = s.saveCursor(); s.closeErr != nil {
				log.Error("saving cursor at close", "err", s.closeErr)
			}
			return
		case <-changed:
		}
	}
}

func (s *Subscription) saveCursor() error {
	return s.j.storeCursor(s.name, s.cursor.Load(), s.types)
}

// deliver hands e to the handler with retries; it returns an error only when
// the subscription is stopping (the cursor must not move past e then).
func (s *Subscription) deliver(ctx context.Context, e *event.Event) error {
	delay := s.opts.Backoff
	var last error
	for attempt := 1; attempt <= s.opts.Attempts; attempt++ {
		if attempt > 1 {
			s.retries.Add(1)
			if !sleepCtx(ctx, delay) {
				return ctx.Err()
			}
			delay = min(delay*2, s.opts.MaxBackoff)
		}
		last = s.call(ctx, e)
		if last == nil {
			s.delivered.Add(1)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	s.failed.Add(1)
	s.j.log.Warn("handler failed; writing a dead letter", "subscription", s.name, "seq", e.Seq, "err", last)
	redelivered, err := s.j.Redeliveries(s.name, e.Seq)
	if err != nil {
		s.j.log.Error("writing dead letter", "subscription", s.name, "seq", e.Seq, "err", err)
		return err
	}
	dead, ok := HandlerFailed(s.name, e, last, s.opts.Attempts, redelivered)
	if !ok {
		// A dead letter about this handler that this handler cannot take:
		// writing another would loop. It is logged and counted.
		return nil
	}
	if _, err := s.j.Append(context.Background(), []event.Event{dead}, AppendOptions{Validated: true}); err != nil {
		s.j.log.Error("writing dead letter", "subscription", s.name, "seq", e.Seq, "err", err)
		return err
	}
	return nil
}

// call runs the handler, turning a panic into an error.
func (s *Subscription) call(ctx context.Context, e *event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.panics.Add(1)
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	s.callMu.Lock()
	defer s.callMu.Unlock()
	return s.h.Handle(ctx, e)
}

func handlerOf(e *event.Event) string {
	var p struct {
		Handler string `json:"handler"`
	}
	_ = json.Unmarshal(e.Payload, &p)
	return p.Handler
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

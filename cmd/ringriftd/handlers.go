package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// Handler is an in-process consumer of the journal (daemon.md): a name, the
// event types it wants (none = all) and a function of one event. Each is a
// journal subscription with a durable cursor, so a handler registered after
// the emitters started misses nothing; errors and panics are isolated,
// retried with backoff and dead-lettered as handler_failed.
type Handler interface {
	Name() string
	Types() []string
	Handle(ctx context.Context, e *event.Event) error
}

// registered is a started handler.
type registered struct {
	name  string
	types []string
	sub   *journal.Subscription
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
	for _, h := range hs {
		var types []string
		for _, t := range h.Types() {
			tt, ok := event.Lookup(t)
			if !ok {
				return fmt.Errorf("%w: handler %s: unknown event type %q", errConfig, h.Name(), t)
			}
			types = append(types, tt.Value)
		}
		sub, err := d.j.Subscribe(h.Name(), traced{d, h}, journal.SubscribeOptions{Filter: journal.Filter{Types: types}})
		if err != nil {
			return fmt.Errorf("handler %s: %w", h.Name(), err)
		}
		d.subsMu.Lock()
		d.subs = append(d.subs, &registered{name: h.Name(), types: types, sub: sub})
		d.subsMu.Unlock()
	}
	return nil
}

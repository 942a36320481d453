package journal

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ringrift/ringriftd/event"
)

// DeadLetter is a handler_failed event: a handler gave up on an event.
type DeadLetter struct {
	Seq      uint64    `json:"seq"` // of the handler_failed event
	ID       string    `json:"id"`
	Handler  string    `json:"handler"`
	EventSeq uint64    `json:"event_seq"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Time     time.Time `json:"time"`
	// RedeliveredBy is the seq of the handler_redelivered that resolved it
	// (0: open).
	RedeliveredBy uint64 `json:"redelivered_by,omitempty"`
}

// Redelivery is a successful redelivery: the handler_redelivered event
// journaled for a dead letter.
type Redelivery struct {
	DeadLetter DeadLetter `json:"dead_letter"`
	Seq        uint64     `json:"seq"` // of handler_redelivered
	ID         string     `json:"id"`
	Attempts   int        `json:"attempts"`
}

// DeadLetters is the set of dead letters and their redeliveries, derived
// from the journal alone: a handler_failed is open until a later
// handler_redelivered names its id as causation_id. It is an in-memory
// index that catches up with the journal (through the type index) on each
// call, so it is always rebuildable and never stored. Safe for concurrent
// use.
type DeadLetters struct {
	j *Journal

	mu      sync.Mutex
	scanned uint64
	byID    map[string]*DeadLetter
	bySeq   map[uint64]*DeadLetter
	redo    sync.Mutex // one redelivery at a time: a letter is never resolved twice
}

// NewDeadLetters returns the dead-letter index of j (empty until its first
// call catches up).
func NewDeadLetters(j *Journal) *DeadLetters {
	return &DeadLetters{j: j, byID: map[string]*DeadLetter{}, bySeq: map[uint64]*DeadLetter{}}
}

var deadLetterTypes = Filter{Types: []string{"handler_failed", "handler_redelivered"}}

// update folds the dead-letter events journaled since the last call. Under mu.
func (d *DeadLetters) update() error {
	from := d.scanned + 1
	hwm := d.j.Durable()
	err := d.j.Scan(from, deadLetterTypes, func(e *event.Event) error {
		if e.Seq > hwm {
			return ErrStop // the next call reads it
		}
		var p struct {
			Handler  string `json:"handler"`
			EventSeq uint64 `json:"event_seq"`
			Error    string `json:"error"`
			Attempts int    `json:"attempts"`
		}
		_ = json.Unmarshal(e.Payload, &p) // the schema checked it at append
		switch e.Type {
		case "handler_failed":
			dl := &DeadLetter{Seq: e.Seq, ID: e.ID.String(), Handler: p.Handler, EventSeq: p.EventSeq,
				Error: p.Error, Attempts: p.Attempts, Time: e.Time}
			d.byID[dl.ID] = dl
			d.bySeq[dl.Seq] = dl
		case "handler_redelivered":
			if dl, ok := d.byID[e.CausationID]; ok && dl.RedeliveredBy == 0 {
				dl.RedeliveredBy = e.Seq
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal: dead letters: %w", err)
	}
	d.scanned = max(d.scanned, hwm)
	return nil
}

// Open returns the open dead letters of handler ("" = every handler), in
// seq order.
func (d *DeadLetters) Open(handler string) ([]DeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.update(); err != nil {
		return nil, err
	}
	out := []DeadLetter{}
	for _, dl := range d.bySeq {
		if dl.RedeliveredBy == 0 && (handler == "" || dl.Handler == handler) {
			out = append(out, *dl)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out, nil
}

// find returns the dead letter at seq, as of the journal now.
func (d *DeadLetters) find(seq uint64) (DeadLetter, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.update(); err != nil {
		return DeadLetter{}, false, err
	}
	dl, ok := d.bySeq[seq]
	if !ok {
		return DeadLetter{}, false, nil
	}
	return *dl, true, nil
}

// Redeliver runs the subscription's handler once more on the original event
// of its dead letter at seq (the handler_failed event's seq). On success it
// appends handler_redelivered {handler, event_seq, attempts} with the dead
// letter's id as causation_id; attempts counts the runs the journal knows
// of: the dead letter's plus this one. When the handler fails again, the
// error wraps ErrHandlerFailed, nothing is appended and the letter stays
// open. The handler never runs concurrently with its own subscription.
func (d *DeadLetters) Redeliver(ctx context.Context, s *Subscription, seq uint64) (Redelivery, error) {
	return d.RedeliverFunc(ctx, s.name, s.call, seq)
}

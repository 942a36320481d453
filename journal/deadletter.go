package journal

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
)

// HandlerFailed is the dead letter a subscription journals when its handler
// gave up on e after attempts runs, cause being the last error:
// handler_failed {handler, event_seq, error, attempts}, e's id as its
// causation_id. ok is false when e is itself a dead letter of that handler
// (writing another would loop: the caller logs and counts it instead).
// redelivered is how many of the handler's dead letters for e were
// redelivered before (Journal.Redeliveries).
//
// Its id is derived from the handler's name, e's id and redelivered
// (DerivedID): a handler gives up on an event at most once in the journal
// between two redeliveries, however many times the dead letter is written
// (a node that journaled it and died before it could move its cursor or
// acknowledge; two nodes of a cluster). A second write is answered as a
// duplicate (or an id_conflict when its error text differs), never
// journaled twice. A failure after a redelivery (the subscription handed
// the event to the handler again) is a new letter, open, not a duplicate of
// the resolved one. Before any redelivery the id is what it always was;
// dead letters journaled with random ids (older journals) count alike.
func HandlerFailed(handler string, e *event.Event, cause error, attempts, redelivered int) (dead event.Event, ok bool) {
	if e.Type == "handler_failed" && handlerOf(e) == handler {
		return event.Event{}, false
	}
	payload, _ := json.Marshal(map[string]any{
		"handler": handler, "event_seq": e.Seq, "error": cause.Error(), "attempts": attempts,
	})
	kind := "handler_failed"
	if redelivered > 0 {
		kind = fmt.Sprintf("handler_failed#%d", redelivered)
	}
	return event.Event{ID: DerivedID(kind, handler, e.ID), Type: "handler_failed",
		Source: event.DecisionSourcePrefix + "subscriptions", Payload: payload,
		CausationID: e.ID.String(), CorrelationID: e.CorrelationID}, true
}

// DerivedID is the id of an event that exists at most once for a (kind,
// handler, cause) triple: the cause's time (so ids still sort roughly by
// time) and 80 bits of sha256 of the three.
func DerivedID(kind, handler string, cause ulid.ULID) ulid.ULID {
	sum := sha256.Sum256([]byte(kind + "\x00" + handler + "\x00" + cause.String()))
	var id ulid.ULID
	_ = id.SetTime(cause.Time()) // a ULID's time always fits
	_ = id.SetEntropy(sum[:10])
	return id
}

// RedeliverFunc is Redeliver for a handler that is not a Subscription of
// this journal (cluster mode's shared subscriptions): call runs the handler
// once on the original event, serialised with its other runs on this node.
// The handler_redelivered it journals has an id derived from the dead
// letter's, so that two nodes redelivering one letter at once journal it
// once: the second is answered ErrRedelivered.
func (d *DeadLetters) RedeliverFunc(ctx context.Context, handler string, call func(context.Context, *event.Event) error, seq uint64) (Redelivery, error) {
	d.redo.Lock()
	defer d.redo.Unlock()
	dl, ok, err := d.find(seq)
	switch {
	case err != nil:
		return Redelivery{}, err
	case !ok || dl.Handler != handler:
		return Redelivery{}, fmt.Errorf("%w: seq %d, handler %s", ErrNotDeadLetter, seq, handler)
	case dl.RedeliveredBy != 0:
		return Redelivery{DeadLetter: dl, Seq: dl.RedeliveredBy}, fmt.Errorf("%w: dead letter %d by seq %d", ErrRedelivered, seq, dl.RedeliveredBy)
	}
	orig, err := d.j.Get(dl.EventSeq)
	if err != nil {
		return Redelivery{DeadLetter: dl}, fmt.Errorf("journal: redeliver dead letter %d: original event: %w", seq, err)
	}
	if err := call(ctx, &orig); err != nil {
		d.j.log.Warn("redelivery failed; the dead letter stays open", "subscription", handler, "dead_letter", seq, "seq", dl.EventSeq, "err", err)
		return Redelivery{DeadLetter: dl}, fmt.Errorf("%w: handler %s on seq %d: %w", ErrHandlerFailed, handler, dl.EventSeq, err)
	}
	attempts := max(dl.Attempts, 0) + 1
	payload, _ := json.Marshal(map[string]any{"handler": handler, "event_seq": dl.EventSeq, "attempts": attempts})
	dlID, _ := ulid.ParseStrict(dl.ID) // journaled ids parse
	ev := event.Event{ID: DerivedID("handler_redelivered", handler, dlID), Type: "handler_redelivered",
		Source: event.DecisionSourcePrefix + "subscriptions", Payload: payload,
		CausationID: dl.ID, CorrelationID: orig.CorrelationID}
	res, err := d.j.Append(ctx, []event.Event{ev}, AppendOptions{Validated: true})
	if err != nil {
		return Redelivery{DeadLetter: dl}, fmt.Errorf("journal: redeliver dead letter %d: journaling handler_redelivered: %w", seq, err)
	}
	switch res[0].Status {
	case Refused:
		return Redelivery{DeadLetter: dl}, fmt.Errorf("journal: redeliver dead letter %d: handler_redelivered refused: %w", seq, res[0].Refusal)
	case Duplicate: // another node resolved it meanwhile
		return Redelivery{DeadLetter: dl, Seq: res[0].Seq}, fmt.Errorf("%w: dead letter %d by seq %d", ErrRedelivered, seq, res[0].Seq)
	}
	r := Redelivery{DeadLetter: dl, Seq: res[0].Seq, ID: res[0].ID.String(), Attempts: attempts}
	r.DeadLetter.RedeliveredBy = r.Seq
	d.j.log.Info("dead letter redelivered", "subscription", handler, "dead_letter", seq, "seq", dl.EventSeq, "redelivered_seq", r.Seq)
	return r, nil
}

// Redeliveries is how many handler_redelivered events of handler for the
// event at eventSeq the journal holds (as far as it is durable): the
// redelivered argument of HandlerFailed. It reads the dead-letter events
// through the type index; dead letters are rare.
func (j *Journal) Redeliveries(handler string, eventSeq uint64) (int, error) {
	hwm := j.Durable()
	n := 0
	err := j.Scan(eventSeq+1, Filter{Types: []string{"handler_redelivered"}}, func(e *event.Event) error {
		if e.Seq > hwm {
			return ErrStop
		}
		var p struct {
			Handler  string `json:"handler"`
			EventSeq uint64 `json:"event_seq"`
		}
		if json.Unmarshal(e.Payload, &p) == nil && p.Handler == handler && p.EventSeq == eventSeq {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("journal: redeliveries of %s on seq %d: %w", handler, eventSeq, err)
	}
	return n, nil
}

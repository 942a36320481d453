package journal

import (
	"context"
	"fmt"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
)

// AppendOptions say how one append is taken.
type AppendOptions struct {
	// Atomic: the events land together or not at all. The first refusal
	// refuses the whole append (Append returns it as the error, Index naming
	// the member); duplicates are not refusals.
	Atomic bool
	// Remote is the caller's address, kept in the rejected log.
	Remote string
	// Validated says the events come from event.Decoder, which has validated
	// them already; the journal then skips its own validation.
	Validated bool
	// AnswerWhenStored, in a replica (cluster mode), answers the append
	// once the log of record stored its group and the replica applied it,
	// without waiting for the replica's fsync, which adds nothing to what
	// the answer promises (the log holds the events). Durable() may then
	// not include the events yet when Append returns: it is for appends
	// forwarded from another node, whose client reads there, not here.
	// An append with a duplicate, a refusal or a decision still waits for
	// the fsync (its rejected-log entries are the replica's own; its
	// decisions are read back from the replica). Ignored on a journal that
	// is not a replica.
	AnswerWhenStored bool
}

// Status is what became of one appended event.
type Status uint8

// Statuses of a Result.
const (
	Appended  Status = iota + 1 // journaled at Seq
	Duplicate                   // already journaled at Seq; nothing appended
	Refused                     // see Refusal; in the rejected log
)

func (s Status) String() string {
	switch s {
	case Appended:
		return "appended"
	case Duplicate:
		return "duplicate"
	case Refused:
		return "refused"
	}
	return fmt.Sprintf("Status(%d)", s)
}

// Result is the answer for one event of an append.
type Result struct {
	Status Status
	// Seq is the event's seq (Appended) or the seq of the event it repeats
	// (Duplicate).
	Seq uint64
	ID  ulid.ULID
	// Decisions is how many decisions the hook added after the event; they
	// hold the seqs Seq+1 … Seq+Decisions.
	Decisions int
	// Refusal is set when Status is Refused.
	Refusal *event.Error
}

type request struct {
	events  []event.Event
	opts    AppendOptions
	results []Result
	// reject is a request that only writes rejected-log entries (Reject).
	reject []Rejection
	// replica: events of the log of record for a replica (Replicate).
	replica bool
	// seqLo, seqHi: the seqs [seqLo, seqHi) the request took in its group
	// (its events and their decisions); rejWritten: its reject entries are
	// in the group's batch. Both for a replica's publish (replica.go).
	seqLo, seqHi uint64
	rejWritten   bool
	// answered: done was closed before the group's fsync
	// (AnswerWhenStored); the sync loop leaves it alone.
	answered bool
	err      error
	done     chan struct{}
}

// Append journals evs and answers once they are durable. It fills in the Seq,
// ID, Time and RecordedAt of every appended event in evs. Per-event results are
// in the returned slice; the error is non-nil only when nothing of the append
// was taken: ErrClosed, ErrFailed, a context error before it was queued, or —
// for an atomic append — the *event.Error that refused it.
//
// Once queued, an append is always answered after its group's fsync, even if
// ctx ends meanwhile: the caller learns what happened to its events.
func (j *Journal) Append(ctx context.Context, evs []event.Event, opts AppendOptions) ([]Result, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	req := &request{events: evs, opts: opts, results: make([]Result, len(evs)), done: make(chan struct{})}
	if !opts.Validated {
		for i := range evs {
			if err := j.opts.Check(&evs[i]); err != nil {
				err.Index = i
				req.results[i] = Result{Status: Refused, Refusal: err}
			}
		}
	}
	if j.replica != nil {
		return j.appendAtHead(ctx, req) // replica.go
	}
	if err := j.enqueue(ctx, req); err != nil {
		return nil, err
	}
	<-req.done
	if req.err != nil {
		return nil, req.err
	}
	return req.results, nil
}

// AppendOne is Append for one event.
func (j *Journal) AppendOne(ctx context.Context, e *event.Event) (Result, error) {
	evs := []event.Event{*e}
	res, err := j.Append(ctx, evs, AppendOptions{})
	if err != nil {
		return Result{}, err
	}
	*e = evs[0]
	return res[0], nil
}

// enqueue queues a request for the sequencer; an error means it was not
// queued (ErrNotLanded).
func (j *Journal) enqueue(ctx context.Context, req *request) error {
	if j.Err() != nil {
		return j.refusedAfterFailure()
	}
	j.closeMu.RLock()
	defer j.closeMu.RUnlock()
	if j.closed.Load() {
		return notLanded(ErrClosed)
	}
	select {
	case j.reqs <- req:
		return nil
	case <-ctx.Done():
		return notLanded(ctx.Err())
	}
}

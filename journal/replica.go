package journal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
)

// A replicated journal (cluster mode) is a local replica of a log of record
// that other nodes append to as well (a JetStream stream; package cluster).
// The log's sequence is the journal's seq. The sequencer stays the single
// writer of the replica:
//
//   - events the log holds but the replica does not (other nodes' appends)
//     come in through Replicate, in order; the sequencer writes them with
//     their seqs, ids and recorded_at, and folds them into the hook without
//     running it (their decisions are already in the log as their own
//     events);
//   - a group of appends is sequenced as on one node (ids checked against
//     the replica, the hook admits and decides), then, before the group's
//     Pebble batch is applied, its events are published to the log as
//     atomic batches whose first message expects the log's last seq to be
//     the group's first seq - 1. Only when the log stored them is the batch
//     applied and the appends answered (after the replica's fsync, or once
//     applied for AppendOptions.AnswerWhenStored). The group is the only
//     one in flight: a group published behind it, expecting its last seq,
//     would land on another node's events of the same length if those took
//     its seqs (the log checks the seq, not what holds it; see
//     docs/cluster.md, "Performance"). When the log refuses (another node
//     appended first) or does not answer, the hook is rolled back to its
//     savepoint, nothing of the group is applied, and Append catches the
//     replica up and retries, bounded.

// HeadMovedError is ErrHeadMoved with the log's last seq when it is known.
type HeadMovedError struct{ Head uint64 }

func (e *HeadMovedError) Error() string {
	return fmt.Sprintf("%v (its last seq is %d)", ErrHeadMoved, e.Head)
}

func (e *HeadMovedError) Unwrap() error { return ErrHeadMoved }

// Replicator is the log of record of a replicated journal.
type Replicator interface {
	// Publish stores evs — consecutive seqs from evs[0].Seq, complete
	// with ids, times and recorded_at — as one atomic batch, on condition
	// that the log's last seq is evs[0].Seq-1. It returns nil once the log
	// acknowledged them (a quorum stored them). Its errors wrap
	// ErrHeadMoved or ErrNoQuorum when nothing was stored; any other error
	// means the outcome is unknown.
	Publish(ctx context.Context, evs []event.Event) error
	// Head returns the log's last seq.
	Head(ctx context.Context) (uint64, error)
}

// ReplicaHook is what the Hook of a replicated journal implements besides
// Hook.
type ReplicaHook interface {
	Hook
	// FoldReplicated applies events that another node journaled (with
	// their decisions, which follow them as their own events): never
	// refused, no decisions taken.
	FoldReplicated(evs []event.Event)
	// Savepoint marks the state between transactions (before a group);
	// RollbackToSavepoint returns to it, undoing transactions committed
	// since. An error from RollbackToSavepoint fails the journal.
	// GroupDone follows every Savepoint once the group is published or
	// undone, so a hook may hold a lock from Savepoint to GroupDone (and
	// show readers only what the log stored).
	Savepoint()
	RollbackToSavepoint() error
	GroupDone()
}

// ReplicaOptions make a journal the replica of a log of record.
type ReplicaOptions struct {
	// Log is the log of record. Required.
	Log Replicator
	// MaxBatch is the most events one atomic publish carries (default
	// 1,000, JetStream's limit). A group with more is published as several
	// batches, each expecting the last seq of the one before.
	MaxBatch int
	// PublishTimeout bounds one publish (default 5 s).
	PublishTimeout time.Duration
	// RetryFor bounds how long Append retries a group the log refused or
	// did not answer (default 15 s, longer than a leader election).
	RetryFor time.Duration
	// OnRetry, when set, is called for every retry with its reason.
	OnRetry func(reason error)
}

func (o *ReplicaOptions) fill() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 5 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 15 * time.Second
	}
}

// replicaState is the sequencer's replica bookkeeping for the group being
// built.
type replicaState struct {
	opts ReplicaOptions
	hook ReplicaHook // nil without a hook
	// replicated holds the events of the group that came from the log;
	// rej is the rejected log's state before the group.
	replicated []event.Event
	rej        rejectedState
	// head is the log's last seq as a refusal told it: while the replica
	// is behind it, a group would be refused again, so it is not published.
	head uint64
}

// initReplica sets up replication at Open.
func (j *Journal) initReplica() error {
	ro := j.opts.Replica
	if ro == nil {
		return nil
	}
	if ro.Log == nil {
		return errors.New("journal: Options.Replica.Log: nil; want the log of record")
	}
	rs := &replicaState{opts: *ro}
	rs.opts.fill()
	if j.opts.Hook != nil {
		h, ok := j.opts.Hook.(ReplicaHook)
		if !ok {
			return fmt.Errorf("journal: Options.Hook: %T does not implement ReplicaHook, which a replicated journal needs", j.opts.Hook)
		}
		rs.hook = h
	}
	j.replica = rs
	return nil
}

// Replicate applies events the log of record holds to the replica, in
// order, and returns once they are durable. Events the replica already holds
// (seq < Durable()+1 or sequenced meanwhile) are skipped; an event past the
// replica's next seq is ErrReplicaGap, and nothing from it on is applied.
func (j *Journal) Replicate(ctx context.Context, evs []event.Event) error {
	if j.replica == nil {
		return errors.New("journal: Replicate on a journal that is not a replica")
	}
	if len(evs) == 0 {
		return nil
	}
	req := &request{events: evs, replica: true, done: make(chan struct{})}
	if err := j.enqueue(ctx, req); err != nil {
		return err
	}
	<-req.done
	return req.err
}

// replicaBegin (sequencer) writes the group's replicated events first, folds
// them into the hook, and takes the savepoint the group rolls back to.
func (j *Journal) replicaBegin(g *group) {
	rs := j.replica
	if rs == nil {
		return
	}
	rs.replicated = rs.replicated[:0]
	for _, r := range g.reqs {
		if !r.replica {
			continue
		}
		for i := range r.events {
			e := &r.events[i]
			if e.Seq < j.next {
				continue // this node's own append, or replicated already
			}
			if e.Seq > j.next {
				r.err = fmt.Errorf("%w: the replica's next seq is %d, got %d", ErrReplicaGap, j.next, e.Seq)
				break
			}
			j.write(g, e)
			g.rememberReplicated(e, j.opts.DedupWindow > 0)
			j.next++
			rs.replicated = append(rs.replicated, *e)
		}
		r.events = nil // process has nothing left to do for it
	}
	if rs.hook != nil {
		if len(rs.replicated) > 0 {
			rs.hook.FoldReplicated(rs.replicated)
		}
		rs.hook.Savepoint()
	}
	rs.rej = j.rej
}

// rememberReplicated lets later lookups of the group see a replicated event.
func (g *group) rememberReplicated(e *event.Event, dedup bool) {
	if g.ids == nil {
		g.ids = map[ulid.ULID]*event.Event{}
	}
	g.ids[e.ID] = e
	if dedup && !e.NoDedup {
		if g.dedup == nil {
			g.dedup = map[[32]byte][]dedupEntry{}
		}
		key := event.ContentKey(e)
		g.dedup[key] = append(g.dedup[key], dedupEntry{seq: e.Seq, timeMs: e.Time.UnixMilli()})
	}
}

// replicaPublish (sequencer) publishes the events the group sequenced to the
// log of record. When the log does not take them, the group is undone: the
// hook rolls back, the batch keeps only the replicated events and the
// rejected-log writes, and every append of the group is answered with the
// retryable error.
func (j *Journal) replicaPublish(g *group) {
	rs := j.replica
	if rs == nil {
		return
	}
	if rs.hook != nil {
		defer rs.hook.GroupDone()
	}
	if j.next == g.firstSeq {
		return
	}
	if rs.head >= g.firstSeq {
		j.replicaUndo(g, &HeadMovedError{Head: rs.head})
		return
	}
	evs, err := j.groupEvents(g)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), rs.opts.PublishTimeout)
		stored := 0
		for _, b := range publishBatches(g, evs, rs.opts.MaxBatch) {
			if err = rs.opts.Log.Publish(ctx, b); err != nil {
				break
			}
			stored += len(b)
		}
		cancel()
		if err == nil {
			g.published = true
			return
		}
		if hm := (*HeadMovedError)(nil); errors.As(err, &hm) {
			rs.head = max(rs.head, hm.Head)
		}
		switch {
		case stored > 0:
			// part of the group is in the log: every append of it may have
			// landed (the retry finds out, by id)
			err = fmt.Errorf("%w: the log stored %d of the group's %d events, then: %v", ErrPublishUnknown, stored, len(evs), err)
		case !errors.Is(err, ErrHeadMoved) && !errors.Is(err, ErrNoQuorum):
			err = fmt.Errorf("%w: %w", ErrPublishUnknown, err)
		}
	}
	j.replicaUndo(g, err)
}

// answerStored (sequencer) answers the appends of a group the log of record
// stored, and the replica applied, that asked not to wait for the replica's
// fsync (AppendOptions.AnswerWhenStored). Their answer cannot change: the
// log holds the group, so a later failure of the replica's fsync says
// nothing about them. Only appends whose every event was appended and
// caused no decision are answered early: a duplicate or a refusal writes a
// rejected-log entry, which is the replica's own and is answered once
// durable, as on one node; decisions are read back from the replica by the
// caller (Result.Decisions), which reads only what is durable.
func (j *Journal) answerStored(g *group) {
	if !g.published {
		return
	}
	for _, r := range g.reqs {
		if r.opts.AnswerWhenStored && !r.replica && r.err == nil && plainlyAppended(r.results) {
			r.answered = true
			close(r.done)
		}
	}
}

// plainlyAppended: every event appended, none with decisions.
func plainlyAppended(res []Result) bool {
	for _, x := range res {
		if x.Status != Appended || x.Decisions > 0 {
			return false
		}
	}
	return len(res) > 0
}

// publishBatches cuts the group's events (evs, from g.firstSeq) into
// publishes of at most max events at the boundaries of its appends, so that
// one append (its events and their decisions) never spans two publishes of
// which one may land without the other. Only an append longer than max by
// itself is cut inside.
func publishBatches(g *group, evs []event.Event, max int) [][]event.Event {
	var out [][]event.Event
	start := 0 // index in evs of the open batch's first event
	for _, r := range g.reqs {
		if r.replica || r.seqHi <= r.seqLo {
			continue
		}
		lo, hi := int(r.seqLo-g.firstSeq), int(r.seqHi-g.firstSeq)
		if hi-start > max && lo > start { // it does not fit: close the batch before it
			out = append(out, evs[start:lo])
			start = lo
		}
		for hi-start > max { // an append longer than a batch
			out = append(out, evs[start:start+max])
			start += max
		}
	}
	if start < len(evs) {
		out = append(out, evs[start:])
	}
	return out
}

// groupEvents decodes the events the group sequenced (seq ≥ firstSeq) from
// its batch, in seq order.
func (j *Journal) groupEvents(g *group) ([]event.Event, error) {
	evs := make([]event.Event, 0, j.next-g.firstSeq)
	r := g.batch.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("journal: reading the group's batch: %w", err)
		}
		if !ok {
			break
		}
		if kind != pebble.InternalKeyKindSet || len(k) != 9 || k[0] != prefixEvent {
			continue
		}
		seq := seqSuffix(k)
		if seq < g.firstSeq {
			continue
		}
		var e event.Event
		if err := decodeRecord(seq, v, &e); err != nil {
			return nil, err
		}
		e.Payload = slices.Clone(e.Payload)
		evs = append(evs, e)
	}
	if uint64(len(evs)) != j.next-g.firstSeq {
		return nil, fmt.Errorf("%w: the group sequenced %d events, its batch holds %d", ErrCorrupt, j.next-g.firstSeq, len(evs))
	}
	return evs, nil
}

// replicaUndo takes back a group the log of record did not store.
func (j *Journal) replicaUndo(g *group, cause error) {
	rs := j.replica
	j.log.Debug("group not stored by the log of record; retrying", "first_seq", g.firstSeq, "events", j.next-g.firstSeq, "err", cause)
	if rs.hook != nil {
		if err := rs.hook.RollbackToSavepoint(); err != nil {
			j.fail(fmt.Errorf("rolling the hook back after the log refused a group: %w", err))
			cause = j.Err()
		}
	}
	j.next = g.firstSeq
	j.rej = rs.rej
	j.rejAdded = nil
	g.batch.Close()
	g.batch = j.db.NewBatch()
	g.ids, g.dedup = nil, nil
	for i := range rs.replicated {
		e := &rs.replicated[i]
		j.write(g, e)
		g.rememberReplicated(e, j.opts.DedupWindow > 0)
	}
	for _, r := range g.reqs {
		if r.rejWritten { // not one the disk guard refused before writing
			for _, rej := range r.reject {
				j.addRejection(g.batch, rej)
			}
		}
		if r.replica || len(r.events) == 0 {
			continue
		}
		// Every append of the group is judged again at the head, refused
		// atomic appends included: they were judged on a stale state.
		r.err = cause
		r.results = nil
	}
}

// isReplicaRetry says whether err is one Append retries in a replica.
func isReplicaRetry(err error) bool {
	return errors.Is(err, ErrHeadMoved) || errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrPublishUnknown)
}

// appendAtHead is Append on a replica: it queues req and, while the log of
// record refuses or does not answer, catches the replica up to the log's
// head and queues it again, within RetryFor. After an unknown outcome the
// final answer stays unknown unless a later attempt settles it.
func (j *Journal) appendAtHead(ctx context.Context, req *request) ([]Result, error) {
	rs := j.replica
	initial := slices.Clone(req.results)
	deadline := time.Now().Add(rs.opts.RetryFor)
	unknown := false
	backoff := 10 * time.Millisecond
	for {
		if err := j.enqueue(ctx, req); err != nil {
			return nil, j.finalReplicaErr(err, unknown)
		}
		<-req.done
		err := req.err
		if err == nil {
			return req.results, nil
		}
		if !isReplicaRetry(err) {
			return nil, j.finalReplicaErr(err, unknown)
		}
		if errors.Is(err, ErrPublishUnknown) {
			unknown = true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, j.finalReplicaErr(err, unknown)
		}
		if rs.opts.OnRetry != nil {
			rs.opts.OnRetry(err)
		}
		if !j.catchUpToHead(ctx, err, deadline) {
			if !sleepUntil(ctx, backoff, deadline) {
				return nil, j.finalReplicaErr(err, unknown)
			}
			backoff = min(2*backoff, 250*time.Millisecond)
		}
		req.err, req.done = nil, make(chan struct{})
		req.results = slices.Clone(initial)
		for i := range req.events {
			req.events[i].Seq = 0
		}
	}
}

// finalReplicaErr is the answer after the last attempt: unknown if any
// attempt's outcome was unknown and none settled it.
//
// Once an attempt's outcome was unknown, every later failure is answered
// unknown too: a refusal, a full disk or a closed journal on a retry says
// nothing of whether that earlier publish landed (%v: the last error is
// told, not matched, so that it never reads as "not landed").
func (j *Journal) finalReplicaErr(err error, unknown bool) error {
	if unknown {
		return fmt.Errorf("%w (an earlier attempt's outcome is unknown; the last attempt: %v)", ErrPublishUnknown, err)
	}
	return err
}

// catchUpToHead waits until the replica holds the log's head (from the
// error, or asked). It reports false when the head cannot be learnt (no
// quorum) or not reached before the deadline.
func (j *Journal) catchUpToHead(ctx context.Context, cause error, deadline time.Time) bool {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var head uint64
	var hm *HeadMovedError
	if errors.As(cause, &hm) && hm.Head > 0 {
		head = hm.Head
	} else {
		// Short: a request during an election goes unanswered, and the
		// append waits for the next one (sleepUntil) meanwhile.
		hctx, hcancel := context.WithTimeout(ctx, time.Second)
		h, err := j.replica.opts.Log.Head(hctx)
		hcancel()
		if err != nil {
			return false
		}
		head = h
	}
	return j.WaitDurable(ctx, head) == nil
}

func sleepUntil(ctx context.Context, d time.Duration, deadline time.Time) bool {
	if time.Now().Add(d).After(deadline) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

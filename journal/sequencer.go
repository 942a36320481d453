package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
)

// group is what one group commit carries: the requests it answers and the
// batch that holds their writes.
type group struct {
	reqs    []*request
	batch   *pebble.Batch
	lastSeq uint64
	// ids and dedup remember what this group has sequenced so far, because
	// its batch is not applied yet and a lookup in Pebble cannot see it.
	ids   map[ulid.ULID]*event.Event
	dedup map[[32]byte][]dedupEntry
	// dedupIt reads the journaled dedup memory (opened at the group's first
	// lookup, closed before the batch is applied).
	dedupIt *pebble.Iterator
	now     time.Time
	buf     []byte
	kbuf    []byte
	// space is the free space of the journal's file system when the group
	// started (-1: not measured; see Options.DiskReserve).
	space int64
	// firstSeq is the group's first seq; applied is when its batch went to
	// Pebble (the fsync wait starts there).
	firstSeq uint64
	applied  time.Time
	// published: the log of record stored the group (cluster mode).
	published bool
	// rejections are the rejected-log entries it wrote (only with
	// Options.OnRejected).
	rejections []Rejection
	// building: requests are sequenced into the batch as they are taken
	// (runGroup).
	building bool
}

type dedupEntry struct {
	seq    uint64
	timeMs int64
}

// answer closes every request of the group; err is the answer of those
// that have none of their own yet (nil: their results stand).
func (g *group) answer(err error) {
	for _, r := range g.reqs {
		if r.answered {
			continue // answered once the log stored it (replica.go)
		}
		if err != nil && r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// sequence is the sequencer goroutine: it owns j.next and the hook.
func (j *Journal) sequence() {
	defer close(j.seqDone)
	defer close(j.syncs)
	for {
		var first *request
		select {
		case first = <-j.reqs:
			j.gat.received()
		case <-j.stop:
			// Close holds closeMu while closing stop, so nothing more is
			// sent: take what is queued, then leave.
			for {
				select {
				case r := <-j.reqs:
					j.gat.received()
					j.runGroup(r)
				default:
					return
				}
			}
		}
		j.runGroup(first)
	}
}

// runGroup builds one group commit from the waiting requests, applies its
// batch and hands it to the sync loop.
//
// The group is built as its requests arrive: while it gathers (gather.go),
// which includes the time the previous group spends in its fsync, each
// request is sequenced into the batch at once, so that when the group goes
// only the hand-over to Pebble is left. A replica (cluster mode) builds
// its group once collected, because the replicated events of the log of
// record go first (replicaBegin); so does a journal that has failed, whose
// requests are all refused.
func (j *Journal) runGroup(first *request) {
	g := &group{}
	if j.replica == nil && j.Err() == nil {
		j.beginGroup(g)
		g.building = true
	}
	j.collect(g, first)
	if !g.building {
		if err := j.Err(); err != nil {
			g.answer(j.refusedAfterFailure())
			return
		}
		j.beginGroup(g)
		for _, r := range g.reqs {
			j.processReq(g, r)
		}
	}
	g.closeLookups()
	j.replicaPublish(g) // cluster mode: the log of record stores the group first
	g.lastSeq = j.next - 1
	g.rejections, j.rejAdded = j.rejAdded, nil
	if err := j.applyGroup(g); err != nil {
		if g.published {
			// the log of record holds the group: whatever the replica's
			// trouble, the answer is never "not landed"
			err = fmt.Errorf("%w: the log of record stored the group, this replica could not write it: %v", ErrPublishUnknown, err)
		}
		g.answer(err)
		return
	}
	j.answerStored(g) // cluster mode: appends that need not wait for the fsync
	j.gat.handed()
	j.syncs <- g
}

// beginGroup opens a group's batch: its clock, its first seq, the free
// space its appends are measured against.
func (j *Journal) beginGroup(g *group) {
	g.batch = j.db.NewBatch()
	g.now = event.Millis(j.opts.Now())
	j.rejAdded = nil
	j.replicaBegin(g) // cluster mode: replicated events first (replica.go)
	g.firstSeq = j.next
	g.space = j.freeSpace()
}

// take adds r to the group, sequencing it at once when the group is being
// built as it gathers.
func (j *Journal) take(g *group, r *request) {
	g.reqs = append(g.reqs, r)
	if g.building {
		j.processReq(g, r)
	}
}

// processReq sequences one request into the group's batch and records the
// seqs it took.
func (j *Journal) processReq(g *group, r *request) {
	r.seqLo = j.next
	j.process(g, r)
	r.seqHi = j.next
}

// collect takes first and every request waiting behind it, then gathers
// more while the log is busy (gather.go), up to MaxGroupEvents.
func (j *Journal) collect(g *group, first *request) {
	j.take(g, first)
	n := len(first.events) + len(first.reject)
	for n < j.opts.MaxGroupEvents {
		select {
		case r := <-j.reqs:
			j.gat.received()
			j.take(g, r)
			n += len(r.events) + len(r.reject)
		default:
			j.gather(g, n)
			return
		}
	}
}

// syncLoop waits for each group's fsync in order, publishes the high-water
// mark and answers the group.
func (j *Journal) syncLoop() {
	defer close(j.synDone)
	for g := range j.syncs {
		err := j.syncGroup(g)
		var took time.Duration
		if !g.applied.IsZero() {
			took = time.Since(g.applied)
		}
		j.gat.answered(len(g.reqs), took)
		if err != nil {
			g.answer(err)
			continue
		}
		if g.lastSeq > j.durable.Load() {
			j.publish(g.lastSeq)
		}
		if j.opts.OnCommit != nil && !g.applied.IsZero() {
			j.opts.OnCommit(CommitStats{Requests: len(g.reqs), Events: int(g.lastSeq + 1 - g.firstSeq), Sync: took})
		}
		if len(g.rejections) > 0 {
			j.opts.OnRejected(g.rejections)
		}
		g.answer(nil)
	}
}

// pending is one request being sequenced: what it has done so far, undone
// when it does not land.
type pending struct {
	r         *request
	tx        Hook
	startNext uint64
	staged    []*event.Event
	ids       []ulid.ULID // ids it added to g.ids
	keys      [][32]byte  // content keys it added to g.dedup
	// rejections are its rejected-log entries (duplicates, refusals of
	// single events): written only if the request lands, so that a refused
	// atomic append leaves nothing but its refusal.
	rejections []Rejection
}

// process sequences one request into the group's batch. A request is either
// wholly in the batch, answered per event, or wholly absent: refused
// (atomic), or not landed (its r.err says why) with its hook transaction
// rolled back, j.next reset and its ids and content keys forgotten. The rest
// of the group goes on either way.
func (j *Journal) process(g *group, r *request) {
	if r.replica {
		return // replicaBegin wrote its events: they are the log's, not refusable
	}
	if err := j.roomFor(g, r); err != nil {
		r.err, r.results = err, nil
		return
	}
	for _, rej := range r.reject {
		j.addRejection(g.batch, rej)
	}
	r.rejWritten = true
	if len(r.events) == 0 {
		return
	}
	p := &pending{r: r, tx: j.opts.Hook, startNext: j.next}
	if p.tx != nil {
		p.tx.Begin(r.opts.Atomic)
	}
	for i := range r.events {
		st, ref, err := j.step(g, p, i)
		switch {
		case err != nil:
			j.undo(g, p, notLanded(err))
			return
		case st == Refused && r.opts.Atomic:
			j.undo(g, p, ref)
			j.addRejection(g.batch, j.rejection(g, r, &r.events[i], ref, 0))
			return
		case st == Refused:
			if r.results[i].Status != Refused { // not refused by Check already
				r.results[i] = Result{Status: Refused, ID: r.events[i].ID, Refusal: ref}
			}
			p.rejections = append(p.rejections, j.rejection(g, r, &r.events[i], ref, 0))
		}
	}
	if p.tx != nil {
		p.tx.Commit()
	}
	for _, e := range p.staged {
		j.write(g, e)
	}
	for _, rej := range p.rejections {
		j.addRejection(g.batch, rej)
	}
}

// step sequences the i-th event of a request: it is appended (staged with
// its decisions, seqs taken), a duplicate (its result says of what; its
// rejected-log entry is pending) or refused (the refusal is returned; the
// caller decides what that does to the request). err is a read error: the
// event's fate is unknown, the request cannot land.
func (j *Journal) step(g *group, p *pending, i int) (Status, *event.Error, error) {
	r := p.r
	e, res := &r.events[i], &r.results[i]
	if res.Status == Refused { // by Check, before the sequencer
		return Refused, res.Refusal, nil
	}
	e.Seq, e.RecordedAt = 0, g.now
	if e.Time.IsZero() {
		e.Time = g.now
	}
	if e.ID == (ulid.ULID{}) {
		e.ID = j.newID(g.now)
	} else if seq, orig, err := j.lookupID(g, e.ID); err != nil {
		return 0, nil, err
	} else if seq != 0 {
		if orig != nil && !event.SameContent(orig, e) {
			ref := event.Errorf(event.CodeIDConflict, "id",
				fmt.Sprintf("send a new id, or the same content as seq %d", seq),
				"id %s is journaled at seq %d with other content", e.ID, seq)
			ref.Index = i
			return Refused, ref, nil
		}
		j.duplicate(g, p, i, seq, "id", fmt.Sprintf("id %s is already journaled at seq %d", e.ID, seq))
		return Duplicate, nil, nil
	}
	var key [32]byte
	dedup := j.opts.DedupWindow > 0 && !e.NoDedup
	if dedup {
		key = event.ContentKey(e)
		if seq, err := j.lookupDedup(g, key, e.Time); err != nil {
			return 0, nil, err
		} else if seq != 0 {
			j.duplicate(g, p, i, seq, "", fmt.Sprintf("same content as seq %d within the %v dedup window", seq, j.opts.DedupWindow))
			return Duplicate, nil, nil
		}
	}
	e.Seq = j.next
	var decisions []event.Event
	if p.tx != nil {
		var ref *event.Error
		if decisions, ref = p.tx.Admit(e); ref != nil {
			ref.Index = i
			e.Seq = 0
			return Refused, ref, nil
		}
	}
	j.next += 1 + uint64(len(decisions))
	*res = Result{Status: Appended, Seq: e.Seq, ID: e.ID, Decisions: len(decisions)}
	j.stage(g, p, e)
	for d := range decisions {
		de := &decisions[d]
		de.Seq, de.RecordedAt = e.Seq+1+uint64(d), g.now
		j.stage(g, p, de)
	}
	return Appended, nil, nil
}

// stage keeps a sequenced event for the batch and remembers its id and
// content key for the rest of the group.
func (j *Journal) stage(g *group, p *pending, e *event.Event) {
	p.staged = append(p.staged, e)
	if g.ids == nil {
		g.ids = map[ulid.ULID]*event.Event{}
	}
	g.ids[e.ID] = e
	p.ids = append(p.ids, e.ID)
	if j.opts.DedupWindow > 0 && !e.NoDedup {
		key := event.ContentKey(e)
		if g.dedup == nil {
			g.dedup = map[[32]byte][]dedupEntry{}
		}
		g.dedup[key] = append(g.dedup[key], dedupEntry{seq: e.Seq, timeMs: e.Time.UnixMilli()})
		p.keys = append(p.keys, key)
	}
}

// duplicate answers the i-th event as a repeat of seq; its rejected-log
// entry waits for the request to land.
func (j *Journal) duplicate(g *group, p *pending, i int, seq uint64, field, msg string) {
	e := &p.r.events[i]
	p.r.results[i] = Result{Status: Duplicate, Seq: seq, ID: e.ID}
	p.rejections = append(p.rejections, j.rejection(g, p.r, e, &event.Error{Code: codeDuplicate, Index: i, Field: field, Message: msg}, seq))
}

// undo takes a request wholly out of the group: its hook transaction is
// rolled back, its seqs are given back, its ids and content keys forgotten;
// err (a refusal or ErrNotLanded) is its answer.
func (j *Journal) undo(g *group, p *pending, err error) {
	if p.tx != nil {
		p.tx.Rollback()
	}
	j.next = p.startNext
	for _, id := range p.ids {
		delete(g.ids, id)
	}
	for k := len(p.keys) - 1; k >= 0; k-- {
		key := p.keys[k]
		if es := g.dedup[key]; len(es) > 1 {
			g.dedup[key] = es[:len(es)-1]
		} else {
			delete(g.dedup, key)
		}
	}
	for i := range p.r.events {
		p.r.events[i].Seq = 0
	}
	p.r.err, p.r.results = err, nil
}

// codeDuplicate is the rejected-log code of a duplicate: not a refusal code
// (the append answers "duplicate"), but kept so that duplicates are visible.
const codeDuplicate event.Code = "duplicate"

// write puts one sequenced event into the batch: its record, its id key
// and, with a dedup window, its content key. The secondary indexes are
// built behind the log (index.go).
func (j *Journal) write(g *group, e *event.Event) {
	b := g.batch
	g.buf = appendRecord(g.buf[:0], e)
	g.kbuf = appendEventKey(g.kbuf[:0], e.Seq)
	_ = b.Set(g.kbuf, g.buf, nil)

	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], e.Seq)
	g.kbuf = append(g.kbuf[:0], prefixID)
	g.kbuf = append(g.kbuf, e.ID[:]...)
	_ = b.Set(g.kbuf, seq[:], nil)

	if j.opts.DedupWindow > 0 && !e.NoDedup {
		g.kbuf = appendDedupKey(g.kbuf[:0], event.ContentKey(e), e.Time.UnixMilli(), e.Seq)
		_ = b.Set(g.kbuf, nil, nil)
	}
}

// newID makes a ULID from the monotonic source (sequencer only).
func (j *Journal) newID(now time.Time) ulid.ULID {
	id, err := ulid.New(ulid.Timestamp(now), j.entropy)
	if err != nil {
		// The monotonic entropy overflowed within one millisecond (2^80
		// ids): take a fresh random one.
		id = ulid.Make()
	}
	return id
}

// lookupID finds a journaled (or earlier in this group) event by id. It returns
// seq 0 when the id is new; orig is the stored event for the content check.
func (j *Journal) lookupID(g *group, id ulid.ULID) (uint64, *event.Event, error) {
	if e, ok := g.ids[id]; ok {
		return e.Seq, e, nil
	}
	v, closer, err := j.db.Get(idKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("id lookup: %w", err)
	}
	seq := binary.BigEndian.Uint64(v)
	closer.Close()
	orig, err := j.getRaw(seq)
	if err != nil {
		return 0, nil, err
	}
	return seq, &orig, nil
}

// getRaw reads a record regardless of the high-water mark (sequencer only:
// it may be in a group applied but not yet synced).
func (j *Journal) getRaw(seq uint64) (event.Event, error) {
	var e event.Event
	v, closer, err := j.db.Get(eventKey(seq))
	if err != nil {
		return e, fmt.Errorf("journal: get seq %d: %w", seq, err)
	}
	defer closer.Close()
	return e, decodeRecord(seq, v, &e)
}

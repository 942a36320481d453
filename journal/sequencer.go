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
	dedup map[[32]byte]dedupEntry
	now   time.Time
	buf   []byte
	kbuf  []byte
	// firstSeq is the group's first seq; applied is when its batch went to
	// Pebble (the fsync wait starts there).
	firstSeq uint64
	applied  time.Time
}

type dedupEntry struct {
	seq    uint64
	timeMs int64
}

func (g *group) answer(err error) {
	for _, r := range g.reqs {
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
		case <-j.stop:
			// Close holds closeMu while closing stop, so nothing more is
			// sent: take what is queued, then leave.
			for {
				select {
				case r := <-j.reqs:
					j.runGroup(r)
				default:
					return
				}
			}
		}
		j.runGroup(first)
	}
}

func (j *Journal) runGroup(first *request) {
	g := &group{reqs: []*request{first}}
	n := len(first.events) + len(first.reject)
collect:
	for n < j.opts.MaxGroupEvents {
		select {
		case r := <-j.reqs:
			g.reqs = append(g.reqs, r)
			n += len(r.events) + len(r.reject)
		default:
			break collect
		}
	}
	if err := j.Err(); err != nil {
		g.answer(err)
		return
	}
	g.batch = j.db.NewBatch()
	g.now = event.Millis(j.opts.Now())
	j.replicaBegin(g) // cluster mode: replicated events first (replica.go)
	g.firstSeq = j.next
	for _, r := range g.reqs {
		j.process(g, r)
	}
	j.replicaPublish(g) // cluster mode: the log of record stores the group first
	g.lastSeq = j.next - 1
	if g.batch.Empty() {
		g.batch.Close()
		g.batch = nil
	} else {
		g.applied = time.Now()
		if err := j.db.ApplyNoSyncWait(g.batch, pebble.Sync); err != nil {
			g.batch.Close()
			g.batch = nil
			j.fail(fmt.Errorf("apply: %w", err))
			g.answer(j.Err())
			return
		}
	}
	j.syncs <- g
}

// syncLoop waits for each group's fsync in order, publishes the high-water
// mark and answers the group.
func (j *Journal) syncLoop() {
	defer close(j.synDone)
	for g := range j.syncs {
		if g.batch != nil {
			err := g.batch.SyncWait()
			g.batch.Close()
			if err != nil {
				j.fail(fmt.Errorf("sync: %w", err))
			}
		}
		if err := j.Err(); err != nil {
			g.answer(err)
			continue
		}
		if g.lastSeq > j.durable.Load() {
			j.publish(g.lastSeq)
		}
		if j.opts.OnCommit != nil && !g.applied.IsZero() {
			j.opts.OnCommit(CommitStats{Requests: len(g.reqs), Events: int(g.lastSeq + 1 - g.firstSeq), Sync: time.Since(g.applied)})
		}
		g.answer(nil)
	}
}

// abort fails the journal in the middle of a request: the hook's transaction
// ends rolled back (nothing of it is journaled) before the failure.
func (j *Journal) abort(tx Hook, err error) {
	if tx != nil {
		tx.Rollback()
	}
	j.fail(err)
}

// process sequences one request into the group's batch.
func (j *Journal) process(g *group, r *request) {
	for _, rej := range r.reject {
		j.addRejection(g.batch, rej)
	}
	if len(r.events) == 0 {
		return
	}
	tx := j.opts.Hook
	if tx != nil {
		tx.Begin(r.opts.Atomic)
	}
	startNext := j.next
	var staged []*event.Event
	var added []ulid.ULID     // ids this request added to g.ids
	var addedDedup [][32]byte // content keys it added to g.dedup
	var refusal *event.Error
	var refusedAt int

	for i := range r.events {
		e := &r.events[i]
		res := &r.results[i]
		if res.Status == Refused {
			if r.opts.Atomic {
				refusal, refusedAt = res.Refusal, i
				break
			}
			j.rejectEvent(g, r, e, res.Refusal, 0)
			continue
		}
		e.Seq, e.RecordedAt = 0, g.now
		if e.Time.IsZero() {
			e.Time = g.now
		}
		if e.ID == (ulid.ULID{}) {
			e.ID = j.newID(g.now)
		} else if seq, orig, err := j.lookupID(g, e.ID); err != nil {
			j.abort(tx, err)
			return
		} else if seq != 0 {
			if orig != nil && !event.SameContent(orig, e) {
				ref := event.Errorf(event.CodeIDConflict, "id",
					fmt.Sprintf("send a new id, or the same content as seq %d", seq),
					"id %s is journaled at seq %d with other content", e.ID, seq)
				ref.Index = i
				if r.opts.Atomic {
					refusal, refusedAt = ref, i
					break
				}
				*res = Result{Status: Refused, ID: e.ID, Refusal: ref}
				j.rejectEvent(g, r, e, ref, 0)
				continue
			}
			*res = Result{Status: Duplicate, Seq: seq, ID: e.ID}
			j.rejectEvent(g, r, e, &event.Error{Code: codeDuplicate, Index: i, Field: "id",
				Message: fmt.Sprintf("id %s is already journaled at seq %d", e.ID, seq)}, seq)
			continue
		}
		var key [32]byte
		dedup := j.opts.DedupWindow > 0 && !e.NoDedup
		if dedup {
			key = event.ContentKey(e)
			if seq, err := j.lookupDedup(g, key, e.Time); err != nil {
				j.abort(tx, err)
				return
			} else if seq != 0 {
				*res = Result{Status: Duplicate, Seq: seq, ID: e.ID}
				j.rejectEvent(g, r, e, &event.Error{Code: codeDuplicate, Index: i,
					Message: fmt.Sprintf("same content as seq %d within the %v dedup window", seq, j.opts.DedupWindow)}, seq)
				continue
			}
		}
		e.Seq = j.next
		var decisions []event.Event
		if tx != nil {
			var ref *event.Error
			decisions, ref = tx.Admit(e)
			if ref != nil {
				ref.Index = i
				e.Seq = 0
				if r.opts.Atomic {
					refusal, refusedAt = ref, i
					break
				}
				*res = Result{Status: Refused, ID: e.ID, Refusal: ref}
				j.rejectEvent(g, r, e, ref, 0)
				continue
			}
		}
		j.next += 1 + uint64(len(decisions))
		*res = Result{Status: Appended, Seq: e.Seq, ID: e.ID, Decisions: len(decisions)}
		staged = append(staged, e)
		g.remember(e, &added)
		if dedup {
			g.rememberDedup(key, e, &addedDedup)
		}
		for d := range decisions {
			de := &decisions[d]
			de.Seq, de.RecordedAt = e.Seq+1+uint64(d), g.now
			staged = append(staged, de)
			g.remember(de, &added)
			if j.opts.DedupWindow > 0 {
				g.rememberDedup(event.ContentKey(de), de, &addedDedup)
			}
		}
	}

	if refusal != nil {
		if tx != nil {
			tx.Rollback()
		}
		j.next = startNext
		for _, id := range added {
			delete(g.ids, id)
		}
		for _, k := range addedDedup {
			delete(g.dedup, k)
		}
		for i := range r.events {
			r.events[i].Seq = 0
		}
		r.err = refusal
		r.results = nil
		j.rejectEvent(g, r, &r.events[refusedAt], refusal, 0)
		return
	}
	if tx != nil {
		tx.Commit()
	}
	for _, e := range staged {
		j.write(g, e)
	}
}

// codeDuplicate is the rejected-log code of a duplicate: not a refusal code
// (the append answers "duplicate"), but kept so that duplicates are visible.
const codeDuplicate event.Code = "duplicate"

func (g *group) remember(e *event.Event, added *[]ulid.ULID) {
	if g.ids == nil {
		g.ids = map[ulid.ULID]*event.Event{}
	}
	g.ids[e.ID] = e
	*added = append(*added, e.ID)
}

func (g *group) rememberDedup(key [32]byte, e *event.Event, added *[][32]byte) {
	if g.dedup == nil {
		g.dedup = map[[32]byte]dedupEntry{}
	}
	g.dedup[key] = dedupEntry{seq: e.Seq, timeMs: e.Time.UnixMilli()}
	*added = append(*added, key)
}

// write puts one sequenced event and its index entries into the batch.
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

	g.kbuf = appendIndexKey(g.kbuf[:0], prefixType, e.Type, e.Seq)
	_ = b.Set(g.kbuf, nil, nil)
	if e.ConfigKey != "" {
		g.kbuf = appendIndexKey(g.kbuf[:0], prefixConfig, e.ConfigKey, e.Seq)
		_ = b.Set(g.kbuf, g.buf, nil)
	}
	if e.NodeID != "" {
		g.kbuf = appendIndexKey(g.kbuf[:0], prefixNode, e.NodeID, e.Seq)
		_ = b.Set(g.kbuf, nil, nil)
	}
	if j.opts.DedupWindow > 0 && !e.NoDedup {
		key := event.ContentKey(e)
		var v [16]byte
		binary.BigEndian.PutUint64(v[:8], e.Seq)
		binary.BigEndian.PutUint64(v[8:], uint64(e.Time.UnixMilli()))
		g.kbuf = append(append(g.kbuf[:0], prefixDedup), key[:]...)
		_ = b.Set(g.kbuf, v[:], nil)
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

// lookupDedup returns the seq of an event with the same content key whose time
// is within the window of t, or 0.
func (j *Journal) lookupDedup(g *group, key [32]byte, t time.Time) (uint64, error) {
	within := func(ms int64) bool {
		d := t.UnixMilli() - ms
		if d < 0 {
			d = -d
		}
		return time.Duration(d)*time.Millisecond < j.opts.DedupWindow
	}
	if d, ok := g.dedup[key]; ok {
		if within(d.timeMs) {
			return d.seq, nil
		}
		return 0, nil
	}
	v, closer, err := j.db.Get(append([]byte{prefixDedup}, key[:]...))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("dedup lookup: %w", err)
	}
	defer closer.Close()
	if len(v) != 16 {
		return 0, fmt.Errorf("%w: dedup entry of %d bytes", ErrCorrupt, len(v))
	}
	if within(int64(binary.BigEndian.Uint64(v[8:]))) {
		return binary.BigEndian.Uint64(v[:8]), nil
	}
	return 0, nil
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

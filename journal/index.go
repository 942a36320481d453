package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
)

// The secondary indexes (type, config, node) are derived from the log by
// the indexer goroutine, behind the acknowledged path (doc.go, "Indexes").
// What an append waits for is the record and its id key only.

const (
	// indexBatchEvents bounds the events one index batch covers: large
	// enough to amortize a commit, small enough that the sequencer never
	// waits long behind it for the write lock.
	indexBatchEvents = 4096
	// indexGather is how long the indexer lets commits gather when fewer
	// than indexBatchEvents are waiting, so that a trickle of small commits
	// is indexed in few batches.
	indexGather = 5 * time.Millisecond
)

// Indexed returns the index watermark: every event up to it is in the
// secondary indexes. Reads are exact whatever it is (they scan the log
// after it); it only tells how much of a filtered read is served by the
// indexes.
func (j *Journal) Indexed() uint64 { return j.indexed.Load() }

// IndexLag is how many durable events the secondary indexes do not hold
// yet: the durable high-water mark minus the index watermark.
func (j *Journal) IndexLag() uint64 {
	d, w := j.Durable(), j.indexed.Load()
	if w >= d {
		return 0
	}
	return d - w
}

// WaitIndexed blocks until the index watermark reaches seq, the journal
// fails (its error: no index is written any more), the indexer stops on a
// corrupt record (its error), the journal closes (ErrClosed) or ctx ends.
func (j *Journal) WaitIndexed(ctx context.Context, seq uint64) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for j.indexed.Load() < seq {
		if j.idxDone == nil {
			return fmt.Errorf("journal: read-only: no indexer runs (index at seq %d)", j.indexed.Load())
		}
		if err := j.Err(); err != nil {
			return err // a failed journal writes no index any more
		}
		if err := j.idxErr.Load(); err != nil {
			return *err
		}
		select {
		case <-j.idxDone:
			if j.indexed.Load() >= seq {
				return nil
			}
			if err := j.Err(); err != nil {
				return err
			}
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// loadIndexed reads the stored index watermark (0 when there is none).
func loadIndexed(db pebble.Reader) (uint64, error) {
	v, closer, err := db.Get(indexedKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal: read index watermark: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: index watermark of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// openIndex brings the stored index to format 2 and to the log at Open:
// a format-1 journal is upgraded, a watermark past the log's end (which a
// sane file system cannot leave: the index is written after the events it
// names) drops the epochs it may have touched. last is the log's last seq.
func (j *Journal) openIndex(format byte, last uint64) error {
	if format < 2 {
		return j.upgradeV1()
	}
	w, err := loadIndexed(j.db)
	if err != nil {
		return err
	}
	if w > last {
		// Entries past the log could name seqs the log will give to other
		// events: drop every epoch from the log's last one on and index it
		// again.
		from := last >> epochBits
		j.log.Warn("index watermark past the log's end: the last epochs are indexed again", "watermark", w, "last_seq", last)
		b := j.db.NewBatch()
		_ = b.DeleteRange(epochKey(from), []byte{prefixIndex + 1}, nil)
		w = (from << epochBits) - min(from<<epochBits, 1)
		_ = b.Set(indexedKey, binary.BigEndian.AppendUint64(nil, w), nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("journal: reset the index: %w", err)
		}
	}
	j.indexed.Store(w)
	return nil
}

// upgradeV1 upgrades a format-1 journal to format 2 in one synced batch:
// the format-1 index keys ('t', 'c', 'n') are deleted, the watermark set
// to 0 and the format byte to 2. The indexes are derived data and reads are
// exact at any watermark, so the batch lands or not, and either state is a
// journal this build serves; the indexer then builds the format-2 indexes
// from seq 1.
func (j *Journal) upgradeV1() error {
	b := j.db.NewBatch()
	for _, p := range []byte{prefixType, prefixConfig, prefixNode} {
		_ = b.DeleteRange([]byte{p}, []byte{p + 1}, nil)
	}
	_ = b.DeleteRange([]byte{prefixIndex}, []byte{prefixIndex + 1}, nil)
	_ = b.Set(indexedKey, make([]byte, 8), nil)
	_ = b.Set([]byte{prefixFormat}, []byte{FormatVersion}, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("journal: upgrade format 1 to %d: %w", FormatVersion, err)
	}
	j.indexed.Store(0)
	j.log.Info("journal upgraded from format 1: the indexes are rebuilt behind the log", "format", FormatVersion)
	return nil
}

// indexLoop is the indexer goroutine: it indexes durable events in
// batches, each holding its watermark, until idxStop (Close, after the
// last sync), when it indexes what is left and exits. A failed index write
// fails the journal (handOver); a corrupt record stops the indexer (its
// error is what WaitIndexed answers); a read error is retried with
// backoff. Reads go on scanning the log after the watermark whatever
// happens to the indexer.
//
// Catching up a large lag (after an upgrade, or a crash), it paces itself:
// after each full batch it rests as long as the batch took, so that the
// sequencer, which needs the same write lock, gets at least half of it
// and appends are not starved while the indexes are rebuilt.
func (j *Journal) indexLoop() {
	defer close(j.idxDone)
	gather := time.NewTimer(0)
	<-gather.C
	// wait waits d or until idxStop; it tells whether idxStop came.
	wait := func(d time.Duration) bool {
		gather.Reset(d)
		select {
		case <-gather.C:
			return false
		case <-j.idxStop:
			gather.Stop()
			return true
		}
	}
	var stalled bool // waiting for free space
	backoff := indexRoomRetry
	for {
		ch := j.Changed()
		if j.indexPaused.Load() {
			select {
			case <-ch:
				continue
			case <-j.idxStop:
				return
			}
		}
		if lag := j.IndexLag(); lag > 0 {
			if lag < indexBatchEvents {
				wait(indexGather) // let a trickle of commits gather into one batch
			}
			start := time.Now()
			err := j.indexStep()
			switch {
			case err == nil:
				if stalled {
					stalled = false
					j.log.Info("indexer resumed: free space is back", "watermark", j.indexed.Load())
				}
				backoff = indexRoomRetry
				if j.IndexLag() >= indexBatchEvents {
					wait(min(time.Since(start), indexPaceMax)) // catching up: leave the sequencer its turn
				}
				continue
			case errors.Is(err, errIndexNoRoom):
				// too little free space: wait for it (appends use the
				// reserve; reads scan the log after the watermark)
				if !stalled {
					stalled = true
					j.log.Warn("indexer waits for free space: filtered reads scan the log after its watermark meanwhile", "watermark", j.indexed.Load())
				}
				if wait(indexRoomRetry) {
					return
				}
				continue
			case errors.Is(err, errNotHanded), j.Err() != nil:
				// the journal failed (this write, or before it): no index
				// is written any more
			case errors.Is(err, ErrCorrupt):
				j.idxErr.Store(&err)
				j.log.Error("indexer stopped: filtered reads scan the log after its watermark", "watermark", j.indexed.Load(), "err", err)
			default:
				// a read error: retried, the indexes are derived data
				j.log.Warn("indexer: read failed, retrying", "watermark", j.indexed.Load(), "retry_in", backoff, "err", err)
				if wait(backoff) {
					return
				}
				backoff = min(2*backoff, indexRetryMax)
				continue
			}
			<-j.idxStop
			return
		}
		select {
		case <-ch:
		case <-j.idxStop:
			if j.IndexLag() == 0 {
				return
			}
		}
	}
}

// indexStep indexes the events after the watermark, up to the durable
// high-water mark and at most indexBatchEvents, in one unsynced batch that
// also moves the watermark.
func (j *Journal) indexStep() error {
	from := j.indexed.Load() + 1
	to := min(j.Durable(), from+indexBatchEvents-1)
	b := j.db.NewBatch()
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(to + 1)})
	if err != nil {
		b.Close()
		return fmt.Errorf("journal: indexer: %w", err)
	}
	var kbuf []byte
	next := from
	for ok := it.First(); ok; ok = it.Next() {
		seq := seqSuffix(it.Key())
		v, err := it.ValueAndErr()
		if err == nil && seq != next {
			err = fmt.Errorf("%w: the log has seq %d where %d was due", ErrCorrupt, seq, next)
		}
		if err == nil {
			kbuf, err = addIndexEntries(b, kbuf, seq, v)
		}
		if err != nil {
			it.Close()
			b.Close()
			return fmt.Errorf("journal: indexer: %w", err)
		}
		next++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		b.Close()
		return fmt.Errorf("journal: indexer: %w", err)
	}
	if next != to+1 {
		b.Close()
		return fmt.Errorf("journal: indexer: %w: the log ends at seq %d, the durable mark is %d", ErrCorrupt, next-1, to)
	}
	_ = b.Set(indexedKey, binary.BigEndian.AppendUint64(nil, to), nil)
	if !j.indexRoom(int64(b.Len())) {
		b.Close()
		return errIndexNoRoom
	}
	if err := j.handOver(b, false); err != nil {
		if errors.Is(err, errNotHanded) {
			b.Close()
		}
		return err
	}
	b.Close()
	j.indexed.Store(to)
	return nil
}

// errIndexNoRoom: an index batch would eat into what indexRoom keeps.
var errIndexNoRoom = errors.New("journal: indexer: too little free space")

const (
	// indexRoomRetry is how often a stalled indexer looks for free space
	// again, and its first retry after a read error.
	indexRoomRetry = 100 * time.Millisecond
	// indexRetryMax bounds the backoff of its retries after read errors.
	indexRetryMax = 5 * time.Second
	// indexPaceMax bounds its rest between two catch-up batches.
	indexPaceMax = 50 * time.Millisecond
)

// indexRoom tells whether an index batch of n bytes leaves free a
// memtable's worth beyond the disk reserve (faults.go). The indexer writes
// behind the sequencer's guard, and a memtable rotation its write starts
// must not meet ENOSPC, which Pebble does not survive; its data can wait
// (reads are exact without it), the log's cannot, so it leaves the reserve
// and the next memtable to the appends. With the guard off (DiskReserve
// -1) it still keeps the memtable's worth; where free space cannot be
// measured it writes.
func (j *Journal) indexRoom(n int64) bool {
	if j.fs == nil {
		return true
	}
	u, err := j.fs.GetDiskUsage(j.dir)
	if err != nil {
		return true // not measurable: the guard is off (faults.go)
	}
	keep := int64(j.opts.MemTableSize) + max(j.opts.DiskReserve, 0)
	return int64(min(u.AvailBytes, math.MaxInt64))-n >= keep
}

// addIndexEntries puts the index entries of the record v of seq into b.
func addIndexEntries(b *pebble.Batch, kbuf []byte, seq uint64, v []byte) ([]byte, error) {
	typ, cfg, node, err := recordIndexFields(seq, v)
	if err != nil {
		return kbuf, err
	}
	kbuf = appendIndexKey(kbuf[:0], indexType, typ, seq)
	_ = b.Set(kbuf, nil, nil)
	if cfg != "" {
		kbuf = appendIndexKey(kbuf[:0], indexConfig, cfg, seq)
		_ = b.Set(kbuf, v, nil)
	}
	if node != "" {
		kbuf = appendIndexKey(kbuf[:0], indexNode, node, seq)
		_ = b.Set(kbuf, nil, nil)
	}
	return kbuf, nil
}

// recordIndexFields reads the type, config_key and node_id of a record
// without decoding the rest. The strings are views of v: use them before v
// changes.
func recordIndexFields(seq uint64, v []byte) (typ, cfg, node string, err error) {
	if len(v) < 2+16 || v[0] != recordVersion {
		return "", "", "", fmt.Errorf("%w: seq %d: not a record of version %d", ErrCorrupt, seq, recordVersion)
	}
	p := v[18:]
	for range 2 { // time, recorded_at
		_, n := binary.Varint(p)
		if n <= 0 {
			return "", "", "", fmt.Errorf("%w: seq %d: bad time", ErrCorrupt, seq)
		}
		p = p[n:]
	}
	var s [3]string
	for i := range s {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(len(p)-n) {
			return "", "", "", fmt.Errorf("%w: seq %d: bad string %d", ErrCorrupt, seq, i)
		}
		if l > 0 {
			s[i] = unsafe.String(&p[n], int(l))
		}
		p = p[n+int(l):]
	}
	return s[0], s[1], s[2], nil
}

// indexCursor walks the seqs one index value holds in [from, to], in
// order, epoch by epoch: one seek per epoch, so an epoch without the
// value costs one seek.
type indexCursor struct {
	it       *pebble.Iterator
	kind     byte
	value    string
	from, to uint64
	epoch    uint64
	started  bool
	valid    bool
}

func (j *Journal) newIndexCursor(kind byte, value string, from, to uint64) (*indexCursor, error) {
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: epochKey(from >> epochBits), UpperBound: epochKey(to>>epochBits + 1)})
	if err != nil {
		return nil, fmt.Errorf("journal: scan index: %w", err)
	}
	return &indexCursor{it: it, kind: kind, value: value, from: from, to: to}, nil
}

// next moves to the next entry; false when there is none (or an error,
// which close returns).
func (c *indexCursor) next() bool {
	if c.valid && c.it.Next() {
		return true
	}
	c.valid = false
	for {
		if c.started {
			c.epoch++
		} else {
			c.started, c.epoch = true, c.from>>epochBits
		}
		if c.epoch > c.to>>epochBits || c.it.Error() != nil {
			return false
		}
		lo := max(c.from, c.epoch<<epochBits)
		hi := min(c.to, c.epoch<<epochBits|(1<<epochBits-1))
		c.it.SetBounds(appendIndexKeyIn(nil, c.epoch, c.kind, c.value, lo), appendIndexKeyIn(nil, c.epoch, c.kind, c.value, hi+1))
		if c.it.First() {
			c.valid = true
			return true
		}
	}
}

func (c *indexCursor) seq() uint64 { return seqSuffix(c.it.Key()) }

func (c *indexCursor) close() error {
	err := c.it.Error()
	if cerr := c.it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: scan index: %w", err)
	}
	return nil
}

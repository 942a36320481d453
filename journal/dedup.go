package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The content-dedup memory holds one key per journaled event (doc.go):
//
//	'd' sha256[32] time[8] seq[8]   empty value
//
// time is the event's time in unix milliseconds, big-endian with the sign
// bit flipped so that keys sort by time; all the events of one content key
// are therefore one key range, in time order, and "is there an event of
// this key within the window of t" is one seek. Journals written before
// this layout hold the older 'h' form (the newest event of each key only);
// it is still read, so what they remember is not forgotten.

// appendDedupKey appends the dedup-memory key of one event to dst.
func appendDedupKey(dst []byte, key [32]byte, timeMs int64, seq uint64) []byte {
	dst = append(dst, prefixDedupTime)
	dst = append(dst, key[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(timeMs)^(1<<63))
	return binary.BigEndian.AppendUint64(dst, seq)
}

// dedupSpan returns the times (ms) an event of time t repeats: |Δ| < window,
// Δ in whole milliseconds.
func (j *Journal) dedupSpan(t time.Time) (lo, hi int64) {
	w := j.opts.DedupWindow
	d := int64((w+time.Millisecond-1)/time.Millisecond) - 1 // largest Δ with Δ ms < w
	ms := t.UnixMilli()
	return ms - d, ms + d
}

// lookupDedup returns the seq of a journaled event (or one sequenced earlier
// in this group) with the same content key whose time is within the window
// of t, or 0. Journaled events are looked at first, so the seq is the
// earliest-timed such event in the journal when there is one.
func (j *Journal) lookupDedup(g *group, key [32]byte, t time.Time) (uint64, error) {
	lo, hi := j.dedupSpan(t)
	if seq, err := j.lookupDedupStored(g, key, lo, hi); err != nil || seq != 0 {
		return seq, err
	}
	if j.legacyDedup {
		if seq, err := j.lookupDedupLegacy(key, lo, hi); err != nil || seq != 0 {
			return seq, err
		}
	}
	for _, d := range g.dedup[key] {
		if d.timeMs >= lo && d.timeMs <= hi {
			return d.seq, nil
		}
	}
	return 0, nil
}

// lookupDedupStored seeks the first journaled event of key with a time in
// [lo, hi].
func (j *Journal) lookupDedupStored(g *group, key [32]byte, lo, hi int64) (uint64, error) {
	if g.dedupIt == nil {
		it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixDedupTime}, UpperBound: []byte{prefixDedupTime + 1}})
		if err != nil {
			return 0, fmt.Errorf("dedup lookup: %w", err)
		}
		g.dedupIt = it
	}
	it := g.dedupIt
	if !it.SeekGE(appendDedupKey(nil, key, lo, 0)) {
		if err := it.Error(); err != nil {
			return 0, fmt.Errorf("dedup lookup: %w", err)
		}
		return 0, nil
	}
	k := it.Key()
	if len(k) != 1+32+16 {
		return 0, fmt.Errorf("%w: dedup key of %d bytes", ErrCorrupt, len(k))
	}
	if [32]byte(k[1:33]) != key || int64(binary.BigEndian.Uint64(k[33:41])^(1<<63)) > hi {
		return 0, nil
	}
	return binary.BigEndian.Uint64(k[41:]), nil
}

// lookupDedupLegacy reads the 'h' form: the newest event of key.
func (j *Journal) lookupDedupLegacy(key [32]byte, lo, hi int64) (uint64, error) {
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
	if ms := int64(binary.BigEndian.Uint64(v[8:])); ms >= lo && ms <= hi {
		return binary.BigEndian.Uint64(v[:8]), nil
	}
	return 0, nil
}

// closeLookups releases what the group's lookups held, before its batch is
// applied.
func (g *group) closeLookups() {
	if g.dedupIt != nil {
		_ = g.dedupIt.Close()
		g.dedupIt = nil
	}
}

// hasLegacyDedup reports whether the journal holds dedup memory in the 'h'
// form.
func hasLegacyDedup(db *pebble.DB) (bool, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixDedup}, UpperBound: []byte{prefixDedup + 1}})
	if err != nil {
		return false, fmt.Errorf("journal: dedup memory: %w", err)
	}
	defer it.Close()
	found := it.First()
	if err := it.Error(); err != nil {
		return false, fmt.Errorf("journal: dedup memory: %w", err)
	}
	return found, nil
}

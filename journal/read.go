package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
)

var backgroundCtx = context.Background()

// Filter selects events in a read. Zero fields do not filter. Types and
// Category combine as a union of types.
type Filter struct {
	Types     []string // wire values
	Category  string
	ConfigKey string
	NodeID    string
	Since     time.Time // event time ≥ Since
	Until     time.Time // event time < Until
}

func (f *Filter) typeSet() map[string]bool {
	if len(f.Types) == 0 && f.Category == "" {
		return nil
	}
	set := map[string]bool{}
	for _, t := range f.Types {
		set[t] = true
	}
	if f.Category != "" {
		for _, t := range event.Default().Category(f.Category) {
			set[t] = true
		}
		if len(set) == 0 {
			set[""] = true // an unknown category matches nothing
		}
	}
	return set
}

func (f *Filter) matchRest(e *event.Event, types map[string]bool) bool {
	if types != nil && !types[e.Type] {
		return false
	}
	if f.ConfigKey != "" && e.ConfigKey != f.ConfigKey {
		return false
	}
	if f.NodeID != "" && e.NodeID != f.NodeID {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	return true
}

// Get returns the durable event at seq.
func (j *Journal) Get(seq uint64) (event.Event, error) {
	if seq == 0 || seq > j.Durable() {
		return event.Event{}, fmt.Errorf("%w: seq %d", ErrNotFound, seq)
	}
	return j.getRaw(seq)
}

// GetByID returns the durable event with this id.
func (j *Journal) GetByID(id ulid.ULID) (event.Event, error) {
	v, closer, err := j.db.Get(idKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return event.Event{}, fmt.Errorf("%w: id %s", ErrNotFound, id)
	}
	if err != nil {
		return event.Event{}, fmt.Errorf("journal: get id %s: %w", id, err)
	}
	seq := binary.BigEndian.Uint64(v)
	closer.Close()
	return j.Get(seq)
}

// Scan calls fn for each durable event with seq ≥ from that matches f, in seq
// order, until fn returns an error (ErrStop ends the scan without one). The
// *Event passed to fn is reused for the next event: copy the struct (its
// strings and payload stay valid) to keep it.
//
// A ConfigKey filter scans that config's covering index; a NodeID filter or a
// small type set reads through their indexes; otherwise the log itself is
// scanned.
func (j *Journal) Scan(from uint64, f Filter, fn func(*event.Event) error) error {
	if from == 0 {
		from = 1
	}
	hwm := j.Durable()
	if from > hwm {
		return nil
	}
	types := f.typeSet()
	var err error
	switch {
	case f.ConfigKey != "":
		err = j.scanCovering(indexPrefix(prefixConfig, f.ConfigKey), from, hwm, func(e *event.Event) error {
			if !f.matchRest(e, types) {
				return nil
			}
			return fn(e)
		})
	case f.NodeID != "":
		err = j.scanRefs([][]byte{indexPrefix(prefixNode, f.NodeID)}, from, hwm, f, types, fn)
	case types != nil && len(types) <= 32:
		prefixes := make([][]byte, 0, len(types))
		for t := range types {
			prefixes = append(prefixes, indexPrefix(prefixType, t))
		}
		err = j.scanRefs(prefixes, from, hwm, f, types, fn)
	default:
		err = j.scanLog(from, hwm, func(e *event.Event) error {
			if !f.matchRest(e, types) {
				return nil
			}
			return fn(e)
		})
	}
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// Read returns up to limit (0 = no limit) matching events from seq from on.
func (j *Journal) Read(from uint64, f Filter, limit int) ([]event.Event, error) {
	var out []event.Event
	err := j.Scan(from, f, func(e *event.Event) error {
		out = append(out, *e)
		if limit > 0 && len(out) >= limit {
			return ErrStop
		}
		return nil
	})
	return out, err
}

func (j *Journal) scanLog(from, hwm uint64, fn func(*event.Event) error) error {
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(hwm + 1)})
	if err != nil {
		return fmt.Errorf("journal: scan: %w", err)
	}
	defer it.Close()
	e := new(event.Event) // reused: fn must copy what it keeps (see Scan)
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("journal: scan: %w", err)
		}
		if err := decodeRecord(binary.BigEndian.Uint64(k[1:]), v, e); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("journal: scan: %w", err)
	}
	return nil
}

// scanCovering reads an index whose values are event records.
func (j *Journal) scanCovering(prefix []byte, from, hwm uint64, fn func(*event.Event) error) error {
	lower := binary.BigEndian.AppendUint64(bytes.Clone(prefix), from)
	upper := binary.BigEndian.AppendUint64(bytes.Clone(prefix), hwm+1)
	if hwm == ^uint64(0) {
		upper = prefixEnd(prefix)
	}
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("journal: scan index: %w", err)
	}
	defer it.Close()
	e := new(event.Event)
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("journal: scan index: %w", err)
		}
		if err := decodeRecord(seqSuffix(it.Key()), v, e); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("journal: scan index: %w", err)
	}
	return nil
}

// scanRefs merges the seqs of several reference indexes in order and reads
// each event from the log with a forward-seeking iterator.
func (j *Journal) scanRefs(prefixes [][]byte, from, hwm uint64, f Filter, types map[string]bool, fn func(*event.Event) error) error {
	its := make([]*pebble.Iterator, 0, len(prefixes))
	defer func() {
		for _, it := range its {
			it.Close()
		}
	}()
	heads := make([]uint64, 0, len(prefixes)) // 0 = exhausted
	for _, p := range prefixes {
		it, err := j.db.NewIter(&pebble.IterOptions{
			LowerBound: binary.BigEndian.AppendUint64(bytes.Clone(p), from),
			UpperBound: binary.BigEndian.AppendUint64(bytes.Clone(p), hwm+1),
		})
		if err != nil {
			return fmt.Errorf("journal: scan index: %w", err)
		}
		its = append(its, it)
		var h uint64
		if it.First() {
			h = seqSuffix(it.Key())
		}
		heads = append(heads, h)
	}
	log, err := j.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(hwm + 1)})
	if err != nil {
		return fmt.Errorf("journal: scan: %w", err)
	}
	defer log.Close()
	key := make([]byte, 0, 9)
	for {
		best := -1
		for i, h := range heads {
			if h != 0 && (best < 0 || h < heads[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		seq := heads[best]
		if its[best].Next() {
			heads[best] = seqSuffix(its[best].Key())
		} else {
			heads[best] = 0
		}
		key = appendEventKey(key[:0], seq)
		if !log.SeekGE(key) || !bytes.Equal(log.Key(), key) {
			return fmt.Errorf("%w: index names seq %d, which is not in the log", ErrCorrupt, seq)
		}
		v, err := log.ValueAndErr()
		if err != nil {
			return fmt.Errorf("journal: scan: %w", err)
		}
		e := new(event.Event)
		if err := decodeRecord(seq, v, e); err != nil {
			return err
		}
		if !f.matchRest(e, types) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	for _, it := range its {
		if err := it.Error(); err != nil {
			return fmt.Errorf("journal: scan index: %w", err)
		}
	}
	return nil
}

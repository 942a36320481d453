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
// A ConfigKey filter reads that config's covering index; a NodeID filter or
// a small type set reads through their indexes; otherwise the log itself is
// scanned. The indexes hold the events up to the index watermark (Indexed);
// the durable events after it are read from the log and filtered, so a
// read is exact whatever the indexer's lag.
func (j *Journal) Scan(from uint64, f Filter, fn func(*event.Event) error) error {
	if from == 0 {
		from = 1
	}
	hwm := j.Durable()
	if from > hwm {
		return nil
	}
	types := f.typeSet()
	match := func(e *event.Event) error {
		if !f.matchRest(e, types) {
			return nil
		}
		return fn(e)
	}
	var err error
	if w := min(j.indexed.Load(), hwm); from <= w {
		indexed := true
		switch {
		case f.ConfigKey != "":
			err = j.scanCovering(f.ConfigKey, from, w, match)
		case f.NodeID != "":
			err = j.scanRefs(indexNode, []string{f.NodeID}, from, w, match)
		case types != nil && len(types) <= 32:
			values := make([]string, 0, len(types))
			for t := range types {
				values = append(values, t)
			}
			err = j.scanRefs(indexType, values, from, w, match)
		default:
			indexed = false
		}
		if indexed {
			from = w + 1
		}
	}
	if err == nil && from <= hwm {
		err = j.scanLog(from, hwm, f.quickSkip(types), match)
	}
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// quickSkip returns a test that tells from a record's type, config and
// node, without decoding it, that it does not match; nil when f does not
// filter on them.
func (f *Filter) quickSkip(types map[string]bool) func(seq uint64, v []byte) bool {
	if types == nil && f.ConfigKey == "" && f.NodeID == "" {
		return nil
	}
	return func(seq uint64, v []byte) bool {
		typ, cfg, node, err := recordIndexFields(seq, v)
		if err != nil {
			return false // decodeRecord reports it
		}
		return types != nil && !types[typ] || f.ConfigKey != "" && cfg != f.ConfigKey || f.NodeID != "" && node != f.NodeID
	}
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

// scanLog calls fn for the records of seqs [from, hwm]; skip, when set,
// passes over a record before it is decoded.
func (j *Journal) scanLog(from, hwm uint64, skip func(uint64, []byte) bool, fn func(*event.Event) error) error {
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
		seq := binary.BigEndian.Uint64(k[1:])
		if skip != nil && skip(seq, v) {
			continue
		}
		if err := decodeRecord(seq, v, e); err != nil {
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

// scanCovering reads the covering config index of cfg for [from, to]: its
// values are the event records.
func (j *Journal) scanCovering(cfg string, from, to uint64, fn func(*event.Event) error) error {
	c, err := j.newIndexCursor(indexConfig, cfg, from, to)
	if err != nil {
		return err
	}
	e := new(event.Event) // reused: fn must copy what it keeps (see Scan)
	for c.next() {
		v, err := c.it.ValueAndErr()
		if err == nil {
			err = decodeRecord(c.seq(), v, e)
		}
		if err != nil {
			c.close()
			return fmt.Errorf("journal: scan index: %w", err)
		}
		if err := fn(e); err != nil {
			c.close()
			return err
		}
	}
	return c.close()
}

// scanRefs merges the seqs that several values of a reference index hold
// in [from, to], in order, and reads each event from the log with a
// forward-seeking iterator.
func (j *Journal) scanRefs(kind byte, values []string, from, to uint64, fn func(*event.Event) error) (err error) {
	curs := make([]*indexCursor, 0, len(values))
	defer func() {
		for _, c := range curs {
			if cerr := c.close(); err == nil {
				err = cerr
			}
		}
	}()
	heads := make([]uint64, 0, len(values)) // 0 = exhausted
	for _, v := range values {
		c, err := j.newIndexCursor(kind, v, from, to)
		if err != nil {
			return err
		}
		curs = append(curs, c)
		var h uint64
		if c.next() {
			h = c.seq()
		}
		heads = append(heads, h)
	}
	log, err := j.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(to + 1)})
	if err != nil {
		return fmt.Errorf("journal: scan: %w", err)
	}
	defer log.Close()
	key := make([]byte, 0, 9)
	e := new(event.Event) // reused: fn must copy what it keeps (see Scan)
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
		if curs[best].next() {
			heads[best] = curs[best].seq()
		} else {
			heads[best] = 0
		}
		key = appendEventKey(key[:0], seq)
		if !log.SeekGE(key) || !bytes.Equal(log.Key(), key) {
			if err := log.Error(); err != nil {
				return fmt.Errorf("journal: scan: %w", err)
			}
			return fmt.Errorf("%w: index names seq %d, which is not in the log", ErrCorrupt, seq)
		}
		v, err := log.ValueAndErr()
		if err != nil {
			return fmt.Errorf("journal: scan: %w", err)
		}
		if err := decodeRecord(seq, v, e); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

package replay

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// JournalSource reads a journal directory through journal.OpenSnapshot:
// read-only in place when no daemon holds it, else a copy.
type JournalSource struct {
	s   *journal.Snapshot
	dir string
	// borrowed: the journal belongs to the caller (Live); Close leaves it open.
	borrowed bool
	// live returns the running subscriptions' cursors (Live), which
	// override the stored ones of the same name.
	live func() []journal.Cursor
}

var (
	_ Source         = (*JournalSource)(nil)
	_ RejectedSource = (*JournalSource)(nil)
	_ CursorSource   = (*JournalSource)(nil)
	_ LastSource     = (*JournalSource)(nil)
	_ IDSource       = (*JournalSource)(nil)
)

// ConsumerSource knows what each subscription consumes without being told
// (LostOptions.Consumers).
type ConsumerSource interface {
	// Consumers returns the subscriptions and their types; ok is false when
	// any stored subscription's types are unknown.
	Consumers() (cs []Consumer, ok bool, err error)
}

var _ ConsumerSource = (*JournalSource)(nil)

// OpenJournal opens the journal in dir for reading; ctx ends the copy of a
// journal a daemon holds (journal.OpenSnapshot, which says where the copy
// goes: TMPDIR).
func OpenJournal(ctx context.Context, dir string) (*JournalSource, error) {
	s, err := journal.OpenSnapshot(ctx, dir, journal.Options{})
	if err != nil {
		return nil, err
	}
	return &JournalSource{s: s, dir: dir}, nil
}

// Snapshot is the underlying read-only journal.
func (j *JournalSource) Snapshot() *journal.Snapshot { return j.s }

// Name describes the source.
func (j *JournalSource) Name() string {
	if j.s.Copied {
		return "journal " + j.dir + " (a copy: a daemon holds it)"
	}
	return "journal " + j.dir
}

// Close closes the snapshot (not a Live source's journal).
func (j *JournalSource) Close() error {
	if j.borrowed {
		return nil
	}
	return j.s.Close()
}

// Last is the last seq of the journal.
func (j *JournalSource) Last() uint64 { return j.s.Durable() }

// LastTime is the time of the last event (zero for an empty journal).
func (j *JournalSource) LastTime() time.Time {
	e, err := j.s.Get(j.s.Durable())
	if err != nil {
		return time.Time{}
	}
	return e.Time
}

// HasID reports whether an event with this id is journaled.
func (j *JournalSource) HasID(id ulid.ULID) bool {
	_, err := j.s.GetByID(id)
	return err == nil
}

// Cursors returns the subscription cursors: the stored ones, and for a
// live source the running subscriptions' cursors as they are now in place
// of their stored ones (a subscription that has not stored its first
// cursor yet is there too), sorted by name.
func (j *JournalSource) Cursors() ([]journal.Cursor, error) {
	stored, err := j.s.Cursors()
	if err != nil || j.live == nil {
		return stored, err
	}
	byName := map[string]journal.Cursor{}
	for _, c := range stored {
		byName[c.Name] = c
	}
	for _, c := range j.live() {
		byName[c.Name] = c
	}
	out := make([]journal.Cursor, 0, len(byName))
	for _, c := range byName {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b journal.Cursor) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Consumers returns the types each subscription stored with its cursor
// (journal/doc.go); ok is false when there is no cursor, or one written
// before the journal kept types (its interest is unknown, so no type could
// be called unconsumed).
func (j *JournalSource) Consumers() ([]Consumer, bool, error) {
	cs, err := j.s.Cursors()
	if err != nil || len(cs) == 0 {
		return nil, false, err
	}
	out := make([]Consumer, 0, len(cs))
	for _, c := range cs {
		if !c.TypesKnown {
			return nil, false, nil
		}
		out = append(out, Consumer{Name: c.Name, Types: c.Types})
	}
	return out, true, nil
}

// Scan reads the matching events from seq from on.
func (j *JournalSource) Scan(ctx context.Context, from uint64, f Filter, fn func(*event.Event) error) error {
	from = max(from, f.FromSeq)
	jf := f.journalFilter()
	n := 0
	err := j.s.Scan(from, jf, func(e *event.Event) error {
		if f.ToSeq != 0 && e.Seq > f.ToSeq {
			return journal.ErrStop
		}
		if n++; n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return fn(e)
	})
	if errors.Is(err, journal.ErrStop) {
		return nil
	}
	return err
}

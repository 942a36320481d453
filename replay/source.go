package replay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// Source is where replay reads events: one per call. Scan calls fn with each
// event matching f from seq from on, in seq order; the *Event is reused after
// fn returns (copy it to keep it). fn may return journal.ErrStop to end the
// scan early without an error. A source never writes to what it reads.
type Source interface {
	Scan(ctx context.Context, from uint64, f Filter, fn func(*event.Event) error) error
	// Name describes the source for messages ("journal ./data").
	Name() string
	Close() error
}

// RejectedSource is a source with a rejected log (a journal directory; a file
// reports the lines it could not decode, once scanned).
type RejectedSource interface {
	Rejected(fn func(r *journal.Rejection) error) error
}

// CursorSource is a source with stored subscription cursors.
type CursorSource interface {
	Cursors() ([]journal.Cursor, error)
}

// LastSource knows its last seq before scanning (for progress bars and
// lag).
type LastSource interface {
	Last() uint64
}

// IDSource looks events up by id without a scan.
type IDSource interface {
	HasID(id ulid.ULID) bool
}

// Progress is told how far a long scan is: done of total events (total 0
// when unknown). It is called from the scanning goroutine.
type Progress func(done, total uint64)

// Filter selects events like the API's read. Zero fields do not filter.
// Types and Category combine as a union of types.
type Filter struct {
	Types     []string // wire values
	Category  string
	ConfigKey string
	NodeID    string
	// FromSeq and ToSeq bound seqs, both included (0 = unbounded).
	FromSeq, ToSeq uint64
	// Since and Until bound event times: Since ≤ time < Until.
	Since, Until time.Time
}

// IsZero reports whether the filter selects every event.
func (f *Filter) IsZero() bool {
	return len(f.Types) == 0 && f.Category == "" && f.ConfigKey == "" && f.NodeID == "" &&
		f.FromSeq == 0 && f.ToSeq == 0 && f.Since.IsZero() && f.Until.IsZero()
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *event.Event) bool {
	if f.FromSeq != 0 && e.Seq < f.FromSeq || f.ToSeq != 0 && e.Seq > f.ToSeq {
		return false
	}
	if f.ConfigKey != "" && e.ConfigKey != f.ConfigKey || f.NodeID != "" && e.NodeID != f.NodeID {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) || !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	if len(f.Types) == 0 && f.Category == "" {
		return true
	}
	for _, t := range f.Types {
		if t == e.Type {
			return true
		}
	}
	if f.Category != "" {
		if t, ok := event.Default().ByValue(e.Type); ok && t.Category == f.Category {
			return true
		}
	}
	return false
}

func (f *Filter) journalFilter() journal.Filter {
	return journal.Filter{Types: f.Types, Category: f.Category, ConfigKey: f.ConfigKey, NodeID: f.NodeID,
		Since: f.Since, Until: f.Until}
}

// ParseTypes reads a comma-separated list of type values or NAMEs into wire
// values; an unknown one is an error that suggests the closest.
func ParseTypes(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		t, ok := event.Lookup(p)
		if !ok {
			if sug, ok := event.Default().Suggest(p); ok {
				return nil, fmt.Errorf("unknown event type %q; did you mean %s?", p, sug.Value)
			}
			return nil, fmt.Errorf("unknown event type %q", p)
		}
		out = append(out, t.Value)
	}
	return out, nil
}

// Point is a position in a journal: a seq, or a time (the events before it).
type Point struct {
	Seq  uint64
	Time time.Time
}

// IsZero reports whether the point is unset (the end of the journal).
func (p Point) IsZero() bool { return p.Seq == 0 && p.Time.IsZero() }

func (p Point) String() string {
	switch {
	case p.Seq != 0:
		return "seq " + strconv.FormatUint(p.Seq, 10)
	case !p.Time.IsZero():
		return p.Time.UTC().Format(time.RFC3339Nano)
	}
	return "the end"
}

// After reports whether e lies after the point: for a seq, e.Seq > Seq; for a
// time, e's time ≥ Time. A zero point is never passed.
func (p Point) After(e *event.Event) bool {
	switch {
	case p.Seq != 0:
		return e.Seq > p.Seq
	case !p.Time.IsZero():
		return !e.Time.Before(p.Time)
	}
	return false
}

// ParsePoint reads a seq (a positive integer) or a time (RFC 3339, or a date
// and time "2006-01-02 15:04:05" in UTC, or a date).
func ParsePoint(s string) (Point, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if n == 0 {
			return Point{}, errors.New("seq 0: seqs start at 1")
		}
		return Point{Seq: n}, nil
	}
	if t, err := event.ParseTime(s); err == nil { // RFC 3339, or a year beyond 9999 written in full
		return Point{Time: t.UTC()}, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Point{Time: t.UTC()}, nil
		}
	}
	return Point{}, fmt.Errorf("%q is neither a seq nor a time; want e.g. 812 or 2026-11-22T10:15:00Z", s)
}

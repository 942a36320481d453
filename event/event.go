package event

import (
	"encoding/json"
	"time"

	"github.com/oklog/ulid/v2"
)

// Event is one journaled event: the envelope of events.md with its payload kept as
// the compact JSON that was sent.
//
// Seq and RecordedAt are assigned by the journal. Time, Seq and RecordedAt are
// kept at millisecond precision, UTC.
type Event struct {
	Seq           uint64
	ID            ulid.ULID
	Type          string // the wire value, e.g. "training_completed"
	ConfigKey     string
	NodeID        string
	Source        string
	Time          time.Time
	RecordedAt    time.Time
	CausationID   string
	CorrelationID string
	// Payload is a compact JSON object, exactly the keys that were sent.
	Payload json.RawMessage
	// NoDedup is set when the input said "dedup": false; it exempts the event
	// from content deduplication.
	NoDedup bool
}

// TimeFormat is how envelope times are written: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Millis truncates t to the millisecond in UTC, the precision of every time in
// the journal.
func Millis(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// DecisionSourcePrefix starts the source of every event ringriftd itself
// journals (policy decisions, dead letters): "ringriftd/<policy>". Input that
// uses it is refused.
const DecisionSourcePrefix = "ringriftd/"

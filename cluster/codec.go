package cluster

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
)

// SubjectPrefix starts the subject of every journal message:
// ringrift.journal.<category>.<type>.
const SubjectPrefix = "ringrift.journal."

// Subject is the stream subject of e.
func Subject(e *event.Event) string {
	cat := "unknown"
	if t, ok := event.Lookup(e.Type); ok {
		cat = t.Category
	}
	return SubjectPrefix + cat + "." + e.Type
}

// wire is the canonical JSON of a journaled event (events.md).
type wire struct {
	Seq           uint64          `json:"seq"`
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	ConfigKey     string          `json:"config_key"`
	NodeID        string          `json:"node_id"`
	Source        string          `json:"source"`
	Time          string          `json:"time"`
	RecordedAt    string          `json:"recorded_at"`
	CausationID   string          `json:"causation_id"`
	CorrelationID string          `json:"correlation_id"`
	Dedup         *bool           `json:"dedup"`
	Payload       json.RawMessage `json:"payload"`
}

// Decode reads a stream message back into the event the publishing node
// journaled, field for field (AppendJSON's inverse).
func Decode(data []byte) (event.Event, error) {
	var w wire
	var e event.Event
	if err := json.Unmarshal(data, &w); err != nil {
		return e, fmt.Errorf("%w: %w", ErrCodec, err)
	}
	id, err := ulid.ParseStrict(w.ID)
	if err != nil {
		return e, fmt.Errorf("%w: id %q: %w", ErrCodec, w.ID, err)
	}
	t, err := parseTime(w.Time)
	if err != nil {
		return e, err
	}
	rt, err := parseTime(w.RecordedAt)
	if err != nil {
		return e, err
	}
	if w.Seq == 0 || w.Type == "" {
		return e, fmt.Errorf("%w: seq %d, type %q", ErrCodec, w.Seq, w.Type)
	}
	e = event.Event{Seq: w.Seq, ID: id, Type: w.Type, ConfigKey: w.ConfigKey, NodeID: w.NodeID, Source: w.Source,
		Time: t, RecordedAt: rt, CausationID: w.CausationID, CorrelationID: w.CorrelationID,
		Payload: w.Payload, NoDedup: w.Dedup != nil && !*w.Dedup}
	return e, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%w: time %q: %w", ErrCodec, s, err)
	}
	return event.Millis(t), nil
}

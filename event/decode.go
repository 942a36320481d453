package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// MaxBatch is the largest number of events one request may carry.
const MaxBatch = 10_000

// envelopeKeys are the top-level keys of the canonical input shape.
var envelopeKeys = []string{"seq", "id", "type", "config_key", "node_id", "source", "time", "recorded_at",
	"causation_id", "correlation_id", "payload", "dedup", "event_type", "timestamp"}

// envelope holds the raw values of the top-level keys of one input event.
type envelope struct {
	id, typ, eventType, configKey, nodeID, source, tm, timestamp []byte
	causation, correlation, payload, dedup                       []byte
	payloadSet                                                   bool
	unknown                                                      string
}

// set records the value of the raw key k (escapes intact). Only an
// unknown key is copied into a string: the switch compares in place.
func (env *envelope) set(k, val []byte) {
	if bytes.IndexByte(k, '\\') >= 0 {
		k = []byte(keyString(k))
	}
	if isNull(val) && string(k) != "payload" {
		val = nil
	}
	switch string(k) {
	case "id":
		env.id = val
	case "type":
		env.typ = val
	case "event_type":
		env.eventType = val
	case "config_key":
		env.configKey = val
	case "node_id":
		env.nodeID = val
	case "source":
		env.source = val
	case "time":
		env.tm = val
	case "timestamp":
		env.timestamp = val
	case "causation_id":
		env.causation = val
	case "correlation_id":
		env.correlation = val
	case "payload":
		env.payload, env.payloadSet = val, true
	case "dedup":
		env.dedup = val
	case "seq", "recorded_at":
	default:
		if env.unknown == "" {
			env.unknown = string(k)
		}
	}
}

// Decode decodes one input event (canonical or compatibility shape) with the
// default validator.
func Decode(raw []byte) (Event, *Error) { return DefaultValidator.Decode(raw) }

// Decode decodes and validates one input event. The refusal is the first
// problem in the order of events.md.
func (v *Validator) Decode(raw []byte) (Event, *Error) {
	var e Event
	err := v.decodeInto(raw, &e)
	return e, err
}

// decodeInto is Decode into *e, which is zero.
func (v *Validator) decodeInto(raw []byte, e *Event) *Error {
	if !validJSON(raw) {
		return invalidJSON(raw)
	}
	return v.decodeValid(raw, e)
}

func invalidJSON(raw []byte) *Error {
	var x any
	err := json.Unmarshal(raw, &x)
	msg := "not valid JSON"
	if err != nil {
		msg = err.Error()
	}
	return Errorf(CodeInvalidJSON, "", "one JSON object per event", "invalid JSON: %s", msg)
}

// decodeValid decodes the valid JSON raw into *e, which is zero: into its
// place in a batch's items, so that the event is neither allocated nor
// copied. On a refusal *e holds what was decoded before it.
func (v *Validator) decodeValid(raw []byte, e *Event) *Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Errorf(CodeNotAnObject, "", `a JSON object such as {"type": "training_started", "config_key": "hex8_2p"}`,
			"an event must be a JSON object, got %s", jsonKind(raw))
	}
	var env envelope
	_ = eachField(raw, func(k, val []byte) error {
		env.set(k, val)
		return nil
	})
	compat := env.eventType != nil && env.typ == nil
	if env.unknown != "" && !compat {
		return Errorf(CodeInvalidField, env.unknown, "one of "+strings.Join(envelopeKeys, ", "),
			"unknown envelope key %q", env.unknown)
	}
	if err := decodeType(e, &env); err != nil {
		return err
	}
	if env.id != nil {
		s, ok := asString(env.id)
		id, err := ulid.ParseStrict(strings.ToUpper(s))
		if !ok || err != nil {
			return Errorf(CodeInvalidID, "id", "a ULID: 26 Crockford base-32 characters, the first at most 7, e.g. 01JD3ZK6Q8V7W2M4X9N5T1R0AB",
				"invalid id %s", describe(env.id))
		}
		e.ID = id
	}
	if err := v.decodeTime(e, &env); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		raw  []byte
		dst  *string
	}{{"source", env.source, &e.Source}, {"causation_id", env.causation, &e.CausationID},
		{"correlation_id", env.correlation, &e.CorrelationID}} {
		if f.raw == nil {
			continue
		}
		s, ok := asString(f.raw)
		if !ok {
			return Errorf(CodeInvalidField, f.name, "a string", "%s must be a string, got %s", f.name, describe(f.raw))
		}
		*f.dst = s
	}
	if strings.HasPrefix(e.Source, DecisionSourcePrefix) {
		return reservedSource(e.Source)
	}
	if env.dedup != nil {
		switch string(env.dedup) {
		case "true":
		case "false":
			e.NoDedup = true
		default:
			return Errorf(CodeInvalidField, "dedup", "true or false", "dedup must be a boolean, got %s", describe(env.dedup))
		}
	}
	if env.payloadSet {
		if len(env.payload) == 0 || env.payload[0] != '{' {
			return Errorf(CodeInvalidField, "payload", `a JSON object, e.g. {"model_path": "models/m.pth"}`,
				"payload must be a JSON object, got %s", jsonKind(env.payload))
		}
		e.Payload = env.payload
	}
	if env.configKey != nil {
		s, ok := asString(env.configKey)
		if !ok {
			return Errorf(CodeInvalidField, "config_key", "a string such as hex8_2p", "config_key must be a string, got %s", describe(env.configKey))
		}
		if s == "" {
			return Errorf(CodeInvalidConfigKey, "config_key", "a config key such as hex8_2p, or no config_key at all", "config_key is empty")
		}
		e.ConfigKey = s
	}
	if env.nodeID != nil {
		s, ok := asString(env.nodeID)
		if !ok {
			return Errorf(CodeInvalidField, "node_id", "a string", "node_id must be a string, got %s", describe(env.nodeID))
		}
		e.NodeID = s
	}
	// Keep the payload exactly as sent (compacted), detached from the body.
	if err := v.checkBody(e, env.nodeID != nil && e.NodeID == ""); err != nil {
		return err
	}
	e.Payload = bytes.Clone(e.Payload)
	return nil
}

func decodeType(e *Event, env *envelope) *Error {
	var t *Type
	for _, f := range []struct {
		name string
		raw  []byte
	}{{"type", env.typ}, {"event_type", env.eventType}} {
		if f.raw == nil {
			continue
		}
		s, ok := asString(f.raw)
		if !ok {
			return Errorf(CodeInvalidField, f.name, "a string: an event type of the catalog", "%s must be a string, got %s", f.name, describe(f.raw))
		}
		got, ok := Lookup(s)
		if !ok {
			return unknownTypes.refusal(f.name, s)
		}
		if t != nil && got.Value != t.Value {
			return Errorf(CodeConflictingField, "event_type", "type and event_type naming the same type, or only one of them",
				"event_type %q disagrees with type %q", got.Value, t.Value)
		}
		t = got
	}
	if t == nil {
		return Errorf(CodeMissingField, "type", "an event type of the catalog, e.g. training_completed", "missing event type")
	}
	e.Type = t.Value
	return nil
}

// unknownTypes memoizes the refusals of unknown event types by the string
// sent: the refusal's suggestion measures the edit distance to every type
// of the catalog (the embedded one, which never changes), and a client
// that sends an unknown type usually sends it again and again. At most
// maxUnknownTypes strings are kept; past that the cache starts over.
var unknownTypes = typeRefusals{byValue: map[string]Error{}}

const maxUnknownTypes = 1024

type typeRefusals struct {
	mu      sync.Mutex
	byValue map[string]Error // under mu; Field and Index are set per use
}

// refusal is unknownType(field, s), from the cache when it can.
func (c *typeRefusals) refusal(field, s string) *Error {
	c.mu.Lock()
	e, ok := c.byValue[s]
	c.mu.Unlock()
	if !ok {
		e = *unknownType(field, s)
		c.mu.Lock()
		if len(c.byValue) >= maxUnknownTypes {
			clear(c.byValue)
		}
		c.byValue[s] = e
		c.mu.Unlock()
	}
	e.Field, e.Index = field, 0
	return &e
}

func (v *Validator) decodeTime(e *Event, env *envelope) *Error {
	var tm time.Time
	if env.tm != nil {
		s, ok := asString(env.tm)
		t, err := ParseTime(s)
		if !ok || err != nil {
			return Errorf(CodeInvalidField, "time", "an RFC 3339 time in the years 1970–9999, e.g. 2026-11-22T10:15:03.250Z",
				"invalid time %s", describe(env.tm))
		}
		tm = floorMillis(t)
		if !v.AnyTime {
			if err := timeRange("time", tm, 0, false); err != nil {
				return err
			}
		}
	}
	if env.timestamp != nil {
		f, ok := asNumber(env.timestamp)
		if !ok || math.Abs(f) > 1e14 {
			return Errorf(CodeInvalidField, "timestamp", fmt.Sprintf("unix seconds as a number from 0 to %.3f, e.g. 1795342503.25", maxTimestamp),
				"invalid timestamp %s", describe(env.timestamp))
		}
		ts := time.UnixMilli(int64(math.Floor(f * 1000))).UTC()
		if !v.AnyTime {
			if err := timeRange("timestamp", ts, f, true); err != nil {
				return err
			}
		}
		if !tm.IsZero() && !ts.Equal(tm) {
			return Errorf(CodeConflictingField, "timestamp", "time and timestamp naming the same millisecond, or only one of them",
				"timestamp %s (%s) disagrees with time %s", describe(env.timestamp), ts.Format(TimeFormat), tm.Format(TimeFormat))
		}
		tm = ts
	}
	e.Time = tm
	if v.AnyTime {
		return nil
	}
	field := "time"
	if env.tm == nil {
		field = "timestamp"
	}
	return v.checkFuture(field, tm)
}

func floorMillis(t time.Time) time.Time {
	ms := t.UnixMilli()
	if t.UnixNano() < 0 && t.Nanosecond()%int(time.Millisecond) != 0 {
		ms--
	}
	return time.UnixMilli(ms).UTC()
}

// Item is one event of a decoded request body: the event, or the refusal of
// its input. Raw is the event's input bytes (for the rejected log).
type Item struct {
	Event Event
	Err   *Error
	Raw   []byte
}

// DecodeBody decodes a request body: one JSON object, a JSON array of objects,
// or NDJSON (one object per line, blank lines skipped). Each item's refusal
// carries its index. The error is for the request as a whole: invalid JSON that
// cannot be split into events, or more than MaxBatch events.
func (v *Validator) DecodeBody(body []byte) ([]Item, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, wholeRequest(Errorf(CodeInvalidJSON, "", "one JSON object, a JSON array of objects, or NDJSON", "empty body"))
	}
	if validJSON(body) {
		if body[0] != '[' {
			items := []Item{{Raw: body}}
			items[0].Err = v.decodeValid(body, &items[0].Event)
			return items, nil
		}
		raws := arrayElements(body)
		if len(raws) > MaxBatch {
			return nil, batchTooLarge(len(raws))
		}
		items := make([]Item, len(raws))
		for i, r := range raws {
			items[i].Raw = r
			items[i].Err = v.decodeValid(r, &items[i].Event)
			if items[i].Err != nil {
				items[i].Err.Index = i
			}
		}
		return items, nil
	}
	if body[0] == '[' {
		return nil, wholeRequest(invalidJSON(body))
	}
	// One item per line, sized in advance: an Item is a few hundred bytes.
	items := make([]Item, 0, min(bytes.Count(body, []byte{'\n'})+1, MaxBatch))
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(items) == MaxBatch {
			return nil, batchTooLarge(MaxBatch + 1 + bytes.Count(body, []byte{'\n'}))
		}
		items = append(items, Item{Raw: line})
		it := &items[len(items)-1]
		if it.Err = v.decodeInto(line, &it.Event); it.Err != nil {
			it.Err.Index = len(items) - 1
		}
	}
	return items, nil
}

// arrayElements returns the elements of the valid JSON array b, each
// without the space around it (what json.RawMessage holds), as sub-slices
// of b.
func arrayElements(b []byte) [][]byte {
	var out [][]byte
	i := skipSpace(b, 1) // past '['
	for i < len(b) && b[i] != ']' {
		end, err := skipValue(b, i)
		if err != nil { // b is valid: not reached
			return out
		}
		out = append(out, b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return out
}

func wholeRequest(e *Error) *Error {
	e.Index = -1
	return e
}

func batchTooLarge(n int) *Error {
	return wholeRequest(Errorf(CodeBatchTooLarge, "", fmt.Sprintf("at most %d events per request; split the batch", MaxBatch),
		"batch of at least %d events", n))
}

package event

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// MarshalJSON writes the envelope of events.md. Empty optional fields are left
// out; seq and recorded_at are written once the journal has assigned them.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 256+len(e.Payload))), nil
}

// AppendJSON appends the envelope's JSON to b. It is the allocation-free form of
// MarshalJSON, used by the stream and export paths.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, e.Seq, 10)
		b = append(b, ',')
	}
	if e.ID != (ulid.ULID{}) { // unset only on input that was refused
		b = append(b, `"id":"`...)
		b = append(b, e.ID.String()...)
		b = append(b, `",`...)
	}
	b = append(b, `"type":`...)
	b = AppendJSONString(b, e.Type)
	if e.ConfigKey != "" {
		b = append(b, `,"config_key":`...)
		b = AppendJSONString(b, e.ConfigKey)
	}
	if e.NodeID != "" {
		b = append(b, `,"node_id":`...)
		b = AppendJSONString(b, e.NodeID)
	}
	if e.Source != "" {
		b = append(b, `,"source":`...)
		b = AppendJSONString(b, e.Source)
	}
	if !e.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = e.Time.UTC().AppendFormat(b, TimeFormat)
		b = append(b, '"')
	}
	if !e.RecordedAt.IsZero() {
		b = append(b, `,"recorded_at":"`...)
		b = e.RecordedAt.UTC().AppendFormat(b, TimeFormat)
		b = append(b, '"')
	}
	if e.CausationID != "" {
		b = append(b, `,"causation_id":`...)
		b = AppendJSONString(b, e.CausationID)
	}
	if e.CorrelationID != "" {
		b = append(b, `,"correlation_id":`...)
		b = AppendJSONString(b, e.CorrelationID)
	}
	if e.NoDedup {
		b = append(b, `,"dedup":false`...)
	}
	b = append(b, `,"payload":`...)
	if len(e.Payload) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, e.Payload...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaping what must be escaped as
// encoding/json does (HTML characters are left alone, invalid UTF-8 becomes
// U+FFFD, U+2028 and U+2029 are escaped).
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s, false) }

// AppendMarshaledString appends s as a JSON string exactly as
// encoding/json.Marshal writes it (<, > and & escaped as well), for
// encoders that must write Marshal's bytes without its reflection.
func AppendMarshaledString(b []byte, s string) []byte { return appendJSONString(b, s, true) }

// appendJSONString is AppendJSONString; with asEncoder it writes exactly
// what encoding/json.Marshal does: <, > and & escaped, \b and \f short.
func appendJSONString(b []byte, s string, asEncoder bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!asEncoder || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '"', c == '\\':
				b = append(b, '\\', c)
			case asEncoder && c == '\b':
				b = append(b, '\\', 'b')
			case asEncoder && c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// compile-time check that Event stays a json.Marshaler.
var _ json.Marshaler = Event{}

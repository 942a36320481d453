package replay

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// Rejected calls fn with each rejected-log entry in order. It reads the
// stored JSON with a small scanner rather than encoding/json: a journal fed
// by misbehaving workers can hold a million entries of up to 4 KiB each.
func (j *JournalSource) Rejected(fn func(*journal.Rejection) error) error {
	var r journal.Rejection
	return j.s.EachRejected(1, func(rseq uint64, v []byte) error {
		if !decodeRejection(v, &r) {
			r = journal.Rejection{}
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
		}
		r.Seq = rseq
		return fn(&r)
	})
}

// rejectedHeads is what Lost reads of the rejected log: each entry without
// its raw event, and the raw event's type and key read from the stored
// (escaped) JSON directly — most of an entry's bytes are the raw event, and
// unescaping it is most of the cost.
func (j *JournalSource) rejectedHeads(fn func(r *journal.Rejection, typ, key string) error) error {
	var r journal.Rejection
	return j.s.EachRejected(1, func(rseq uint64, v []byte) error {
		var raw []byte
		if !decodeRejectionRaw(v, &r, &raw) {
			r = journal.Rejection{}
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			r.Seq = rseq
			return fn(&r, firstOf(rawField(r.Raw, "type"), rawField(r.Raw, "event_type")),
				firstOf(rawField(r.Raw, "config_key"), rawField(r.Raw, "node_id")))
		}
		r.Seq = rseq
		return fn(&r, firstOf(escapedField(raw, "type"), escapedField(raw, "event_type")),
			firstOf(escapedField(raw, "config_key"), escapedField(raw, "node_id")))
	})
}

// escapedField finds "key":"value" in a raw event as it is stored inside
// the entry's JSON (quotes escaped); values holding escapes are returned as
// stored.
func escapedField(raw []byte, key string) string {
	pat := []byte(`\"` + key + `\":\"`)
	i := bytes.Index(raw, pat)
	if i < 0 {
		return ""
	}
	v := raw[i+len(pat):]
	end := bytes.Index(v, []byte(`\"`))
	if end < 0 {
		return ""
	}
	return string(v[:end])
}

func decodeRejection(b []byte, r *journal.Rejection) bool { return decodeRejectionRaw(b, r, nil) }

// decodeRejection reads the flat JSON object of a Rejection; false if it is
// not one this scanner understands (the caller falls back to encoding/json).
//
// With raw set, the raw event is not decoded: *raw is its stored span.
func decodeRejectionRaw(b []byte, r *journal.Rejection, raw *[]byte) bool {
	*r = journal.Rejection{}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		if b[i] != '"' {
			return false
		}
		kEnd, esc := endString(b, i)
		if kEnd < 0 || esc {
			return false
		}
		key := string(b[i+1 : kEnd-1])
		i = skipWS(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		var val []byte
		if i < len(b) && b[i] == '"' {
			end, _ := endString(b, i)
			if end < 0 {
				return false
			}
			val, i = b[i:end], end
		} else {
			j := i
			for j < len(b) && b[j] != ',' && b[j] != '}' {
				if b[j] == '{' || b[j] == '[' {
					return false
				}
				j++
			}
			val, i = b[i:j], j
		}
		switch key {
		case "code":
			r.Code = event.Code(str(val))
		case "index":
			n, _ := strconv.Atoi(string(val))
			r.Index = n
		case "field":
			r.Field = str(val)
		case "message":
			r.Message = str(val)
		case "hint":
			r.Hint = str(val)
		case "batch":
			n, _ := strconv.Atoi(string(val))
			r.Batch = n
		case "duplicate_of":
			n, _ := strconv.ParseUint(string(val), 10, 64)
			r.DuplicateOf = n
		case "raw":
			if raw != nil {
				*raw = val
			} else {
				r.Raw = str(val)
			}
		case "truncated":
			r.Truncated = string(val) == "true"
		case "remote":
			r.Remote = str(val)
		case "time":
			t, _ := time.Parse(time.RFC3339Nano, str(val))
			r.Time = t
		}
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return i < len(b)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// endString returns the index past the string starting at b[i] and whether
// it holds escapes; -1 when it does not end.
func endString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return -1, esc
}

// str decodes a JSON string value (a quoted span), unescaping by hand: the
// raw events of the log are JSON inside JSON, escaped throughout.
func str(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	inner := v[1 : len(v)-1]
	k := 0
	for k < len(inner) && inner[k] != '\\' {
		k++
	}
	if k == len(inner) {
		return string(inner)
	}
	out := make([]byte, 0, len(inner))
	out = append(out, inner[:k]...)
	for i := k; i < len(inner); i++ {
		c := inner[i]
		if c != '\\' || i+1 >= len(inner) {
			out = append(out, c)
			continue
		}
		i++
		switch inner[i] {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			if i+4 >= len(inner) {
				return string(inner)
			}
			n, err := strconv.ParseUint(string(inner[i+1:i+5]), 16, 32)
			if err != nil || n >= 0xd800 && n < 0xe000 {
				var s string
				if json.Unmarshal(v, &s) == nil {
					return s
				}
				return string(inner)
			}
			out = utf8.AppendRune(out, rune(n))
			i += 4
		default: // " \ /
			out = append(out, inner[i])
		}
	}
	return string(out)
}

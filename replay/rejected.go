package replay

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
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
// its raw event, and the raw event's head (rawHead): most of an entry's
// bytes are the raw event, and decoding it whole is most of the cost.
func (j *JournalSource) rejectedHeads(fn func(r *journal.Rejection, h head) error) error {
	var r journal.Rejection
	var unescaped []byte // the raw event, reused from entry to entry
	return j.s.EachRejected(1, func(rseq uint64, v []byte) error {
		var raw []byte
		if !decodeRejectionRaw(v, &r, &raw) {
			r = journal.Rejection{}
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			r.Seq = rseq
			return fn(&r, rawHead([]byte(r.Raw)))
		}
		r.Seq = rseq
		unescaped = appendStr(unescaped[:0], raw)
		return fn(&r, rawHead(unescaped))
	})
}

// head is what a refused input says about itself: its type, config, node
// and source, as the daemon's decoder would read them (events.md).
type head struct {
	Type, ConfigKey, NodeID, Source string
}

// key is the config, else the node: the finding's key.
func (h *head) key() string { return firstOf(h.ConfigKey, h.NodeID) }

// liftedConfig and liftedNode are the payload keys whose string values stand
// for a missing top-level config_key or node_id, in order of precedence
// (events.md, "Compatibility input").
var (
	liftedConfig = []string{"config_key", "config"}
	liftedNode   = []string{"node_id", "node", "host", "hostname"}
)

// rawHead reads the head of a raw input from its top-level keys only —
// a "type" or "config_key" nested in the payload is not the event's —,
// whatever the spacing: type, else event_type (the compatibility shape);
// config_key, else a string config_key or config in the payload; node_id,
// else a string node_id, node, host or hostname in the payload; source.
// Only string values count. The raw input may be cut at journal.RawLimit or
// not be JSON at all: what was read before the walk stopped is kept.
func rawHead(raw []byte) head {
	var h head
	var eventType string
	var cfg [2]string  // liftedConfig
	var node [4]string // liftedNode
	eachKey(raw, func(k, v []byte) {
		switch string(k) {
		case "type":
			h.Type = str(v)
		case "event_type":
			eventType = str(v)
		case "config_key":
			h.ConfigKey = str(v)
		case "node_id":
			h.NodeID = str(v)
		case "source":
			h.Source = str(v)
		case "payload":
			eachKey(v, func(k, v []byte) {
				if i := slices.Index(liftedConfig, string(k)); i >= 0 {
					cfg[i] = str(v)
				} else if i := slices.Index(liftedNode, string(k)); i >= 0 {
					node[i] = str(v)
				}
			})
		}
	})
	h.Type = firstOf(h.Type, eventType)
	for _, c := range cfg {
		h.ConfigKey = firstOf(h.ConfigKey, c)
	}
	for _, n := range node {
		h.NodeID = firstOf(h.NodeID, n)
	}
	return h
}

// eachKey is a token walk over a JSON object: it calls fn with each
// top-level key (unescaped) and the span of its value, nested objects and
// arrays skipped whole by their brackets (outside strings), until the
// object ends or the input stops being JSON. It decodes nothing itself:
// encoding/json's Decoder costs ten times as much, and a rejected log can
// hold a million entries.
func eachKey(b []byte, fn func(key, val []byte)) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	for i = skipWS(b, i+1); i < len(b) && b[i] == '"'; {
		end, esc := endString(b, i)
		if end < 0 {
			return
		}
		key := b[i+1 : end-1]
		if esc {
			key = []byte(str(b[i:end]))
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return
		}
		i = skipWS(b, i+1)
		vEnd := skipValue(b, i)
		if vEnd < 0 {
			return
		}
		fn(key, b[i:vEnd])
		i = skipWS(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = skipWS(b, i+1)
	}
}

// skipValue returns the index past the JSON value starting at b[i]; -1
// when it does not end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := endString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := endString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !strings.ContainsRune(" \t\r\n,]}", rune(b[j])) {
		j++
	}
	if j == i || j == len(b) {
		return -1
	}
	return j
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
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v[1:len(v)-1], '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	return string(appendStr(make([]byte, 0, len(v)), v))
}

// appendStr appends what str decodes of v to dst.
func appendStr(dst, v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return dst
	}
	inner := v[1 : len(v)-1]
	k := bytes.IndexByte(inner, '\\')
	if k < 0 {
		return append(dst, inner...)
	}
	start := len(dst)
	out := append(dst, inner[:k]...)
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
				return append(out[:start], inner...)
			}
			n, err := strconv.ParseUint(string(inner[i+1:i+5]), 16, 32)
			if err != nil || n >= 0xd800 && n < 0xe000 {
				var s string
				if json.Unmarshal(v, &s) == nil {
					return append(out[:start], s...)
				}
				return append(out[:start], inner...)
			}
			out = utf8.AppendRune(out, rune(n))
			i += 4
		default: // " \ /
			out = append(out, inner[i])
		}
	}
	return out
}

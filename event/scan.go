package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file holds a small scanner over JSON that is already known to be valid
// (json.Valid or a journal record): it walks the top level of an object and
// hands out raw value spans without building maps, so that rules can read a
// payload key in well under a microsecond.

var (
	errScan  = errors.New("event: malformed JSON")
	errFound = errors.New("found") // stops a scan early; never returned
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errScan
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				j, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = j
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errScan
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
			j++
		}
		if j == i {
			return 0, errScan
		}
		return j, nil
	}
}

func skipString(b []byte, i int) (int, error) {
	i++ // opening quote
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i + 1, nil
		}
		i++
	}
	return 0, errScan
}

// eachField calls fn with the raw key (without quotes, escapes intact) and raw
// value of every top-level member of the object b. It stops at the first error
// fn returns.
func eachField(b []byte, fn func(key, val []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errScan
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return errScan
		}
		end, err := skipString(b, i)
		if err != nil {
			return err
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errScan
		}
		i = skipSpace(b, i+1)
		vend, err := skipValue(b, i)
		if err != nil {
			return err
		}
		if err := fn(key, b[i:vend]); err != nil {
			return err
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return errScan
		}
		if b[i] == '}' {
			return nil
		}
		if b[i] != ',' {
			return errScan
		}
		i = skipSpace(b, i+1)
	}
	return errScan
}

// keyString decodes a raw key span; keys without escapes are returned as is.
func keyString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
		return string(raw)
	}
	return s
}

// keyEquals reports whether the raw key span spells k.
func keyEquals(raw []byte, k string) bool {
	if len(raw) == len(k) && string(raw) == k {
		return true
	}
	return bytes.IndexByte(raw, '\\') >= 0 && keyString(raw) == k
}

// field returns the raw value of the top-level key k of the object b; a null
// value counts as absent.
func field(b []byte, k string) ([]byte, bool) {
	var out []byte
	_ = eachField(b, func(key, val []byte) error {
		if keyEquals(key, k) {
			out = val
			return errFound
		}
		return nil
	})
	if out == nil || isNull(out) {
		return nil, false
	}
	return out, true
}

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// jsonKind names the kind of a raw JSON value for error messages.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// asString decodes a raw JSON string value.
func asString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// asNumber decodes a raw JSON number; it is false for anything else and for
// numbers too large for a float64.
func asNumber(v []byte) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// asCount decodes an int of events.md: a number with an integral value ≥ 0.
func asCount(v []byte) (int64, bool) {
	f, ok := asNumber(v)
	if !ok || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

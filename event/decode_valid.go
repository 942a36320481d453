package event

import "bytes"

// validJSON reports whether b is one valid JSON value, exactly as
// encoding/json.Valid does (the same grammar, no UTF-8 check inside
// strings, the same nesting limit), in one pass without the standard
// scanner's per-byte function calls: every posted event goes through it
// before the decoder's own scan (scan.go), which assumes valid JSON.
func validJSON(b []byte) bool {
	i := skipSpace(b, 0)
	i, ok := validValue(b, i, 0)
	if !ok {
		return false
	}
	return skipSpace(b, i) == len(b)
}

// maxJSONDepth is encoding/json's nesting limit: 10,000 nested arrays or
// objects are valid, one more is not.
const maxJSONDepth = 10_000

// validValue checks the value at b[i] (containers nested depth deep
// around it) and returns the index just past it.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		if depth == maxJSONDepth {
			return i, false
		}
		return validObject(b, i+1, depth+1, nil)
	case c == '[':
		if depth == maxJSONDepth {
			return i, false
		}
		return validArray(b, i+1, depth+1)
	case c == '"':
		return validString(b, i+1)
	case c == '-' || c >= '0' && c <= '9':
		return validNumber(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	}
	return i, false
}

// validObject checks the members after an opening brace. A non-nil top
// (a payload's own object, never a nested one) is handed every member.
func validObject(b []byte, i, depth int, top *topMembers) (int, bool) {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		k := i
		var ok bool
		if i, ok = validString(b, i+1); !ok {
			return i, false
		}
		ke := i
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		v := skipSpace(b, i+1)
		if i, ok = validValue(b, v, depth); !ok {
			return i, false
		}
		if top != nil {
			top.add(b, k, ke, v, i)
		}
		var done bool
		if i, done, ok = nextMember(b, i, '}'); !ok || done {
			return i, ok
		}
	}
}

// topMembers gathers the top-level members of a payload while validPayload
// checks it: the members whose value is not null (as collect lists them) and
// whether the object is compact (as isCompact says). The members are kept in
// an array rather than appended to a slice, so that a topMembers on the
// caller's stack stays there.
type topMembers struct {
	buf    [16]member
	n      int  // members in buf
	over   bool // there were more than len(buf): the caller collects them
	spaced bool // some insignificant whitespace was seen
	next   int  // where the next member's key must start if compact
}

// add takes the member whose key spans b[k:ke] (quotes included) and whose
// value spans b[v:end]. In compact JSON a key starts just past the brace or
// comma, its value just past the colon, and the comma or brace follows the
// value at once.
func (t *topMembers) add(b []byte, k, ke, v, end int) {
	if k != t.next || v != ke+1 || (b[v] == '{' || b[v] == '[') && !isCompact(b[v:end]) {
		t.spaced = true
	}
	t.next = end + 1
	val := b[v:end]
	if isNull(val) {
		return
	}
	if t.n == len(t.buf) {
		t.over = true
		return
	}
	key := b[k+1 : ke-1]
	t.buf[t.n] = member{key: key, val: val, esc: bytes.IndexByte(key, '\\') >= 0}
	t.n++
}

// validPayload reports whether p, which starts with '{', is valid JSON
// exactly as validJSON says, in the same pass gathering its top-level
// members and whether it is compact into t, which is zero.
func validPayload(p []byte, t *topMembers) bool {
	t.next = 1
	i, ok := validObject(p, 1, 1, t)
	if !ok {
		return false
	}
	if i != t.next && i != 2 || i != len(p) {
		// a space before the closing brace (i == 2: the object is {}) or
		// after the object
		t.spaced = true
	}
	return skipSpace(p, i) == len(p)
}

// validArray checks the elements after an opening bracket.
func validArray(b []byte, i, depth int) (int, bool) {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok, done bool
		if i, ok = validValue(b, i, depth); !ok {
			return i, false
		}
		if i, done, ok = nextMember(b, i, ']'); !ok || done {
			return i, ok
		}
	}
}

// nextMember reads what follows a member of an object or an array (close
// is its closing bracket): done with the index past the bracket, or the
// index of the next member after a comma.
func nextMember(b []byte, i int, close byte) (next int, done, ok bool) {
	i = skipSpace(b, i)
	switch {
	case i >= len(b):
		return i, false, false
	case b[i] == close:
		return i + 1, true, true
	case b[i] == ',':
		return skipSpace(b, i+1), false, true
	}
	return i, false, false
}

// validString checks a string's characters after its opening quote:
// no control characters, only the escapes of RFC 8259.
func validString(b []byte, i int) (int, bool) {
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default:
			i++
		}
	}
	return i, false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validNumber checks -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

func validLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

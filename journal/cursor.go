package journal

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// cursorTypesVersion is the version byte of a cursor value that also holds
// the subscription's event types (doc.go, "Subscription cursors"). Format:
// never change it.
const cursorTypesVersion = 1

// Cursor is a subscription's stored cursor, with the event types it
// consumes when the journal knows them.
type Cursor struct {
	Name   string `json:"name"`
	Cursor uint64 `json:"cursor"`
	// Types are the event types (values) the subscription consumes, sorted;
	// empty when it consumes every type. Meaningful only with TypesKnown.
	Types []string `json:"types"`
	// TypesKnown is false for a cursor stored before the journal kept the
	// types with it (an 8-byte value): nothing is known of its interest.
	TypesKnown bool `json:"types_known"`
}

// encodeCursor is the stored value of a cursor: seq (8, big-endian), the
// version byte, the number of types (uvarint), then each type as uvarint
// length + bytes.
func encodeCursor(seq uint64, types []string) []byte {
	v := make([]byte, 8, 10+16*len(types))
	binary.BigEndian.PutUint64(v, seq)
	v = append(v, cursorTypesVersion)
	v = binary.AppendUvarint(v, uint64(len(types)))
	for _, t := range types {
		v = binary.AppendUvarint(v, uint64(len(t)))
		v = append(v, t...)
	}
	return v
}

// decodeCursor reads both forms of a cursor value: the 8-byte seq of the
// first release and encodeCursor's.
func decodeCursor(name string, v []byte) (Cursor, error) {
	c := Cursor{Name: name}
	if len(v) < 8 {
		return c, fmt.Errorf("%w: cursor %q of %d bytes", ErrCorrupt, name, len(v))
	}
	c.Cursor = binary.BigEndian.Uint64(v)
	if len(v) == 8 {
		return c, nil
	}
	rest := v[8:]
	if rest[0] != cursorTypesVersion {
		return c, fmt.Errorf("%w: cursor %q: version %d, want %d", ErrFormat, name, rest[0], cursorTypesVersion)
	}
	rest = rest[1:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)) {
		return c, fmt.Errorf("%w: cursor %q: bad type count", ErrCorrupt, name)
	}
	rest = rest[k:]
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return c, fmt.Errorf("%w: cursor %q: bad type %d", ErrCorrupt, name, i)
		}
		c.Types = append(c.Types, string(rest[k:k+int(l)]))
		rest = rest[k+int(l):]
	}
	c.TypesKnown = true
	return c, nil
}

// cursorTypes is the sorted, deduplicated type set a subscription stores
// with its cursor (nil: every type).
// A category filter counts as its types.
func cursorTypes(f Filter) []string {
	set := f.typeSet()
	if set == nil {
		return nil
	}
	t := make([]string, 0, len(set))
	for k := range set {
		if k != "" {
			t = append(t, k)
		}
	}
	slices.Sort(t)
	return t
}

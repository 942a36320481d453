package journal

import (
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"github.com/ringrift/ringriftd/event"
)

// recordVersion is the first byte of every event record: part of the format.
const recordVersion = 1

const flagNoDedup = 1 << 0

// appendRecord appends the record encoding of e (doc.go) to dst.
func appendRecord(dst []byte, e *event.Event) []byte {
	var flags byte
	if e.NoDedup {
		flags |= flagNoDedup
	}
	dst = append(dst, recordVersion, flags)
	dst = append(dst, e.ID[:]...)
	dst = binary.AppendVarint(dst, e.Time.UnixMilli())
	dst = binary.AppendVarint(dst, e.RecordedAt.UnixMilli())
	for _, s := range [...]string{e.Type, e.ConfigKey, e.NodeID, e.Source, e.CausationID, e.CorrelationID} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return append(dst, e.Payload...)
}

// decodeRecord decodes a record into e with one allocation, so e stays valid
// after v is reused.
func decodeRecord(seq uint64, v []byte, e *event.Event) error {
	if len(v) < 2+16 {
		return fmt.Errorf("%w: seq %d: record of %d bytes", ErrCorrupt, seq, len(v))
	}
	if v[0] != recordVersion {
		return fmt.Errorf("%w: seq %d: record version %d, this build reads %d", ErrCorrupt, seq, v[0], recordVersion)
	}
	e.Seq = seq
	e.NoDedup = v[1]&flagNoDedup != 0
	copy(e.ID[:], v[2:18])
	p := v[18:]
	t, n := binary.Varint(p)
	if n <= 0 {
		return fmt.Errorf("%w: seq %d: bad time", ErrCorrupt, seq)
	}
	p = p[n:]
	ra, n := binary.Varint(p)
	if n <= 0 {
		return fmt.Errorf("%w: seq %d: bad recorded_at", ErrCorrupt, seq)
	}
	p = p[n:]
	e.Time = time.UnixMilli(t).UTC()
	e.RecordedAt = time.UnixMilli(ra).UTC()

	// Find the six strings, then make them from one string allocation.
	var bounds [6][2]int
	start := len(v) - len(p)
	off := start
	for i := range bounds {
		l, n := binary.Uvarint(v[off:])
		if n <= 0 || l > uint64(len(v)-off-n) {
			return fmt.Errorf("%w: seq %d: bad string %d", ErrCorrupt, seq, i)
		}
		off += n
		bounds[i] = [2]int{off, off + int(l)}
		off += int(l)
	}
	typ, ok := event.Intern(v[bounds[0][0]:bounds[0][1]])
	if !ok {
		// A type this build's catalog does not know: keep it, readers decide.
		typ = string(v[bounds[0][0]:bounds[0][1]])
	}
	e.Type = typ
	// One allocation holds the five other strings and the payload: the
	// strings are read-only views of it, the payload a capacity-limited slice
	// after them, so neither can reach the other.
	base := bounds[1][0]
	buf := make([]byte, len(v)-base)
	copy(buf, v[base:])
	sub := func(i int) string {
		if bounds[i][1] == bounds[i][0] {
			return ""
		}
		return unsafe.String(&buf[bounds[i][0]-base], bounds[i][1]-bounds[i][0])
	}
	e.ConfigKey, e.NodeID, e.Source, e.CausationID, e.CorrelationID = sub(1), sub(2), sub(3), sub(4), sub(5)
	if off < len(v) {
		e.Payload = buf[off-base : len(buf) : len(buf)]
	} else {
		e.Payload = nil
	}
	return nil
}

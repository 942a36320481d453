package journal

import (
	"encoding/binary"
)

// Key prefixes: part of the on-disk format (see doc.go). Never change one.
const (
	prefixFormat     = 'F'
	prefixEvent      = 'e'
	prefixID         = 'i'
	prefixType       = 't'
	prefixConfig     = 'c'
	prefixNode       = 'n'
	prefixDedup      = 'h' // the older dedup memory: read, no longer written
	prefixDedupTime  = 'd'
	prefixRejected   = 'r'
	prefixMeta       = 'M'
	prefixCursor     = 's'
	prefixCheckpoint = 'k'
)

// FormatVersion is the journal format this code writes and the newest it opens.
const FormatVersion = 1

func eventKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixEvent
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func appendEventKey(dst []byte, seq uint64) []byte {
	dst = append(dst, prefixEvent)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func idKey(id [16]byte) []byte {
	k := make([]byte, 17)
	k[0] = prefixID
	copy(k[1:], id[:])
	return k
}

// indexPrefix is the key prefix of one value of a secondary index.
func indexPrefix(prefix byte, value string) []byte {
	k := make([]byte, 0, 3+len(value)+8)
	k = append(k, prefix)
	k = binary.AppendUvarint(k, uint64(len(value)))
	return append(k, value...)
}

func appendIndexKey(dst []byte, prefix byte, value string, seq uint64) []byte {
	dst = append(dst, prefix)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	dst = append(dst, value...)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// seqSuffix reads the big-endian seq at the end of an index or event key.
func seqSuffix(k []byte) uint64 {
	return binary.BigEndian.Uint64(k[len(k)-8:])
}

func seqKey(prefix byte, seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func nameKey(prefix byte, name string) []byte {
	return append([]byte{prefix}, name...)
}

// prefixEnd returns the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

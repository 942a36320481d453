package journal

import (
	"encoding/binary"
)

// Key prefixes: part of the on-disk format (see doc.go). Never change one.
const (
	prefixFormat     = 'F'
	prefixEvent      = 'e'
	prefixID         = 'i'
	prefixType       = 't' // format 1 only: removed by the upgrade to 2
	prefixConfig     = 'c' // format 1 only
	prefixNode       = 'n' // format 1 only
	prefixIndex      = 'x' // format 2: the secondary indexes, by epoch (index.go)
	prefixDedup      = 'h' // the older dedup memory: read, no longer written
	prefixDedupTime  = 'd'
	prefixRejected   = 'r'
	prefixMeta       = 'M'
	prefixCursor     = 's'
	prefixCheckpoint = 'k'
)

// FormatVersion is the journal format this code writes and the newest it opens.
// Format 1 (indexes written with each event) is upgraded to 2 at Open.
const FormatVersion = 2

// The kinds of secondary index, the byte after the epoch in an index key.
const (
	indexType   = 't'
	indexConfig = 'c' // covering: the value is the event record
	indexNode   = 'n'
)

// epochBits: an index key's epoch is seq>>epochBits, so that the index
// entries of newer events sort after those of older ones (doc.go).
const (
	epochBits = 16
	epochLen  = 6 // bytes of the epoch in a key: seq>>16 fits in 48 bits
)

// indexedKey is the meta key holding the index watermark: every event up to
// that seq is in the secondary indexes.
var indexedKey = append([]byte{prefixMeta}, "index_seq"...)

func appendEpoch(dst []byte, epoch uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], epoch)
	return append(dst, b[8-epochLen:]...)
}

// appendIndexKey appends the format-2 index key of (kind, value) for seq:
// 'x' epoch[6] kind len value seq[8].
func appendIndexKey(dst []byte, kind byte, value string, seq uint64) []byte {
	return appendIndexKeyIn(dst, seq>>epochBits, kind, value, seq)
}

// appendIndexKeyIn is appendIndexKey in a given epoch: with seq one past
// the epoch's last, it is an upper bound inside the epoch.
func appendIndexKeyIn(dst []byte, epoch uint64, kind byte, value string, seq uint64) []byte {
	dst = append(dst, prefixIndex)
	dst = appendEpoch(dst, epoch)
	dst = append(dst, kind)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	dst = append(dst, value...)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// epochKey is the first index key of an epoch.
func epochKey(epoch uint64) []byte {
	return appendEpoch([]byte{prefixIndex}, epoch)
}

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

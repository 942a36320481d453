package journal

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Checkpoint is a saved snapshot of derived state: the seq it reflects, the
// format version of its data, and the data. A checkpoint is a cache: deleting
// one changes nothing but start-up time.
type Checkpoint struct {
	Version uint32
	Seq     uint64
	Data    []byte
}

// SaveCheckpoint stores (synced) the checkpoint under name. seq must be
// durable: a checkpoint never runs ahead of the journal.
func (j *Journal) SaveCheckpoint(name string, c Checkpoint) error {
	if c.Seq > j.Durable() {
		return fmt.Errorf("journal: checkpoint %q at seq %d is past the durable seq %d", name, c.Seq, j.Durable())
	}
	v := make([]byte, 12, 12+len(c.Data))
	binary.BigEndian.PutUint32(v, c.Version)
	binary.BigEndian.PutUint64(v[4:], c.Seq)
	v = append(v, c.Data...)
	if err := j.writeMeta(true, func(b *pebble.Batch) { _ = b.Set(nameKey(prefixCheckpoint, name), v, nil) }); err != nil {
		return fmt.Errorf("journal: save checkpoint %q: %w", name, err)
	}
	return nil
}

// LoadCheckpoint returns the checkpoint saved under name (ErrNotFound when
// there is none).
func (j *Journal) LoadCheckpoint(name string) (Checkpoint, error) {
	v, closer, err := j.db.Get(nameKey(prefixCheckpoint, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint %q", ErrNotFound, name)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("journal: load checkpoint %q: %w", name, err)
	}
	defer closer.Close()
	if len(v) < 12 {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint %q of %d bytes", ErrCorrupt, name, len(v))
	}
	return Checkpoint{
		Version: binary.BigEndian.Uint32(v),
		Seq:     binary.BigEndian.Uint64(v[4:]),
		Data:    append([]byte(nil), v[12:]...),
	}, nil
}

// DeleteCheckpoint removes a checkpoint; missing is not an error.
func (j *Journal) DeleteCheckpoint(name string) error {
	if err := j.writeMeta(true, func(b *pebble.Batch) { _ = b.Delete(nameKey(prefixCheckpoint, name), nil) }); err != nil {
		return fmt.Errorf("journal: delete checkpoint %q: %w", name, err)
	}
	return nil
}

package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// TestDedupLegacyForm: a journal written before the dedup memory kept every
// event holds it in the 'h' form (the newest event of each key); it is still
// read, alongside the new form.
func TestDedupLegacyForm(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{FS: fs, DedupWindow: 30 * time.Second}
	j, err := Open("j", opts)
	require.NoError(t, err)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	mk := func(at time.Time) event.Event {
		return event.Event{Type: "new_games", ConfigKey: "hex8_2p", Source: "test", Time: at, Payload: json.RawMessage(`{"games":5}`)}
	}
	// Write seq 1 as the older code did: the record and its 'h' entry.
	old := mk(t0)
	res, err := j.Append(context.Background(), []event.Event{{Type: "sync_completed", Source: "test", NoDedup: true}}, AppendOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(1), res[0].Seq)
	old.ID, old.Seq, old.RecordedAt = res[0].ID, 1, t0
	b := j.db.NewBatch()
	require.NoError(t, b.Set(eventKey(1), appendRecord(nil, &old), nil))
	key := event.ContentKey(&old)
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], 1)
	binary.BigEndian.PutUint64(v[8:], uint64(t0.UnixMilli()))
	require.NoError(t, b.Set(append([]byte{prefixDedup}, key[:]...), v[:], nil))
	require.NoError(t, j.db.Apply(b, pebble.Sync))
	require.NoError(t, j.Close())

	j, err = Open("j", opts)
	require.NoError(t, err)
	defer j.Close()
	require.True(t, j.legacyDedup)
	r, err := j.AppendOne(context.Background(), ptr(mk(t0.Add(10*time.Second))))
	require.NoError(t, err)
	require.Equal(t, Duplicate, r.Status, "the 'h' entry is read")
	require.Equal(t, uint64(1), r.Seq)
	r, err = j.AppendOne(context.Background(), ptr(mk(t0.Add(50*time.Second))))
	require.NoError(t, err)
	require.Equal(t, Appended, r.Status)
	r, err = j.AppendOne(context.Background(), ptr(mk(t0.Add(60*time.Second))))
	require.NoError(t, err)
	require.Equal(t, Duplicate, r.Status, "the new form is read")
	require.Equal(t, uint64(2), r.Seq)
}

func ptr(e event.Event) *event.Event { return &e }

package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

var indexFilters = []Filter{
	{ConfigKey: "square8_3p"},
	{ConfigKey: "square8_3p", Types: []string{"new_games"}},
	{NodeID: "gpu-3"},
	{Types: []string{"training_progress"}},
	{Types: []string{"training_progress", "health_check_failed"}},
	{Category: "data"},
	{ConfigKey: "no-such-config"},
}

func indexEvents(n, offset int) []event.Event {
	configs := []string{"hex8_2p", "square8_3p", "hexagonal_4p"}
	evs := make([]event.Event, 0, n)
	for i := offset; i < offset+n; i++ {
		e := event.Event{Type: "new_games", ConfigKey: configs[i%3], Source: "test", Payload: json.RawMessage(fmt.Sprintf(`{"games":%d}`, i))}
		switch i % 4 {
		case 1:
			e.Type, e.Payload = "training_progress", json.RawMessage(`{"epoch":1}`)
		case 2:
			e.Type, e.ConfigKey, e.NodeID, e.Payload = "health_check_failed", "", fmt.Sprintf("gpu-%d", i%5), nil
		}
		evs = append(evs, e)
	}
	return evs
}

// checkFilteredReads compares every filtered read from several seqs with
// a filter applied to the whole log.
func checkFilteredReads(t *testing.T, j *Journal, what string) {
	t.Helper()
	all, err := j.Read(1, Filter{}, 0)
	require.NoError(t, err)
	require.Len(t, all, int(j.Durable()))
	for _, f := range indexFilters {
		types := f.typeSet()
		for _, from := range []uint64{1, 20, j.Durable() / 2, j.Durable()} {
			var want []uint64
			for i := range all {
				if all[i].Seq >= from && f.matchRest(&all[i], types) {
					want = append(want, all[i].Seq)
				}
			}
			got, err := j.Read(from, f, 0)
			require.NoError(t, err)
			var gotSeqs []uint64
			for i := range got {
				gotSeqs = append(gotSeqs, got[i].Seq)
				w := &all[got[i].Seq-1]
				require.Equal(t, w.ID, got[i].ID)
				require.Equal(t, [3]string{w.ConfigKey, w.NodeID, string(w.Payload)},
					[3]string{got[i].ConfigKey, got[i].NodeID, string(got[i].Payload)}, "seq %d", w.Seq)
			}
			require.Equal(t, want, gotSeqs, "%s: %+v from %d (index at %d of %d)", what, f, from, j.Indexed(), j.Durable())
		}
	}
}

// TestIndexBehindLog: filtered reads are exact whatever the indexer's lag
// (index up to the watermark, then the log), the lag is visible, and an
// index left behind at Close is caught up at the next Open.
func TestIndexBehindLog(t *testing.T) {
	fs := vfs.NewMem()
	j, err := Open("j", Options{FS: fs})
	require.NoError(t, err)
	j.indexPaused.Store(true)
	sent := indexEvents(300, 0)
	_, err = j.Append(context.Background(), sent, AppendOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(0), j.Indexed())
	kept, err := j.Read(1, Filter{}, 0)
	require.NoError(t, err)
	for i := range sent {
		require.Equal(t, [4]string{sent[i].Type, sent[i].ConfigKey, sent[i].NodeID, string(sent[i].Payload)},
			[4]string{kept[i].Type, kept[i].ConfigKey, kept[i].NodeID, string(kept[i].Payload)}, "seq %d", i+1)
	}
	require.Equal(t, uint64(300), j.IndexLag())
	checkFilteredReads(t, j, "nothing indexed")

	j.indexPaused.Store(false)
	j.publish(j.Durable()) // wake the indexer
	require.NoError(t, j.WaitIndexed(context.Background(), 300))
	require.Equal(t, uint64(0), j.IndexLag())
	checkFilteredReads(t, j, "all indexed")

	j.indexPaused.Store(true)
	_, err = j.Append(context.Background(), indexEvents(200, 300), AppendOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(200), j.IndexLag())
	checkFilteredReads(t, j, "index then log")
	require.NoError(t, j.Close())

	j, err = Open("j", Options{FS: fs})
	require.NoError(t, err)
	defer j.Close()
	require.Equal(t, uint64(300), j.Indexed(), "the watermark is stored with the index")
	require.NoError(t, j.WaitIndexed(context.Background(), 500))
	checkFilteredReads(t, j, "caught up after reopen")
}

// TestIndexCursorEpochs walks index values whose seqs cross epochs, with
// empty epochs between, from and to anywhere.
func TestIndexCursorEpochs(t *testing.T) {
	j, err := Open("j", Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer j.Close()
	e := uint64(1) << epochBits
	seqs := []uint64{1, 5, e - 1, e, e + 1, 2*e - 1, 5*e + 3, 9 * e}
	b := j.db.NewBatch()
	for _, s := range seqs {
		_ = b.Set(appendIndexKey(nil, indexNode, "gpu-1", s), nil, nil)
		_ = b.Set(appendIndexKey(nil, indexNode, "gpu-11", s+1), nil, nil) // a longer value, interleaved
		_ = b.Set(appendIndexKey(nil, indexType, "gpu-1", s), nil, nil)    // another kind, same value
	}
	require.NoError(t, b.Commit(nil))
	for _, r := range [][2]uint64{{1, 9 * e}, {2, e}, {e, e}, {e + 1, 5*e + 3}, {2 * e, 5 * e}, {6 * e, 10 * e}, {3, 4}} {
		c, err := j.newIndexCursor(indexNode, "gpu-1", r[0], r[1])
		require.NoError(t, err)
		var got []uint64
		for c.next() {
			got = append(got, c.seq())
		}
		require.NoError(t, c.close())
		var want []uint64
		for _, s := range seqs {
			if s >= r[0] && s <= r[1] {
				want = append(want, s)
			}
		}
		require.Equal(t, want, got, "seqs in [%d, %d]", r[0], r[1])
	}
}

// TestUpgradeV1Keys: opening a format-1 journal removes its index keys,
// sets the format byte to 2 and rebuilds the indexes in the format-2
// layout; reads are exact before the rebuild ends and after.
func TestUpgradeV1Keys(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, copyFS(vfs.Default, "../fixtures/compat/v1", fs, "j"))
	count := func(j *Journal, p byte) int {
		it, err := j.db.NewIter(nil)
		require.NoError(t, err)
		defer it.Close()
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			if it.Key()[0] == p {
				n++
			}
		}
		return n
	}
	j, err := Open("j", Options{FS: fs, pauseIndexer: true})
	require.NoError(t, err)
	require.Equal(t, uint64(0), j.Indexed())
	for _, p := range []byte{prefixType, prefixConfig, prefixNode, prefixIndex} {
		require.Zero(t, count(j, p), "no index keys %q before the rebuild", p)
	}
	checkFilteredReads(t, j, "v1 upgraded, not indexed yet")
	j.indexPaused.Store(false)
	j.publish(j.Durable()) // wake the indexer
	require.NoError(t, j.WaitIndexed(context.Background(), j.Durable()))
	for _, p := range []byte{prefixType, prefixConfig, prefixNode} {
		require.Zero(t, count(j, p), "format-1 index keys %q are removed", p)
	}
	require.Equal(t, 30+24+6, count(j, prefixIndex), "30 type, 24 config and 6 node entries")
	v, closer, err := j.db.Get([]byte{prefixFormat})
	require.NoError(t, err)
	require.Equal(t, []byte{2}, slices.Clone(v))
	closer.Close()
	checkFilteredReads(t, j, "v1 upgraded")
	require.NoError(t, j.Close())

	j, err = Open("j", Options{FS: fs})
	require.NoError(t, err)
	defer j.Close()
	require.Equal(t, uint64(30), j.Indexed())
	checkFilteredReads(t, j, "v1 upgraded, reopened")
}

func copyFS(from vfs.FS, dir string, to vfs.FS, toDir string) error {
	names, err := from.List(dir)
	if err != nil {
		return err
	}
	if err := to.MkdirAll(toDir, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		if err := vfs.CopyAcrossFS(from, from.PathJoin(dir, n), to, to.PathJoin(toDir, n)); err != nil {
			return err
		}
	}
	return nil
}

// TestIndexKeepsDiskReserve: short of the disk reserve and a memtable the
// indexer writes nothing (a memtable rotation its write started could meet
// ENOSPC, which Pebble does not survive); it goes on once space is back.
func TestIndexKeepsDiskReserve(t *testing.T) {
	mem := vfs.NewMem()
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30})
	j, err := Open("j", Options{FS: mem, DiskReserve: 64 << 20})
	require.NoError(t, err)
	defer j.Close()
	j.indexPaused.Store(true)
	_, err = j.Append(context.Background(), indexEvents(50, 0), AppendOptions{})
	require.NoError(t, err)

	// the reserve is free, but not the memtable an index write may fill
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 64<<20 + 8<<20, TotalBytes: 2 << 30})
	require.ErrorIs(t, j.indexStep(), errIndexNoRoom)
	require.Equal(t, uint64(0), j.Indexed())
	checkFilteredReads(t, j, "indexer held by the reserve")

	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30})
	require.NoError(t, j.indexStep())
	require.Equal(t, uint64(50), j.Indexed())
}

// TestIndexWatermarkPastLog: a stored watermark past the log's end (which
// a sane file system cannot leave) must not let stale entries name seqs
// the log gives to new events: Open indexes the last epochs again.
func TestIndexWatermarkPastLog(t *testing.T) {
	fs := vfs.NewMem()
	j, err := Open("j", Options{FS: fs})
	require.NoError(t, err)
	_, err = j.Append(context.Background(), indexEvents(10, 0), AppendOptions{})
	require.NoError(t, err)
	require.NoError(t, j.WaitIndexed(context.Background(), 10))
	// seq 2 is a square8_3p event: its covering entry, copied to seq 12
	v, closer, err := j.db.Get(appendIndexKey(nil, indexConfig, "square8_3p", 2))
	require.NoError(t, err)
	b := j.db.NewBatch()
	_ = b.Set(appendIndexKey(nil, indexConfig, "square8_3p", 12), v, nil)
	_ = b.Set(indexedKey, binary.BigEndian.AppendUint64(nil, 20), nil)
	closer.Close()
	require.NoError(t, b.Commit(nil))
	require.NoError(t, j.Close())

	j, err = Open("j", Options{FS: fs})
	require.NoError(t, err)
	defer j.Close()
	_, err = j.Append(context.Background(), indexEvents(5, 10), AppendOptions{})
	require.NoError(t, err)
	require.NoError(t, j.WaitIndexed(context.Background(), 15))
	checkFilteredReads(t, j, "after a watermark past the log")
}

// TestIndexerStopsOnCorruptRecord: a record the indexer cannot read stops
// it, and WaitIndexed answers why (ErrCorrupt) instead of waiting for an
// index that will not come; reads of the log go on.
func TestIndexerStopsOnCorruptRecord(t *testing.T) {
	j, err := Open("j", Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	defer j.Close()
	j.indexPaused.Store(true)
	_, err = j.Append(context.Background(), indexEvents(20, 0), AppendOptions{})
	require.NoError(t, err)
	require.NoError(t, j.db.Set(eventKey(7), []byte{recordVersion + 9}, nil)) // seq 7: a record this build cannot read
	j.indexPaused.Store(false)
	j.publish(j.Durable()) // wake the indexer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = j.WaitIndexed(ctx, 20)
	require.ErrorIs(t, err, ErrCorrupt, "WaitIndexed names why the index stopped")
	require.Less(t, j.Indexed(), uint64(7), "nothing past the corrupt record is indexed")
	e, err := j.Get(3)
	require.NoError(t, err)
	require.Equal(t, uint64(3), e.Seq, "reads of the log go on")
}

// TestIndexerRetriesReadErrors: a read error (EIO from a table) does not
// stop the indexer for good: it retries, and indexes everything once the
// reads work again.
func TestIndexerRetriesReadErrors(t *testing.T) {
	var failReads atomic.Bool
	var injected atomic.Int64
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failReads.Load() && strings.HasSuffix(op.Path, ".sst") &&
			(op.Kind == errorfs.OpFileReadAt || op.Kind == errorfs.OpFileRead || op.Kind == errorfs.OpOpen) {
			injected.Add(1)
			return errorfs.ErrInjected
		}
		return nil
	})
	j, err := Open("j", Options{FS: errorfs.Wrap(vfs.NewMem(), inj), CacheSize: 1, pauseIndexer: true})
	require.NoError(t, err)
	defer j.Close()
	_, err = j.Append(context.Background(), indexEvents(300, 0), AppendOptions{})
	require.NoError(t, err)
	require.NoError(t, j.db.Flush()) // the records now come from a table
	failReads.Store(true)
	j.indexPaused.Store(false)
	j.publish(j.Durable()) // wake the indexer
	require.Eventually(t, func() bool { return injected.Load() >= 2 }, 30*time.Second, time.Millisecond, "the indexer read the table")
	require.Equal(t, uint64(0), j.Indexed())
	failReads.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, j.WaitIndexed(ctx, 300), "indexed once reads work again")
	checkFilteredReads(t, j, "indexed after read errors")
}

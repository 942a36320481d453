package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// fakeLog is a log of record in memory: it stores a batch when its first
// seq follows the last, and can be told to fail after some batches (no
// quorum) or to run a function inside a publish.
type fakeLog struct {
	mu        sync.Mutex
	evs       []event.Event
	batches   int
	failAfter int // batches stored before every publish fails with no quorum; -1: never
	during    func()
}

func (f *fakeLog) Publish(_ context.Context, evs []event.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.during != nil {
		f.during()
	}
	if f.failAfter >= 0 && f.batches >= f.failAfter {
		return fmt.Errorf("%w: test", ErrNoQuorum)
	}
	if last := uint64(len(f.evs)); evs[0].Seq != last+1 {
		return &HeadMovedError{Head: last}
	}
	f.evs = append(f.evs, evs...)
	f.batches++
	return nil
}

func (f *fakeLog) Head(context.Context) (uint64, error) {
	return 0, fmt.Errorf("%w: test (no head either)", ErrNoQuorum)
}

func (f *fakeLog) stored() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.evs)
}

func openReplica(t *testing.T, fs vfs.FS, log *fakeLog, maxBatch int) *Journal {
	t.Helper()
	j, err := Open("j", Options{FS: fs, Replica: &ReplicaOptions{Log: log, MaxBatch: maxBatch, RetryFor: 200 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func games(t *testing.T, n int) []event.Event {
	t.Helper()
	evs := make([]event.Event, n)
	for i := range evs {
		e, err := event.Decode([]byte(fmt.Sprintf(`{"type":"new_games","config_key":"hex8_2p","payload":{"games":%d}}`, i+1)))
		require.Nil(t, err)
		evs[i] = e
	}
	return evs
}

// TestReplicaPartialPublishIsUnknown: a group published in several batches
// of which the first is stored and a later one refused has partly landed;
// its appends are answered unknown (retry with the same ids), never "not
// landed" — even when no retry can settle it.
func TestReplicaPartialPublishIsUnknown(t *testing.T) {
	log := &fakeLog{failAfter: 1}
	j := openReplica(t, vfs.NewMem(), log, 2)
	_, err := j.Append(context.Background(), games(t, 3), AppendOptions{})
	require.Error(t, err)
	require.Equal(t, 2, log.stored(), "the first batch is in the log")
	assert.ErrorIs(t, err, ErrPublishUnknown, "%v", err)
	assert.NotErrorIs(t, err, ErrNoQuorum, "no quorum would read as nothing journaled: %v", err)
}

// TestReplicaPublishKeepsAppendsWhole: a group's publishes are cut at its
// appends' boundaries, so an append never lands in part.
func TestReplicaPublishKeepsAppendsWhole(t *testing.T) {
	g := &group{firstSeq: 11}
	evs := make([]event.Event, 9)
	for i := range evs {
		evs[i].Seq = 11 + uint64(i)
	}
	// appends of 2, 3, 1 and 3 events (seqs 11–19); one replica request
	// and one that took no seq in between
	for _, r := range [][2]uint64{{11, 13}, {13, 16}, {16, 16}, {16, 17}, {17, 20}} {
		g.reqs = append(g.reqs, &request{seqLo: r[0], seqHi: r[1]})
	}
	g.reqs = append([]*request{{replica: true, seqLo: 1, seqHi: 11}}, g.reqs...)
	var got [][]uint64
	for _, b := range publishBatches(g, evs, 4) {
		var seqs []uint64
		for _, e := range b {
			seqs = append(seqs, e.Seq)
		}
		got = append(got, seqs)
	}
	assert.Equal(t, [][]uint64{{11, 12}, {13, 14, 15, 16}, {17, 18, 19}}, got)

	// an append longer than a batch is cut inside, the rest stays whole
	g.reqs = []*request{{seqLo: 11, seqHi: 12}, {seqLo: 12, seqHi: 18}, {seqLo: 18, seqHi: 20}}
	got = nil
	for _, b := range publishBatches(g, evs, 4) {
		got = append(got, []uint64{b[0].Seq, b[len(b)-1].Seq})
	}
	assert.Equal(t, [][]uint64{{11, 11}, {12, 15}, {16, 19}}, got)
}

// TestReplicaStoredThenFailedIsUnknown: when the replica fails while the
// log of record stores its group, the appends are not answered "not
// landed": the log holds them.
func TestReplicaStoredThenFailedIsUnknown(t *testing.T) {
	log := &fakeLog{failAfter: -1}
	j := openReplica(t, vfs.NewMem(), log, 1000)
	log.during = func() { j.fail(errors.New("test: the disk failed meanwhile")) }
	_, err := j.Append(context.Background(), games(t, 1), AppendOptions{})
	require.Error(t, err)
	require.Equal(t, 1, log.stored())
	assert.ErrorIs(t, err, ErrPublishUnknown, "%v", err)
	assert.NotErrorIs(t, err, ErrNotLanded, "%v", err)
}

// TestReplicaDiskFull: below the disk reserve a replica still writes what
// the log of record holds (Replicate succeeds), while its own appends and
// rejections are refused and nothing of them is written.
func TestReplicaDiskFull(t *testing.T) {
	mem := vfs.NewMem()
	const reserve = 8 << 20
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: reserve - 1, TotalBytes: 2 << 30, UsedBytes: 2<<30 - reserve + 1})
	j, err := Open("j", Options{FS: mem, DiskReserve: reserve,
		Replica: &ReplicaOptions{Log: &fakeLog{failAfter: -1}, RetryFor: 200 * time.Millisecond}})
	require.NoError(t, err)
	defer j.Close()

	evs := games(t, 2)
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
		evs[i].ID = ulid.Make()
		evs[i].Time = time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC)
		evs[i].RecordedAt = evs[i].Time
	}
	require.NoError(t, j.Replicate(context.Background(), evs), "the log's events are not refusable")
	require.Equal(t, uint64(2), j.Durable())

	require.ErrorIs(t, j.Reject(Rejection{Code: event.CodeInvalidJSON, Raw: "x"}), ErrDiskFull)
	log, err := j.Rejected(0, 10)
	require.NoError(t, err)
	assert.Empty(t, log.Entries, "a refused rejection is not written")
}

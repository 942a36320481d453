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

// gatedFS holds every sync while its gate is shut, as a slow disk would.
type gatedFS struct {
	vfs.FS
	mu   sync.Mutex
	gate chan struct{} // nil: syncs pass
	// fail, once set, is what every sync returns after the gate.
	fail error
}

func (fs *gatedFS) shut() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.gate = make(chan struct{})
}

func (fs *gatedFS) open() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.gate != nil {
		close(fs.gate)
		fs.gate = nil
	}
}

func (fs *gatedFS) wait() error {
	fs.mu.Lock()
	g := fs.gate
	fs.mu.Unlock()
	if g != nil {
		<-g
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.fail
}

func (fs *gatedFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return gatedFile{f, fs}, err
}

func (fs *gatedFS) ReuseForWrite(old, new string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(old, new, c)
	return gatedFile{f, fs}, err
}

type gatedFile struct {
	vfs.File
	fs *gatedFS
}

func (f gatedFile) Sync() error {
	if err := f.fs.wait(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f gatedFile) SyncData() error {
	if err := f.fs.wait(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f gatedFile) SyncTo(length int64) (bool, error) {
	if err := f.fs.wait(); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}

// appendAsync appends in a goroutine; the channel yields its answer.
func appendAsync(j *Journal, evs []event.Event, opts AppendOptions) <-chan []Result {
	ch := make(chan []Result, 1)
	errs := appendAsyncErr(j, evs, opts)
	go func() {
		a := <-errs
		if a.err != nil {
			a.res = nil
		}
		ch <- a.res
	}()
	return ch
}

type appendAnswer struct {
	res []Result
	err error
}

func appendAsyncErr(j *Journal, evs []event.Event, opts AppendOptions) <-chan appendAnswer {
	ch := make(chan appendAnswer, 1)
	go func() {
		res, err := j.Append(context.Background(), evs, opts)
		ch <- appendAnswer{res, err}
	}()
	return ch
}

// answered waits for an append that must be answered while the replica's
// fsync is held (bounded, so that the test fails instead of hanging).
func answered(t *testing.T, ch <-chan []Result, what string) []Result {
	t.Helper()
	select {
	case res := <-ch:
		require.NotNil(t, res, "%s: failed", what)
		return res
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not answered while the replica's fsync is held", what)
		return nil
	}
}

func notAnswered(t *testing.T, ch <-chan []Result, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: answered before the replica's fsync", what)
	default:
	}
}

// TestReplicaAnswerWhenStored: an append that asks for it (a forwarded
// one) is answered once the log of record stored it and the replica
// applied it, while the replica's fsync is still held; an ordinary append,
// and one with a duplicate (which writes a rejected-log entry), still wait
// for the fsync.
func TestReplicaAnswerWhenStored(t *testing.T) {
	fs := &gatedFS{FS: vfs.NewMem()}
	log := &fakeLog{failAfter: -1}
	j := openReplica(t, fs, log, 1000)
	first := games(t, 1)
	_, err := j.Append(context.Background(), first, AppendOptions{})
	require.NoError(t, err)

	fs.shut()
	defer fs.open() // before Close, which syncs
	early := AppendOptions{AnswerWhenStored: true}

	res := answered(t, appendAsync(j, games(t, 1), early), "early append")
	assert.Equal(t, uint64(2), res[0].Seq)
	assert.Equal(t, uint64(1), j.Durable(), "answered before its fsync")
	assert.Equal(t, 2, log.stored(), "and after the log stored it")

	// Both of these are in the log before the barrier below is sequenced:
	// the barrier's answer means their groups were applied too.
	plain := appendAsync(j, games(t, 1), AppendOptions{})
	require.Eventually(t, func() bool { return log.stored() == 3 }, 10*time.Second, time.Millisecond)
	dup := games(t, 1)
	dup = append(dup, first[0])
	dup[1].Seq = 0
	withDup := appendAsync(j, dup, early)
	require.Eventually(t, func() bool { return log.stored() == 4 }, 10*time.Second, time.Millisecond)
	answered(t, appendAsync(j, games(t, 1), early), "barrier")
	notAnswered(t, plain, "an ordinary append")
	notAnswered(t, withDup, "an append with a duplicate")

	fs.open()
	for _, ch := range []<-chan []Result{plain, withDup} {
		res := answered(t, ch, "after the fsync")
		assert.GreaterOrEqual(t, j.Durable(), res[0].Seq)
	}
}

// TestReplicaAnswerWhenStoredThenSyncFails: when the replica's fsync fails
// after a group was answered early in part, the early answer stands (the log
// holds the group) and the group's other appends are answered unknown,
// never "not landed"; the replica is failed.
func TestReplicaAnswerWhenStoredThenSyncFails(t *testing.T) {
	fs := &gatedFS{FS: vfs.NewMem()}
	log := &fakeLog{failAfter: -1}
	j := openReplica(t, fs, log, 1000)
	defer fs.open()

	// The sequencer is held in a publish while the two appends queue, so
	// that they make one group.
	inPublish, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	log.during = func() {
		once.Do(func() {
			close(inPublish)
			<-unblock
		})
	}
	first := appendAsyncErr(j, games(t, 1), AppendOptions{})
	<-inPublish
	early := appendAsyncErr(j, games(t, 1), AppendOptions{AnswerWhenStored: true})
	plain := appendAsyncErr(j, games(t, 1), AppendOptions{})
	require.Eventually(t, func() bool { return len(j.reqs) == 2 }, 10*time.Second, time.Millisecond)
	fs.shut()
	fs.mu.Lock()
	fs.fail = errors.New("test: the disk failed")
	fs.mu.Unlock()
	close(unblock)

	select {
	case a := <-early:
		require.NoError(t, a.err)
		require.Contains(t, []uint64{2, 3}, a.res[0].Seq, "in the group after the first")
	case <-time.After(10 * time.Second):
		t.Fatal("the early append was not answered while the fsync was held")
	}
	log.mu.Lock()
	batches, stored := log.batches, len(log.evs)
	log.mu.Unlock()
	require.Equal(t, 2, batches, "the two appends made one group")
	require.Equal(t, 3, stored)
	fs.open()
	for _, ch := range []<-chan appendAnswer{first, plain} {
		a := <-ch
		require.Error(t, a.err)
		assert.ErrorIs(t, a.err, ErrOutcomeUnknown, "%v", a.err)
		assert.NotErrorIs(t, a.err, ErrNotLanded, "%v", a.err)
	}
	require.ErrorIs(t, j.Err(), ErrFailed)
}

// decideHook is a replica hook that takes one decision after every event
// whose source is "decide".
type decideHook struct{}

func (decideHook) Begin(bool) {}
func (decideHook) Admit(e *event.Event) ([]event.Event, *event.Error) {
	if e.Source != "decide" {
		return nil, nil
	}
	d := event.Event{ID: ulid.Make(), Type: "new_games", ConfigKey: e.ConfigKey, Source: "test/decision", Time: e.Time,
		CausationID: e.ID.String(), Payload: e.Payload}
	return []event.Event{d}, nil
}
func (decideHook) Commit()                      {}
func (decideHook) Rollback()                    {}
func (decideHook) FoldReplicated([]event.Event) {}
func (decideHook) Savepoint()                   {}
func (decideHook) RollbackToSavepoint() error   { return nil }
func (decideHook) GroupDone()                   {}

// TestReplicaAnswerWhenStoredWaitsForDecisions: an append whose event took
// a decision waits for the fsync even when it asked not to, because its
// caller reads the decisions back from the replica, which reads only what
// is durable.
func TestReplicaAnswerWhenStoredWaitsForDecisions(t *testing.T) {
	fs := &gatedFS{FS: vfs.NewMem()}
	log := &fakeLog{failAfter: -1}
	j, err := Open("j", Options{FS: fs, Hook: decideHook{}, Replica: &ReplicaOptions{Log: log, RetryFor: 200 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	fs.shut()
	defer fs.open()
	early := AppendOptions{AnswerWhenStored: true}

	decided := games(t, 1)
	decided[0].Source = "decide"
	withDecision := appendAsync(j, decided, early)
	require.Eventually(t, func() bool { return log.stored() == 2 }, 10*time.Second, time.Millisecond)
	answered(t, appendAsync(j, games(t, 1), early), "barrier")
	notAnswered(t, withDecision, "an append with a decision")

	fs.open()
	res := answered(t, withDecision, "after the fsync")
	require.Equal(t, 1, res[0].Decisions)
	got, err := j.Read(res[0].Seq+1, Filter{}, 1)
	require.NoError(t, err)
	require.Len(t, got, 1, "its decision is readable when it is answered")
}

package journal_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// switchable is an errorfs injector whose rule the test swaps at will.
type switchable struct {
	rule atomic.Pointer[func(errorfs.Op) error]
}

func (s *switchable) String() string { return "switchable" }

func (s *switchable) MaybeError(op errorfs.Op) error {
	if f := s.rule.Load(); f != nil {
		return (*f)(op)
	}
	return nil
}

func (s *switchable) set(f func(errorfs.Op) error) { s.rule.Store(&f) }
func (s *switchable) off()                         { s.rule.Store(nil) }

// failOn returns a rule failing every op of the kinds on files with suffix.
func failOn(suffix string, errno syscall.Errno, kinds ...errorfs.OpKind) func(errorfs.Op) error {
	return func(op errorfs.Op) error {
		if !strings.HasSuffix(op.Path, suffix) {
			return nil
		}
		for _, k := range kinds {
			if op.Kind == k {
				return errno
			}
		}
		return nil
	}
}

var syncKinds = []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}

// holdHook holds the sequencer inside Admit of an event whose source is
// "hold" until release is closed, so that a test can queue several appends
// into the next group commit. It records what it committed.
type holdHook struct {
	release   chan struct{}
	held      chan struct{}
	mu        sync.Mutex
	pending   []ulid.ULID
	committed []ulid.ULID
}

func newHoldHook() *holdHook {
	return &holdHook{release: make(chan struct{}), held: make(chan struct{}, 1)}
}

func (h *holdHook) Begin(bool) { h.mu.Lock(); h.pending = nil; h.mu.Unlock() }
func (h *holdHook) Admit(e *event.Event) ([]event.Event, *event.Error) {
	if e.Source == "hold" {
		h.held <- struct{}{}
		<-h.release
	}
	h.mu.Lock()
	h.pending = append(h.pending, e.ID)
	h.mu.Unlock()
	return nil, nil
}
func (h *holdHook) Commit() {
	h.mu.Lock()
	h.committed = append(h.committed, h.pending...)
	h.mu.Unlock()
}
func (h *holdHook) Rollback() { h.mu.Lock(); h.pending = nil; h.mu.Unlock() }

type answer struct {
	res []journal.Result
	err error
}

// appendAsync appends in a goroutine; the answer arrives on the channel.
func appendAsync(j *journal.Journal, evs []event.Event, opts journal.AppendOptions) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		res, err := j.Append(context.Background(), evs, opts)
		ch <- answer{res, err}
	}()
	return ch
}

// inOneGroup holds the sequencer, queues the appends, arms the rule, and
// releases: the appends are sequenced as one group commit under the fault.
func inOneGroup(t *testing.T, j *journal.Journal, h *holdHook, inj *switchable, rule func(errorfs.Op) error, reqs ...[]event.Event) []answer {
	t.Helper()
	hold := appendAsync(j, []event.Event{{Type: "sync_completed", Source: "hold"}}, journal.AppendOptions{})
	<-h.held
	chans := make([]<-chan answer, len(reqs))
	for i, evs := range reqs {
		chans[i] = appendAsync(j, evs, journal.AppendOptions{})
	}
	time.Sleep(100 * time.Millisecond) // let them queue behind the held group
	inj.set(rule)
	close(h.release)
	a := <-hold
	require.NoError(t, a.err)
	out := make([]answer, len(chans))
	for i, ch := range chans {
		out[i] = <-ch
	}
	inj.off()
	return out
}

// TestReadErrorInSequencer: an id lookup that fails (an I/O error reading a
// table) makes its own append "not landed" — wholly absent, its hook work
// rolled back — and the rest of the group lands with gap-free seqs.
func TestReadErrorInSequencer(t *testing.T) {
	mem := vfs.NewMem()
	inj := &switchable{}
	fs := errorfs.Wrap(mem, inj)
	h := newHoldHook()
	opts := journal.Options{FS: fs, Hook: h, CacheSize: 1} // no block cache: lookups read the tables
	j, err := journal.Open("j", opts)
	require.NoError(t, err)
	old := ev("new_games", "hex8_2p", `{"games":1}`)
	old.ID = ulid.MustParse("01JD3ZK6Q8V7W2M4X9N5T1R0AB")
	appendAll(t, j, old)
	require.NoError(t, j.Close())
	// Reopened, the first event is in a table, not in the memtable: looking
	// its id up reads the table.
	j, err = journal.Open("j", opts)
	require.NoError(t, err)
	defer j.Close()

	resend := old
	resend.Seq, resend.RecordedAt = 0, time.Time{}
	answers := inOneGroup(t, j, h, inj, failOn(".sst", syscall.EIO, errorfs.OpFileReadAt),
		[]event.Event{ev("new_games", "hex8_2p", `{"games":2}`), resend}, // reads: fails
		[]event.Event{ev("new_games", "hex8_2p", `{"games":3}`)})         // no read: lands
	require.ErrorIs(t, answers[0].err, journal.ErrNotLanded)
	require.ErrorIs(t, answers[0].err, syscall.EIO, "the cause is kept")
	require.NoError(t, answers[1].err, "the rest of the group lands and is answered so")
	require.Equal(t, uint64(3), answers[1].res[0].Seq, "the failed append took no seq")
	require.NoError(t, j.Err(), "a read error does not fail the journal")

	// the journal goes on
	next := appendAll(t, j, ev("new_games", "hex8_2p", `{"games":4}`))[0]
	require.Equal(t, uint64(4), next.Seq)
	all, err := j.Read(1, journal.Filter{}, 0)
	require.NoError(t, err)
	for i, e := range all {
		require.Equal(t, uint64(i+1), e.Seq, "gap-free")
		require.NotEqual(t, `{"games":2}`, string(e.Payload), "the not-landed append is absent")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.committed, 4, "the hook kept exactly what landed")
	for _, id := range h.committed {
		_, err := j.GetByID(id)
		require.NoError(t, err, "committed by the hook but not journaled")
	}
}

// TestSyncFailureIsOutcomeUnknown: an append whose batch went to Pebble but
// whose fsync failed is answered "outcome unknown"; the journal then stops
// and answers later appends "not landed".
func TestSyncFailureIsOutcomeUnknown(t *testing.T) {
	mem := vfs.NewMem()
	inj := &switchable{}
	j, err := journal.Open("j", journal.Options{FS: errorfs.Wrap(mem, inj)})
	require.NoError(t, err)
	appendAll(t, j, ev("new_games", "hex8_2p", `{"games":1}`))

	inj.set(failOn(".log", syscall.EIO, syncKinds...))
	_, err = j.Append(context.Background(), []event.Event{ev("new_games", "hex8_2p", `{"games":2}`)}, journal.AppendOptions{})
	require.ErrorIs(t, err, journal.ErrOutcomeUnknown)
	require.NotErrorIs(t, err, journal.ErrNotLanded)
	require.ErrorIs(t, j.Err(), journal.ErrFailed)
	inj.off()

	_, err = j.Append(context.Background(), []event.Event{ev("new_games", "hex8_2p", `{"games":3}`)}, journal.AppendOptions{})
	require.ErrorIs(t, err, journal.ErrNotLanded)
	require.ErrorIs(t, err, journal.ErrFailed)
	require.NotErrorIs(t, err, journal.ErrOutcomeUnknown)
	require.ErrorIs(t, j.Reject(journal.Rejection{Code: event.CodeInvalidJSON, Raw: "x"}), journal.ErrNotLanded)

	got, err := j.Get(1)
	require.NoError(t, err, "reads keep working")
	require.JSONEq(t, `{"games":1}`, string(got.Payload))
	_ = j.Close()
}

// TestDiskFullGuard: under the free-space reserve an append is refused
// before anything is written (ErrDiskFull, which is also "not landed");
// reads work; once space is back appends resume, gap-free, no restart.
func TestDiskFullGuard(t *testing.T) {
	mem := vfs.NewMem()
	const reserve = 8 << 20
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30, UsedBytes: 1 << 30})
	j, err := journal.Open("j", journal.Options{FS: mem, DiskReserve: reserve})
	require.NoError(t, err)
	defer j.Close()
	appendAll(t, j, ev("new_games", "hex8_2p", `{"games":1}`))

	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: reserve - 1, TotalBytes: 2 << 30, UsedBytes: 2<<30 - reserve + 1})
	_, err = j.Append(context.Background(), []event.Event{ev("new_games", "hex8_2p", `{"games":2}`)}, journal.AppendOptions{})
	require.ErrorIs(t, err, journal.ErrDiskFull)
	require.ErrorIs(t, err, journal.ErrNotLanded)
	require.ErrorIs(t, j.Reject(journal.Rejection{Code: event.CodeInvalidJSON, Raw: "x"}), journal.ErrDiskFull)
	// a request that would itself cross the reserve is refused too
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: reserve + 1000, TotalBytes: 2 << 30, UsedBytes: 1 << 30})
	big := ev("new_games", "hex8_2p", `{"games":2,"pad":"`+strings.Repeat("x", 2000)+`"}`)
	_, err = j.Append(context.Background(), []event.Event{big}, journal.AppendOptions{})
	require.ErrorIs(t, err, journal.ErrDiskFull)
	require.NoError(t, j.Err(), "disk full does not fail the journal")
	got, err := j.Read(1, journal.Filter{}, 0)
	require.NoError(t, err)
	require.Len(t, got, 1, "reads work and nothing of the refused appends is there")

	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30, UsedBytes: 1 << 30})
	r := appendAll(t, j, ev("new_games", "hex8_2p", `{"games":3}`))[0]
	require.Equal(t, uint64(2), r.Seq, "appends resume without a gap")
}

// TestDedupOlderEvent: the content-dedup memory holds every journaled event
// of a key, so a repeat within the window of an older event is found even
// when a newer event of the same key lies outside it (clocks going back).
func TestDedupOlderEvent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			j, reopen := b.open(t, journal.Options{DedupWindow: 30 * time.Second})
			mk := func(at time.Time) event.Event {
				e := ev("new_games", "hex8_2p", `{"games":5}`)
				e.Time = at
				return e
			}
			require.Equal(t, uint64(1), appendAll(t, j, mk(t0))[0].Seq)
			require.Equal(t, uint64(2), appendAll(t, j, mk(t0.Add(40*time.Second)))[0].Seq)
			r := appendAll(t, j, mk(t0.Add(5*time.Second)))[0]
			require.Equal(t, journal.Duplicate, r.Status, "within the window of seq 1, not of seq 2")
			require.Equal(t, uint64(1), r.Seq)

			j = reopen()
			r = appendAll(t, j, mk(t0.Add(-20*time.Second)))[0]
			require.Equal(t, journal.Duplicate, r.Status, "after reopening too")
			require.Equal(t, uint64(1), r.Seq)

			// inside one append: the group's own memory
			res := appendAll(t, j, mk(t0.Add(100*time.Second)), mk(t0.Add(140*time.Second)), mk(t0.Add(105*time.Second)))
			require.Equal(t, journal.Appended, res[0].Status)
			require.Equal(t, journal.Appended, res[1].Status)
			require.Equal(t, journal.Duplicate, res[2].Status)
			require.Equal(t, res[0].Seq, res[2].Seq)
		})
	}
}

// TestRefusedAtomicBatchLogsOnlyItsRefusal: a refused atomic append writes
// one rejected-log entry, its refusal naming the batch — not "duplicate"
// entries for members found duplicate before the refused one.
func TestRefusedAtomicBatchLogsOnlyItsRefusal(t *testing.T) {
	j, _ := backends()[1].open(t, journal.Options{})
	first := ev("new_games", "hex8_2p", `{"games":1}`)
	first.ID = ulid.MustParse("01JD3ZK6Q8V7W2M4X9N5T1R0AB")
	appendAll(t, j, first)
	dup := first
	dup.Seq, dup.RecordedAt = 0, time.Time{}
	conflict := ev("new_games", "hex8_2p", `{"games":9}`)
	conflict.ID = first.ID // same id, other content
	_, err := j.Append(context.Background(), []event.Event{dup, ev("new_games", "hex8_2p", `{"games":2}`), conflict},
		journal.AppendOptions{Atomic: true})
	ref, ok := event.AsError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, event.CodeIDConflict, ref.Code)
	require.Equal(t, 2, ref.Index)

	rej, err := j.Rejected(1, 0)
	require.NoError(t, err)
	require.Len(t, rej.Entries, 1, "only the refusal: %+v", rej.Entries)
	assert.Equal(t, event.CodeIDConflict, rej.Entries[0].Code)
	assert.Equal(t, 3, rej.Entries[0].Batch)
	assert.Equal(t, 2, rej.Entries[0].Index)
	require.Equal(t, uint64(1), j.Durable())
}

// TestSubscriptionCloseReportsCursorSave: the last cursor save at shutdown
// is not ignored — when it fails, Close says so.
func TestSubscriptionCloseReportsCursorSave(t *testing.T) {
	mem := vfs.NewMem()
	inj := &switchable{}
	j, err := journal.Open("j", journal.Options{FS: errorfs.Wrap(mem, inj)})
	require.NoError(t, err)
	defer j.Close()
	got := make(chan uint64, 16)
	sub, err := j.Subscribe("s", journal.HandlerFunc(func(ctx context.Context, e *event.Event) error {
		got <- e.Seq
		return nil
	}), journal.SubscribeOptions{})
	require.NoError(t, err)
	appendAll(t, j, ev("new_games", "hex8_2p", `{"games":1}`))
	require.Equal(t, uint64(1), recvSeq(t, got))
	// the journal fails: no write reaches Pebble any more, the cursor's
	// neither
	inj.set(failOn(".log", syscall.EIO, syncKinds...))
	_, err = j.Append(context.Background(), []event.Event{ev("new_games", "hex8_2p", `{"games":2}`)}, journal.AppendOptions{})
	require.ErrorIs(t, err, journal.ErrOutcomeUnknown)
	err = sub.Close()
	require.ErrorIs(t, err, journal.ErrFailed, "Close reports the cursor it could not save")
}

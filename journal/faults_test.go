package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// chaosEnv makes TestFaultInjection run longer (make chaos): its value is
// the number of seeded runs.
const chaosEnv = "RINGRIFT_CHAOS_RUNS"

// seedEnv runs TestFaultInjection's one seed given (a failure names its
// seed; timing may make it pass, so run it with -count).
const seedEnv = "RINGRIFT_CHAOS_SEED"

// plan is one run's faults: from the after-th operation of a kind on the
// files it targets, it fails with probability p, at most budget times.
type plan struct {
	rng    *rand.Rand
	mu     sync.Mutex
	target string // ".log", ".sst"
	kinds  []errorfs.OpKind
	errno  syscall.Errno
	after  int
	p      float64
	budget int
	seen   int
	// injected counts the faults injected; armed stops it (verification
	// reads without faults).
	injected atomic.Int64
	armed    atomic.Bool
}

func (pl *plan) String() string {
	return fmt.Sprintf("%v on %s %v after %d ops, p=%.2f, at most %d", pl.errno, pl.target, pl.kinds, pl.after, pl.p, pl.budget)
}

func (pl *plan) MaybeError(op errorfs.Op) error {
	if !pl.armed.Load() || !strings.HasSuffix(op.Path, pl.target) {
		return nil
	}
	match := false
	for _, k := range pl.kinds {
		match = match || op.Kind == k
	}
	if !match {
		return nil
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.seen++
	if pl.seen <= pl.after || pl.budget == 0 || pl.rng.Float64() >= pl.p {
		return nil
	}
	pl.budget--
	pl.injected.Add(1)
	return pl.errno
}

// plans are the fault kinds of the suite. Not targeted, because Pebble
// crashes the process on them (faults.go): its manifest and options files
// (Logger.Fatalf), and the rotation of its log — creating the new log file,
// or a log that failed being closed when the memtable rotates (rotateWAL
// panics with its mutex released: a runtime error no recover catches). So
// log faults run with a memtable no run fills. The free-space reserve
// exists so that ENOSPC never reaches those; EIO there is a crash,
// recovered like kill -9.
var plans = []struct {
	name   string
	target string
	kinds  []errorfs.OpKind
	errnos []syscall.Errno
}{
	{"wal-write", ".log", []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt}, []syscall.Errno{syscall.EIO, syscall.ENOSPC}},
	{"wal-sync", ".log", syncKinds, []syscall.Errno{syscall.EIO, syscall.ENOSPC}},
	{"table-read", ".sst", []errorfs.OpKind{errorfs.OpFileReadAt, errorfs.OpFileRead, errorfs.OpOpen}, []syscall.Errno{syscall.EIO}},
	{"table-write", ".sst", []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileSync, errorfs.OpCreate}, []syscall.Errno{syscall.EIO, syscall.ENOSPC}},
	{"disk-full", "", nil, nil}, // the free-space guard, below the reserve for a while
}

// faultStats are the suite's figures.
type faultStats struct {
	runs, faults, failed, wedged                      int
	lateClose                                         int // Close heard of a fault first
	acked, notLanded, diskFull, unknown, refused, dup int
	// found counts acknowledged events found at their seq on reopening
	// (after the power cut and after the restart); seqs the seqs checked
	// gap-free.
	found, seqs int
	byPlan      map[string]int
}

// TestFaultInjection runs seeded rounds of concurrent appends (fresh,
// atomic, resent ids, content duplicates, hook refusals and decisions,
// rejected-log writes) over a file system that fails reads, writes, syncs
// and creations of Pebble's logs and tables with EIO or ENOSPC, or whose
// free space drops under the reserve. After each run, on what a power cut
// would leave and (when Pebble could be closed) after a restart, it checks
// that the journal reopens, seqs are gap-free, every acknowledged event is
// there, every "not landed" answer is true, every "outcome unknown" append
// is wholly there or wholly absent, and every error said one of those.
func TestFaultInjection(t *testing.T) {
	runs := 60
	if testing.Short() {
		runs = 20
	}
	if v := os.Getenv(chaosEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "%s=%q", chaosEnv, v)
		runs = n
	}
	first := 0
	if v := os.Getenv(seedEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "%s=%q", seedEnv, v)
		first, runs = n, n+1
	}
	st := &faultStats{byPlan: map[string]int{}}
	for seed := first; seed < runs; seed++ {
		faultRun(t, uint64(seed), st)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
	msg := fmt.Sprintf("fault injection: %d runs, %d faults injected %v, %d journals failed (%d wedged), %d more heard of a fault at Close; answers: %d acknowledged, %d duplicate, %d refused, %d not landed, %d disk full, %d outcome unknown; on reopening: %d seqs gap-free, %d acknowledged events found at their seq (lost 0, gaps 0)",
		st.runs, st.faults, st.byPlan, st.failed, st.wedged, st.lateClose, st.acked, st.dup, st.refused, st.notLanded, st.diskFull, st.unknown, st.seqs, st.found)
	t.Log(msg)
	if os.Getenv(chaosEnv) != "" {
		fmt.Println(msg)
	}
}

// sent is one append and its answer.
type sent struct {
	evs    []event.Event // as sent (ids set by the test when fresh)
	fresh  bool          // every event has a new id, is no content repeat and cannot be refused
	resent bool          // a later append sent the same events again
	atomic bool
	res    []journal.Result
	err    error
}

func faultRun(t *testing.T, seed uint64, st *faultStats) {
	rng := rand.New(rand.NewPCG(seed, 11))
	kind := plans[rng.IntN(len(plans))]
	pl := &plan{rng: rand.New(rand.NewPCG(seed, 12)), target: kind.target, kinds: kind.kinds,
		after: rng.IntN(60), p: 0.1 + rng.Float64()*0.5, budget: 1 + rng.IntN(4)}
	if len(kind.errnos) > 0 {
		pl.errno = kind.errnos[rng.IntN(len(kind.errnos))]
	} else {
		pl.target = "/none"
	}
	mem := vfs.NewCrashableMem()
	mem.TestingSetDiskUsage(plenty)
	h := &suiteHook{}
	dedup := time.Duration(0)
	if rng.IntN(2) == 0 {
		dedup = 30 * time.Second
	}
	// Small memtables flush often, so that lookups read tables; but a log
	// fault must not meet a memtable rotation (see plans).
	memtable := uint64(64 << 10)
	if pl.target == ".log" {
		memtable = 8 << 20
	}
	opts := journal.Options{FS: errorfs.Wrap(mem, pl), Hook: h, DedupWindow: dedup,
		MemTableSize: memtable, CacheSize: 64 << 10, DiskReserve: reserve}
	j, err := journal.Open("j", opts)
	require.NoError(t, err)
	pl.armed.Store(true)

	var mu sync.Mutex
	var all []*sent
	var wg sync.WaitGroup
	if kind.name == "disk-full" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
			mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: reserve / 2, TotalBytes: 1 << 40, UsedBytes: 1 << 39})
			pl.injected.Add(1)
			time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
			mem.TestingSetDiskUsage(plenty)
		}()
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(seed, uint64(100+w)))
			for n := 0; n < 25; n++ {
				mu.Lock()
				s := nextRequest(wr, seed, w, n, all)
				mu.Unlock()
				if s == nil {
					_ = j.Reject(journal.Rejection{Code: event.CodeInvalidJSON, Raw: "{", Message: "test"})
					continue
				}
				evs := append([]event.Event(nil), s.evs...)
				s.res, s.err = j.Append(context.Background(), evs, journal.AppendOptions{Atomic: s.atomic})
				mu.Lock()
				all = append(all, s)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	pl.armed.Store(false)
	failed := j.Err() != nil
	wedged := false
	st.runs++
	st.faults += int(pl.injected.Load())
	st.byPlan[kind.name] += int(pl.injected.Load())
	if failed {
		st.failed++
	}
	for _, s := range all {
		classify(t, s, failed, st)
	}

	// The hook committed in seq order; the journal must hold a prefix of
	// it (all of it unless storage failed): nothing the hook rolled back.
	h.mu.Lock()
	committed := append([]ulid.ULID(nil), h.committed...)
	h.mu.Unlock()
	hookHolds := func(ids []ulid.ULID) {
		t.Helper()
		require.LessOrEqual(t, len(ids), len(committed), "seed %d: journaled events the hook did not keep", seed)
		require.True(t, slices.Equal(committed[:len(ids)], ids), "seed %d: the journal follows the hook's commits", seed)
		if !failed {
			require.Len(t, ids, len(committed), "seed %d: the hook kept events that were not journaled", seed)
		}
	}

	// A power cut now: only what was synced.
	clone := mem.CrashClone(vfs.CrashCloneCfg{})
	hookHolds(verifyRun(t, seed, clone, all, dedup, st))

	// A restart, when Pebble can be closed.
	cerr := j.Close()
	if cerr != nil && strings.Contains(cerr.Error(), "wedged") {
		wedged = true
		st.wedged++
		return
	}
	if !failed && cerr != nil {
		// A write nothing waited on (the indexer's, unsynced) can meet the
		// fault after the last synced one: Pebble's log writer keeps the
		// error, and Close is the first to hear of it, and says so. Every
		// acknowledged event was synced before it; the checks below hold
		// as for a journal that did not fail. Only an injected fault may
		// do that.
		require.True(t, pl.injected.Load() > 0 && pl.errno != 0 && errors.Is(cerr, pl.errno),
			"seed %d: close failed with no fault to explain it (%v): %v", seed, pl, cerr)
		st.lateClose++
	}
	_ = wedged
	ids := verifyRun(t, seed, mem, all, dedup, st)
	hookHolds(ids)
	j2, err := journal.Open("j", journal.Options{FS: mem, DedupWindow: dedup})
	require.NoError(t, err)
	r, err := j2.AppendOne(context.Background(), &event.Event{Type: "sync_completed", Source: "after"})
	require.NoError(t, err, "seed %d: appends after restart", seed)
	require.Equal(t, uint64(len(ids))+1, r.Seq, "seed %d: the next seq follows", seed)
	require.NoError(t, j2.Close())
}

var plenty = vfs.DiskUsage{AvailBytes: 1 << 40, TotalBytes: 1 << 41, UsedBytes: 1 << 40}

const reserve = 1 << 20

// nextRequest makes a worker's n-th request; nil means a Reject call.
func nextRequest(rng *rand.Rand, seed uint64, w, n int, done []*sent) *sent {
	fresh := func(i int) event.Event {
		return event.Event{ID: ulid.MustNew(uint64(1000+n), seqEntropy(seed<<32|uint64(w)<<20|uint64(n)<<8|uint64(i))),
			Type: "new_games", ConfigKey: "hex8_2p", Source: fmt.Sprintf("w%d", w), Time: t0.Add(time.Duration(n) * time.Minute),
			Payload: json.RawMessage(fmt.Sprintf(`{"games":%d,"w":%d,"n":%d,"i":%d,"pad":"%0300d"}`, n+1, w, n, i, seed))}
	}
	switch k := rng.IntN(10); {
	case k < 5: // fresh events, atomic or not
		s := &sent{fresh: true, atomic: rng.IntN(2) == 0}
		for i := 0; i < 1+rng.IntN(4); i++ {
			s.evs = append(s.evs, fresh(i))
		}
		if rng.IntN(3) == 0 {
			e := fresh(9)
			e.Type, e.Payload = "training_completed", json.RawMessage(fmt.Sprintf(`{"model_path":"m-%d-%d"}`, w, n))
			s.evs = append(s.evs, e) // the hook adds a decision
		}
		return s
	case k < 7 && len(done) > 0: // resend an earlier append (its ids are looked up)
		prev := done[rng.IntN(len(done))]
		prev.resent = true
		return &sent{evs: prev.evs, atomic: prev.atomic}
	case k < 8: // content repeats (with a dedup window) and a hook refusal
		e := fresh(0)
		e.ID = ulid.ULID{}
		e.Payload = json.RawMessage(`{"games":1}`)
		bad := fresh(1)
		bad.Type, bad.Payload = "training_failed", json.RawMessage(`{"error":"x"}`)
		return &sent{evs: []event.Event{e, e, bad}, atomic: rng.IntN(4) == 0}
	case k < 9:
		return nil
	default:
		return &sent{fresh: true, evs: []event.Event{fresh(0)}}
	}
}

// classify checks that an error is one of the honest answers and counts it.
func classify(t *testing.T, s *sent, failed bool, st *faultStats) {
	t.Helper()
	switch {
	case s.err == nil:
		for _, r := range s.res {
			switch r.Status {
			case journal.Appended:
				st.acked++
			case journal.Duplicate:
				st.dup++
			case journal.Refused:
				st.refused++
			}
		}
	case errors.Is(s.err, event.ErrRefused):
		st.refused++
	case errors.Is(s.err, journal.ErrOutcomeUnknown):
		require.NotErrorIs(t, s.err, journal.ErrNotLanded)
		require.True(t, failed, "outcome unknown only when storage failed: %v", s.err)
		st.unknown++
	case errors.Is(s.err, journal.ErrDiskFull):
		st.diskFull++
	case errors.Is(s.err, journal.ErrNotLanded):
		st.notLanded++
	default:
		t.Fatalf("an answer that says neither landed, not landed nor unknown: %v", s.err)
	}
}

// verifyRun opens the journal on fs and checks the answers against it. It
// returns the ids journaled, in seq order.
func verifyRun(t *testing.T, seed uint64, fs vfs.FS, all []*sent, dedup time.Duration, st *faultStats) []ulid.ULID {
	t.Helper()
	j, err := journal.Open("j", journal.Options{FS: fs, DedupWindow: dedup})
	require.NoError(t, err, "seed %d: the journal reopens", seed)
	defer j.Close()
	evs, err := j.Read(1, journal.Filter{}, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(len(evs)), j.Durable())
	byID := map[ulid.ULID]*event.Event{}
	ids := make([]ulid.ULID, len(evs))
	for i := range evs {
		e := &evs[i]
		ids[i] = e.ID
		require.Equal(t, uint64(i+1), e.Seq, "seed %d: gap-free seqs", seed)
		st.seqs++
		require.NotContains(t, byID, e.ID, "seed %d: id %s journaled twice", seed, e.ID)
		byID[e.ID] = e
	}
	for _, s := range all {
		present := 0
		for _, e := range s.evs {
			if _, ok := byID[e.ID]; ok && e.ID != (ulid.ULID{}) {
				present++
			}
		}
		switch {
		case s.err == nil:
			for i, r := range s.res {
				if r.Status != journal.Appended && r.Status != journal.Duplicate {
					continue
				}
				require.Less(t, r.Seq-1, uint64(len(evs)), "seed %d: acknowledged seq %d lost", seed, r.Seq)
				got := evs[r.Seq-1]
				if r.Status == journal.Appended {
					require.Equal(t, r.ID, got.ID, "seed %d: acknowledged seq %d holds another event", seed, r.Seq)
					require.Equal(t, s.evs[i].Type, got.Type)
					st.found++
					for d := 1; d <= r.Decisions; d++ {
						require.Equal(t, r.ID.String(), evs[r.Seq-1+uint64(d)].CausationID, "seed %d: decision after seq %d", seed, r.Seq)
					}
				} else if s.evs[i].ID != (ulid.ULID{}) {
					require.Equal(t, s.evs[i].ID, got.ID, "seed %d: duplicate names seq %d", seed, r.Seq)
				}
			}
		case !s.fresh || s.resent:
			// resends and repeats: their ids may be there from another
			// append; the no-twice check above is what holds.
		case errors.Is(s.err, journal.ErrOutcomeUnknown):
			require.Contains(t, []int{0, len(s.evs)}, present, "seed %d: an append of unknown outcome is wholly there or absent", seed)
		default: // refused (atomic) or not landed
			require.Zero(t, present, "seed %d: answered %v, yet %d of its events are journaled", seed, s.err, present)
		}
	}
	return ids
}

// suiteHook refuses training_failed and answers training_completed with one
// decision; it records the ids it committed.
type suiteHook struct {
	mu        sync.Mutex
	pending   []ulid.ULID
	committed []ulid.ULID
}

func (h *suiteHook) Begin(bool) { h.mu.Lock(); h.pending = h.pending[:0]; h.mu.Unlock() }
func (h *suiteHook) Admit(e *event.Event) ([]event.Event, *event.Error) {
	if e.Type == "training_failed" {
		return nil, event.Errorf(event.CodeFlowViolation, "type", "", "refused by the test hook")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, e.ID)
	if e.Type != "training_completed" {
		return nil, nil
	}
	d := event.Event{Type: "evaluation_started", ConfigKey: e.ConfigKey, Source: "ringriftd/test", Time: e.Time,
		CausationID: e.ID.String(), Payload: json.RawMessage(`{"model_path":"m"}`), NoDedup: true}
	d.ID = e.ID
	d.ID[6] ^= 0xff // derived from the cause, as the engine's are
	h.pending = append(h.pending, d.ID)
	return []event.Event{d}, nil
}
func (h *suiteHook) Commit() {
	h.mu.Lock()
	h.committed = append(h.committed, h.pending...)
	h.pending = h.pending[:0]
	h.mu.Unlock()
}
func (h *suiteHook) Rollback() { h.mu.Lock(); h.pending = h.pending[:0]; h.mu.Unlock() }

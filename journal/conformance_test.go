package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// backend opens journals of one kind; the conformance suite runs on each.
type backend struct {
	name string
	open func(t *testing.T, opts journal.Options) (*journal.Journal, func() *journal.Journal)
}

// backends returns Pebble on disk and Pebble on vfs.NewMem(). The second
// return of open reopens the same journal after closing it.
func backends() []backend {
	return []backend{
		{"disk", func(t *testing.T, opts journal.Options) (*journal.Journal, func() *journal.Journal) {
			dir := t.TempDir()
			return openAt(t, dir, opts)
		}},
		{"mem", func(t *testing.T, opts journal.Options) (*journal.Journal, func() *journal.Journal) {
			opts.FS = vfs.NewMem()
			return openAt(t, "j", opts)
		}},
	}
}

func openAt(t *testing.T, dir string, opts journal.Options) (*journal.Journal, func() *journal.Journal) {
	t.Helper()
	j, err := journal.Open(dir, opts)
	require.NoError(t, err)
	cur := j
	t.Cleanup(func() { _ = cur.Close() })
	return j, func() *journal.Journal {
		require.NoError(t, cur.Close())
		nj, err := journal.Open(dir, opts)
		require.NoError(t, err)
		cur = nj
		return nj
	}
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func ev(typ, config string, payload string) event.Event {
	e := event.Event{Type: typ, ConfigKey: config, Source: "test"}
	if payload != "" {
		e.Payload = json.RawMessage(payload)
	}
	return e
}

func appendAll(t *testing.T, j *journal.Journal, evs ...event.Event) []journal.Result {
	t.Helper()
	res, err := j.Append(context.Background(), evs, journal.AppendOptions{})
	require.NoError(t, err)
	return res
}

func TestConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Run("seqs are gap-free and ids assigned", func(t *testing.T) { testSeqs(t, b) })
			t.Run("concurrent appends", func(t *testing.T) { testConcurrent(t, b) })
			t.Run("idempotent ids", func(t *testing.T) { testIdempotent(t, b) })
			t.Run("content dedup", func(t *testing.T) { testDedup(t, b) })
			t.Run("filtered reads", func(t *testing.T) { testFilters(t, b) })
			t.Run("validation refusals are logged", func(t *testing.T) { testValidation(t, b) })
			t.Run("rejected log is bounded", func(t *testing.T) { testRejectedBound(t, b) })
			t.Run("hook refuses and decides", func(t *testing.T) { testHook(t, b) })
			t.Run("reopen keeps everything", func(t *testing.T) { testReopen(t, b) })
			t.Run("checkpoints", func(t *testing.T) { testCheckpoints(t, b) })
			t.Run("late subscriber gets all", func(t *testing.T) { testLateSubscriber(t, b) })
			t.Run("failing handler", func(t *testing.T) { testFailingHandler(t, b) })
		})
	}
}

func testSeqs(t *testing.T, b backend) {
	j, _ := b.open(t, journal.Options{})
	res := appendAll(t, j,
		ev("new_games", "hex8_2p", `{"games":10}`),
		ev("sync_completed", "", ""),
		ev("new_games", "square8_3p", `{"games":4}`))
	for i, r := range res {
		require.Equal(t, journal.Appended, r.Status, "event %d", i)
		require.Equal(t, uint64(i+1), r.Seq)
		require.NotEqual(t, ulid.ULID{}, r.ID)
	}
	require.Equal(t, uint64(3), j.Durable())
	got, err := j.Get(2)
	require.NoError(t, err)
	require.Equal(t, "sync_completed", got.Type)
	require.Equal(t, res[1].ID, got.ID)
	require.False(t, got.RecordedAt.IsZero())
	require.Equal(t, got.RecordedAt, got.Time, "time defaults to recorded_at")
	byID, err := j.GetByID(res[2].ID)
	require.NoError(t, err)
	require.Equal(t, uint64(3), byID.Seq)
	require.JSONEq(t, `{"games":4}`, string(byID.Payload))
	_, err = j.Get(4)
	require.ErrorIs(t, err, journal.ErrNotFound)
}

func testConcurrent(t *testing.T, b backend) {
	j, _ := b.open(t, journal.Options{})
	const writers, each = 16, 40
	var mu sync.Mutex
	seen := map[uint64]ulid.ULID{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e := ev("new_games", "hex8_2p", fmt.Sprintf(`{"games":%d,"writer":%d}`, i, w))
				res, err := j.Append(context.Background(), []event.Event{e}, journal.AppendOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				_, dup := seen[res[0].Seq]
				seen[res[0].Seq] = res[0].ID
				mu.Unlock()
				if dup {
					t.Errorf("seq %d given twice", res[0].Seq)
				}
				// an acknowledged event is readable at once
				if got, err := j.Get(res[0].Seq); err != nil || got.ID != res[0].ID {
					t.Errorf("seq %d not readable after ack: %v", res[0].Seq, err)
				}
			}
		}(w)
	}
	wg.Wait()
	require.Len(t, seen, writers*each)
	for s := uint64(1); s <= writers*each; s++ {
		require.Contains(t, seen, s, "gap at seq %d", s)
	}
	all, err := j.Read(1, journal.Filter{}, 0)
	require.NoError(t, err)
	require.Len(t, all, writers*each)
	for i, e := range all {
		require.Equal(t, uint64(i+1), e.Seq)
		require.Equal(t, seen[e.Seq], e.ID)
	}
}

func testIdempotent(t *testing.T, b backend) {
	j, _ := b.open(t, journal.Options{})
	id := ulid.MustParse("01JD3ZK6Q8V7W2M4X9N5T1R0AB")
	e := ev("new_games", "hex8_2p", `{"games":10}`)
	e.ID = id
	first := appendAll(t, j, e)[0]
	require.Equal(t, journal.Appended, first.Status)

	again := appendAll(t, j, e)[0]
	require.Equal(t, journal.Duplicate, again.Status)
	require.Equal(t, first.Seq, again.Seq)

	// the same id inside one append: the second is the duplicate
	e2 := ev("new_games", "hex8_3p", `{"games":1}`)
	e2.ID = ulid.MustParse("01JD3ZK6Q8V7W2M4X9N5T1R0AC")
	res := appendAll(t, j, e2, e2)
	require.Equal(t, journal.Appended, res[0].Status)
	require.Equal(t, journal.Duplicate, res[1].Status)
	require.Equal(t, res[0].Seq, res[1].Seq)

	changed := e
	changed.Payload = json.RawMessage(`{"games":11}`)
	conflict := appendAll(t, j, changed)[0]
	require.Equal(t, journal.Refused, conflict.Status)
	require.Equal(t, event.CodeIDConflict, conflict.Refusal.Code)
	require.Equal(t, "id", conflict.Refusal.Field)

	require.Equal(t, uint64(2), j.Durable(), "nothing appended for duplicates and conflicts")
	rej, err := j.Rejected(0, 0)
	require.NoError(t, err)
	var codes []string
	for _, r := range rej.Entries {
		codes = append(codes, string(r.Code))
	}
	require.Equal(t, []string{"duplicate", "duplicate", "id_conflict"}, codes)
	require.Equal(t, first.Seq, rej.Entries[0].DuplicateOf)
}

func testDedup(t *testing.T, b backend) {
	t.Run("off by default", func(t *testing.T) {
		j, _ := b.open(t, journal.Options{})
		e := ev("health_check_failed", "", "")
		e.NodeID = "gpu-1"
		res := appendAll(t, j, e, e)
		require.Equal(t, journal.Appended, res[1].Status, "a legitimate repeat is kept")
	})
	t.Run("window", func(t *testing.T) {
		j, _ := b.open(t, journal.Options{DedupWindow: 30 * time.Second})
		mk := func(at time.Time, noDedup bool) event.Event {
			e := ev("new_games", "hex8_2p", `{"games":5}`)
			e.Time, e.NoDedup = at, noDedup
			return e
		}
		res := appendAll(t, j, mk(t0, false), mk(t0.Add(10*time.Second), false))
		require.Equal(t, journal.Appended, res[0].Status)
		require.Equal(t, journal.Duplicate, res[1].Status, "inside one batch")
		require.Equal(t, res[0].Seq, res[1].Seq)

		r := appendAll(t, j, mk(t0.Add(-29*time.Second), false))[0]
		require.Equal(t, journal.Duplicate, r.Status, "|Δt| < window, earlier time too")
		r = appendAll(t, j, mk(t0.Add(30*time.Second), false))[0]
		require.Equal(t, journal.Appended, r.Status, "Δt = window is outside")
		r = appendAll(t, j, mk(t0.Add(31*time.Second), true))[0]
		require.Equal(t, journal.Appended, r.Status, "dedup:false exempts")

		other := mk(t0, false)
		other.ConfigKey = "hex8_3p"
		r = appendAll(t, j, other)[0]
		require.Equal(t, journal.Appended, r.Status, "config_key is part of the key")

		rej, err := j.Rejected(0, 0)
		require.NoError(t, err)
		require.Len(t, rej.Entries, 2)
		for _, e := range rej.Entries {
			require.Equal(t, uint64(1), e.DuplicateOf)
		}
	})
}

func testFilters(t *testing.T, b backend) {
	j, _ := b.open(t, journal.Options{})
	configs := []string{"hex8_2p", "square8_3p", "hexagonal_4p"}
	var evs []event.Event
	for i := 0; i < 300; i++ {
		var e event.Event
		switch i % 4 {
		case 0:
			e = ev("new_games", configs[i%3], fmt.Sprintf(`{"games":%d}`, i))
		case 1:
			e = ev("training_progress", configs[i%3], `{"epoch":1}`)
		case 2:
			e = ev("health_check_failed", "", "")
			e.NodeID = fmt.Sprintf("gpu-%d", i%5)
		case 3:
			e = ev("sync_started", "", "")
		}
		e.Time = t0.Add(time.Duration(i) * time.Second)
		evs = append(evs, e)
	}
	appendAll(t, j, evs...)
	all, err := j.Read(0, journal.Filter{}, 0)
	require.NoError(t, err)
	require.Len(t, all, 300)

	filters := []journal.Filter{
		{ConfigKey: "square8_3p"},
		{ConfigKey: "square8_3p", Types: []string{"new_games"}},
		{Types: []string{"training_progress"}},
		{Types: []string{"training_progress", "sync_started"}},
		{Category: "sync"},
		{Category: "data"},
		{NodeID: "gpu-3"},
		{Since: t0.Add(100 * time.Second), Until: t0.Add(110 * time.Second)},
		{Category: "no-such-category"},
	}
	for _, f := range filters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			want := bruteForce(all, f, 20)
			got, err := j.Read(20, f, 0)
			require.NoError(t, err)
			require.Equal(t, seqs(want), seqs(got))
			if len(want) > 3 {
				limited, err := j.Read(20, f, 3)
				require.NoError(t, err)
				require.Equal(t, seqs(want[:3]), seqs(limited))
			}
		})
	}
}

func bruteForce(all []event.Event, f journal.Filter, from uint64) []event.Event {
	types := map[string]bool{}
	for _, t := range f.Types {
		types[t] = true
	}
	if f.Category != "" {
		for _, t := range event.Default().Category(f.Category) {
			types[t] = true
		}
	}
	filterTypes := len(f.Types) > 0 || f.Category != ""
	var out []event.Event
	for _, e := range all {
		switch {
		case e.Seq < from,
			filterTypes && !types[e.Type],
			f.ConfigKey != "" && e.ConfigKey != f.ConfigKey,
			f.NodeID != "" && e.NodeID != f.NodeID,
			!f.Since.IsZero() && e.Time.Before(f.Since),
			!f.Until.IsZero() && !e.Time.Before(f.Until):
			continue
		}
		out = append(out, e)
	}
	return out
}

func seqs(evs []event.Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func testValidation(t *testing.T, b backend) {
	j, _ := b.open(t, journal.Options{})
	bad := ev("Training_Completed", "hex8_2p", "")
	res, err := j.Append(context.Background(), []event.Event{ev("new_games", "hex8_2p", ""), bad},
		journal.AppendOptions{Remote: "10.0.0.7:5555"})
	require.NoError(t, err)
	require.Equal(t, journal.Appended, res[0].Status)
	require.Equal(t, journal.Refused, res[1].Status)
	require.Equal(t, event.CodeUnknownEventType, res[1].Refusal.Code)
	require.Equal(t, 1, res[1].Refusal.Index)

	_, err = j.Append(context.Background(), []event.Event{ev("new_games", "hex8_2p", ""), bad},
		journal.AppendOptions{Atomic: true})
	var ref *event.Error
	require.ErrorAs(t, err, &ref)
	require.Equal(t, 1, ref.Index)
	require.Equal(t, uint64(1), j.Durable(), "an atomic append with a refusal lands nothing")

	rej, err := j.Rejected(0, 0)
	require.NoError(t, err)
	require.Len(t, rej.Entries, 2)
	require.Equal(t, "10.0.0.7:5555", rej.Entries[0].Remote)
	require.Contains(t, rej.Entries[0].Raw, "Training_Completed")
	require.Equal(t, 2, rej.Entries[1].Batch, "the atomic refusal names its batch")

	require.NoError(t, j.Reject(journal.Rejection{Code: event.CodeInvalidJSON, Index: -1, Message: "bad", Raw: string(make([]byte, 10000))}))
	rej, err = j.Rejected(0, 0)
	require.NoError(t, err)
	last := rej.Entries[len(rej.Entries)-1]
	require.Equal(t, event.CodeInvalidJSON, last.Code)
	require.True(t, last.Truncated)
	require.Len(t, last.Raw, journal.RawLimit)
}

func testRejectedBound(t *testing.T, b backend) {
	j, reopen := b.open(t, journal.Options{RejectedMax: 3})
	for i := 0; i < 5; i++ {
		require.NoError(t, j.Reject(journal.Rejection{Code: event.CodeInvalidJSON, Message: fmt.Sprint(i)}))
	}
	rej, err := j.Rejected(0, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(2), rej.Dropped)
	require.Len(t, rej.Entries, 3)
	require.Equal(t, "2", rej.Entries[0].Message, "the oldest are dropped first")
	j = reopen()
	require.NoError(t, j.Reject(journal.Rejection{Code: event.CodeInvalidJSON, Message: "5"}))
	rej, err = j.Rejected(0, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(3), rej.Dropped)
	require.Equal(t, []uint64{4, 5, 6}, []uint64{rej.Entries[0].Seq, rej.Entries[1].Seq, rej.Entries[2].Seq})
}

// testHook is a Hook that refuses "training_failed" and answers every
// "training_completed" with one decision.
type testHookImpl struct {
	committed []uint64
	pending   []uint64
}

func (h *testHookImpl) Begin(bool) { h.pending = nil }
func (tx *testHookImpl) Admit(e *event.Event) ([]event.Event, *event.Error) {
	if e.Type == "training_failed" {
		return nil, event.Errorf(event.CodeFlowViolation, "type", "", "state collecting does not accept training_failed")
	}
	tx.pending = append(tx.pending, e.Seq)
	if e.Type == "training_completed" {
		d := event.Event{Type: "evaluation_started", ConfigKey: e.ConfigKey, Source: "ringriftd/test",
			Time: e.Time, CausationID: e.ID.String(), Payload: json.RawMessage(`{"model_path":"m"}`)}
		d.ID = ulid.MustNew(ulid.Timestamp(e.Time), ulidEntropy(e.Seq))
		return []event.Event{d}, nil
	}
	return nil, nil
}
func (tx *testHookImpl) Commit()   { tx.committed = append(tx.committed, tx.pending...) }
func (tx *testHookImpl) Rollback() { tx.pending = nil }

type seqEntropy uint64

func (s seqEntropy) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(uint64(s) >> (8 * (i % 8)))
	}
	return len(p), nil
}

func ulidEntropy(seq uint64) seqEntropy { return seqEntropy(seq*7919 + 1) }

func testHook(t *testing.T, b backend) {
	h := &testHookImpl{}
	j, _ := b.open(t, journal.Options{Hook: h})
	res := appendAll(t, j,
		ev("training_started", "hex8_2p", ""),
		ev("training_completed", "hex8_2p", `{"model_path":"m"}`),
		ev("training_failed", "hex8_2p", `{"error":"x"}`),
		ev("training_progress", "hex8_2p", ""))
	require.Equal(t, journal.Appended, res[1].Status)
	require.Equal(t, 1, res[1].Decisions)
	require.Equal(t, journal.Refused, res[2].Status)
	require.Equal(t, event.CodeFlowViolation, res[2].Refusal.Code)
	require.Equal(t, uint64(4), res[3].Seq, "the decision took seq 3, right after its cause")
	d, err := j.Get(3)
	require.NoError(t, err)
	require.Equal(t, "evaluation_started", d.Type)
	require.Equal(t, res[1].ID.String(), d.CausationID)

	_, err = j.Append(context.Background(), []event.Event{
		ev("training_started", "hex8_3p", ""), ev("training_failed", "hex8_3p", `{"error":"x"}`),
	}, journal.AppendOptions{Atomic: true})
	require.ErrorIs(t, err, event.ErrRefused)
	require.Equal(t, []uint64{1, 2, 4}, h.committed, "the refused atomic append was rolled back")
	r := appendAll(t, j, ev("training_progress", "hex8_3p", ""))[0]
	require.Equal(t, uint64(5), r.Seq, "the rolled-back append used no seq")
}

func testReopen(t *testing.T, b backend) {
	j, reopen := b.open(t, journal.Options{})
	res := appendAll(t, j, ev("new_games", "hex8_2p", `{"games":1}`), ev("new_games", "hex8_2p", `{"games":2}`))
	j = reopen()
	require.Equal(t, uint64(2), j.Durable())
	again := appendAll(t, j, event.Event{ID: res[0].ID, Type: "new_games", ConfigKey: "hex8_2p", Payload: json.RawMessage(`{"games":1}`)})[0]
	require.Equal(t, journal.Duplicate, again.Status, "idempotency survives a restart")
	next := appendAll(t, j, ev("sync_completed", "", ""))[0]
	require.Equal(t, uint64(3), next.Seq)
}

func testCheckpoints(t *testing.T, b backend) {
	j, reopen := b.open(t, journal.Options{})
	_, err := j.LoadCheckpoint("projections")
	require.ErrorIs(t, err, journal.ErrNotFound)
	appendAll(t, j, ev("sync_completed", "", ""))
	require.Error(t, j.SaveCheckpoint("projections", journal.Checkpoint{Version: 1, Seq: 2, Data: []byte("x")}),
		"a checkpoint cannot run ahead of the journal")
	require.NoError(t, j.SaveCheckpoint("projections", journal.Checkpoint{Version: 3, Seq: 1, Data: []byte("state")}))
	j = reopen()
	c, err := j.LoadCheckpoint("projections")
	require.NoError(t, err)
	require.Equal(t, journal.Checkpoint{Version: 3, Seq: 1, Data: []byte("state")}, c)
	require.NoError(t, j.DeleteCheckpoint("projections"))
	_, err = j.LoadCheckpoint("projections")
	require.ErrorIs(t, err, journal.ErrNotFound)
}

func testLateSubscriber(t *testing.T, b backend) {
	j, reopen := b.open(t, journal.Options{})
	var evs []event.Event
	for i := 0; i < 1000; i++ {
		evs = append(evs, ev("new_games", "hex8_2p", fmt.Sprintf(`{"games":%d}`, i)))
	}
	appendAll(t, j, evs...)

	got := make(chan uint64, 2000)
	sub, err := j.Subscribe("late", journal.HandlerFunc(func(_ context.Context, e *event.Event) error {
		got <- e.Seq
		return nil
	}), journal.SubscribeOptions{})
	require.NoError(t, err)
	_, err = j.Subscribe("late", journal.HandlerFunc(func(context.Context, *event.Event) error { return nil }), journal.SubscribeOptions{})
	require.ErrorIs(t, err, journal.ErrSubscribed)

	for want := uint64(1); want <= 1000; want++ {
		require.Equal(t, want, recvSeq(t, got))
	}
	// then the live tail
	appendAll(t, j, ev("sync_completed", "", ""))
	require.Equal(t, uint64(1001), recvSeq(t, got))
	require.Eventually(t, func() bool { return sub.Stats().Cursor == 1001 }, 30*time.Second, time.Millisecond)
	require.Equal(t, uint64(0), sub.Stats().Lag)
	sub.Close()

	// the cursor is durable: a restarted subscriber resumes after it
	j = reopen()
	appendAll(t, j, ev("sync_started", "", ""))
	got2 := make(chan uint64, 10)
	sub2, err := j.Subscribe("late", journal.HandlerFunc(func(_ context.Context, e *event.Event) error {
		got2 <- e.Seq
		return nil
	}), journal.SubscribeOptions{})
	require.NoError(t, err)
	defer sub2.Close()
	require.Equal(t, uint64(1002), recvSeq(t, got2))
}

func recvSeq(t *testing.T, ch <-chan uint64) uint64 {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for delivery")
		return 0
	}
}

func testFailingHandler(t *testing.T, b backend) {
	j, _ := b.open(t, journal.Options{})
	var mu sync.Mutex
	var good []uint64
	attempts := map[uint64]int{}
	opts := journal.SubscribeOptions{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	_, err := j.Subscribe("flaky", journal.HandlerFunc(func(_ context.Context, e *event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[e.Seq]++
		if e.Seq == 2 {
			return errors.New("disk full")
		}
		return nil
	}), opts)
	require.NoError(t, err)
	_, err = j.Subscribe("panicky", journal.HandlerFunc(func(_ context.Context, e *event.Event) error {
		if e.Seq == 1 {
			panic("boom")
		}
		return nil
	}), opts)
	require.NoError(t, err)
	_, err = j.Subscribe("good", journal.HandlerFunc(func(_ context.Context, e *event.Event) error {
		mu.Lock()
		good = append(good, e.Seq)
		mu.Unlock()
		return nil
	}), opts)
	require.NoError(t, err)

	appendAll(t, j, ev("new_games", "hex8_2p", ""), ev("new_games", "hex8_2p", ""), ev("new_games", "hex8_2p", ""))
	var dead []event.Event
	require.Eventually(t, func() bool {
		var err error
		dead, err = j.Read(0, journal.Filter{Types: []string{"handler_failed"}}, 0)
		return err == nil && len(dead) == 2
	}, 10*time.Second, 5*time.Millisecond)
	byHandler := map[string]map[string]any{}
	for _, d := range dead {
		var p map[string]any
		require.NoError(t, json.Unmarshal(d.Payload, &p))
		byHandler[p["handler"].(string)] = p
	}
	require.Equal(t, float64(2), byHandler["flaky"]["event_seq"])
	require.Equal(t, "disk full", byHandler["flaky"]["error"])
	require.Equal(t, float64(3), byHandler["flaky"]["attempts"])
	require.Equal(t, float64(1), byHandler["panicky"]["event_seq"])
	require.Contains(t, byHandler["panicky"]["error"], "boom")

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(good) == 5
	}, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	sorted := append([]uint64(nil), good...)
	mu.Unlock()
	require.True(t, sort.SliceIsSorted(sorted, func(a, b int) bool { return sorted[a] < sorted[b] }))
	require.Equal(t, []uint64{1, 2, 3, 4, 5}, sorted, "the good handler saw everything, dead letters included")
	mu.Lock()
	require.Equal(t, 3, attempts[2], "retried Attempts times")
	mu.Unlock()
	stats := j.Subscriptions()
	require.Len(t, stats, 3)
	require.Equal(t, "flaky", stats[0].Name)
	require.Equal(t, uint64(1), stats[0].Failed)
	require.Equal(t, uint64(2), stats[0].Retries)
}

package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/replay"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// testJournal is a journal on disk with the engine as its hook (strict,
// policies as given), closed by the test's cleanup unless closed before.
type testJournal struct {
	t   *testing.T
	dir string
	j   *journal.Journal
	eng *engine.Engine
}

func newJournal(t *testing.T, policies flows.PolicySet) *testJournal {
	t.Helper()
	cfg := flows.DefaultPolicyConfig()
	cfg.Enabled = policies
	tj := &testJournal{t: t, dir: t.TempDir(), eng: engine.New(engine.Options{Policies: cfg})}
	var err error
	tj.j, err = journal.Open(tj.dir, journal.Options{Hook: tj.eng, Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	t.Cleanup(func() { tj.close() })
	return tj
}

func (tj *testJournal) close() {
	if tj.j != nil {
		require.NoError(tj.t, tj.j.Close())
		tj.j = nil
	}
}

// add appends events built from (type, key, minutes after t0, payload);
// a key naming a node starts with "gpu-".
func (tj *testJournal) add(typ, key string, min float64, payload string) event.Event {
	tj.t.Helper()
	e := ev(typ, key, min, payload)
	res, err := tj.j.Append(context.Background(), []event.Event{e}, journal.AppendOptions{})
	require.NoError(tj.t, err)
	e.Seq = res[0].Seq
	e.ID = res[0].ID
	return e
}

func (tj *testJournal) appendRaw(es ...event.Event) []journal.Result {
	tj.t.Helper()
	res, err := tj.j.Append(context.Background(), es, journal.AppendOptions{Validated: true})
	require.NoError(tj.t, err)
	return res
}

func ev(typ, key string, min float64, payload string) event.Event {
	e := event.Event{Type: typ, Source: "test", Time: t0.Add(time.Duration(min * float64(time.Minute))), Payload: json.RawMessage(payload)}
	if strings.HasPrefix(key, "gpu-") {
		e.NodeID = key
	} else {
		e.ConfigKey = key
	}
	return e
}

// lost closes the journal and runs the report over its directory.
func (tj *testJournal) lost(o replay.LostOptions) *replay.LostReport {
	tj.t.Helper()
	tj.close()
	src, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(tj.t, err)
	defer src.Close()
	r, err := replay.CollectLost(context.Background(), src, o)
	require.NoError(tj.t, err)
	return r
}

func findings(r *replay.LostReport, kind string) []replay.Finding {
	var out []replay.Finding
	for _, f := range r.Findings {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

func one(t *testing.T, r *replay.LostReport, kind string) replay.Finding {
	t.Helper()
	fs := findings(r, kind)
	require.Len(t, fs, 1, "findings of kind %s in %+v", kind, r.Findings)
	assert.Equal(t, 1, r.Summary[kind])
	return fs[0]
}

func TestLostFindsEachKind(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		tj := newJournal(t, 0)
		tj.add("new_games", "hex8_2p", 0, `{"games":5}`)
		_, err := tj.j.Append(context.Background(), []event.Event{ev("training_complete", "hex8_2p", 1, `{}`)}, journal.AppendOptions{})
		require.NoError(t, err)
		_, err = tj.j.Append(context.Background(), []event.Event{ev("promotion_started", "hex8_2p", 2, `{"model_path":"m.pth"}`)}, journal.AppendOptions{})
		require.NoError(t, err)
		r := tj.lost(replay.LostOptions{})
		fs := findings(r, replay.KindRefused)
		require.Len(t, fs, 2)
		assert.Contains(t, fs[0].Message, "did you mean training_completed")
		assert.Contains(t, fs[1].Message, "flow_violation")
		assert.Equal(t, "hex8_2p", *fs[1].Key)
		assert.Equal(t, []uint64{}, fs[0].Seqs)
	})
	t.Run("refused_batches", func(t *testing.T) {
		tj := newJournal(t, 0)
		for _, n := range []int{1, 3} {
			require.NoError(t, tj.j.Reject(journal.Rejection{Code: event.CodeUnknownEventType, Message: "refused", Batch: n,
				Raw: `{"type":"training_complete"}`}))
		}
		fs := findings(tj.lost(replay.LostOptions{}), replay.KindRefused)
		require.Len(t, fs, 2)
		assert.Contains(t, fs[0].Message, "(atomic batch of 1 event: none landed)")
		assert.Contains(t, fs[1].Message, "(atomic batch of 3 events: none landed)")
	})
	t.Run("duplicate", func(t *testing.T) {
		tj := newJournal(t, 0)
		first := tj.add("new_games", "hex8_2p", 0, `{"games":5}`)
		again := ev("new_games", "hex8_2p", 0, `{"games":5}`)
		again.ID = first.ID
		res := tj.appendRaw(again)
		require.Equal(t, journal.Duplicate, res[0].Status)
		f := one(t, tj.lost(replay.LostOptions{}), replay.KindDuplicate)
		assert.Equal(t, []uint64{first.Seq}, f.Seqs)
	})
	t.Run("probable_duplicate", func(t *testing.T) {
		tj := newJournal(t, 0)
		tj.add("health_check_failed", "gpu-01", 0, `{}`)
		tj.add("health_check_failed", "gpu-01", 0.2, `{}`) // 12 s later: double emission
		marked := ev("health_check_failed", "gpu-01", 0.3, `{}`)
		marked.NoDedup = true // a real repeat, marked
		tj.appendRaw(marked)
		tj.add("health_check_failed", "gpu-02", 0.4, `{}`) // another node
		tj.add("new_games", "hex8_2p", 1, `{"games":5}`)
		tj.add("new_games", "hex8_2p", 1.1, `{"config_key":"hex8_2p","games":5}`) // same content once normalised
		tj.add("new_games", "hex8_2p", 2, `{"games":5}`)                          // 54 s later: outside the window
		r := tj.lost(replay.LostOptions{})
		fs := findings(r, replay.KindProbableDuplicate)
		require.Len(t, fs, 2, "%+v", fs)
		assert.Equal(t, []uint64{1, 2}, fs[0].Seqs)
		assert.Equal(t, []uint64{5, 6}, fs[1].Seqs)
	})
	t.Run("dead_letter", func(t *testing.T) {
		tj := newJournal(t, 0)
		cause := tj.add("new_games", "hex8_2p", 0, `{"games":5}`)
		dead := event.Event{Type: "handler_failed", Source: "ringriftd/subscriptions", Time: t0, CausationID: cause.ID.String(),
			Payload: json.RawMessage(`{"handler":"exporter","event_seq":1,"error":"boom","attempts":5}`)}
		redelivered := dead
		redelivered.Payload = json.RawMessage(`{"handler":"archiver","event_seq":1,"error":"boom","attempts":5}`)
		res := tj.appendRaw(dead, redelivered)
		// an event that merely names the exporter's dead letter as its cause
		// is no redelivery: the letter stays open
		other := ev("new_games", "hex8_2p", 1, `{"games":5}`)
		other.CausationID = res[0].ID.String()
		// the archiver's dead letter was answered by a handler_redelivered
		retry := event.Event{Type: "handler_redelivered", Source: "ringriftd/subscriptions", Time: t0.Add(time.Minute),
			CausationID: res[1].ID.String(), Payload: json.RawMessage(`{"handler":"archiver","event_seq":1,"attempts":6}`)}
		tj.appendRaw(other, retry)
		f := one(t, tj.lost(replay.LostOptions{}), replay.KindDeadLetter)
		assert.Equal(t, []uint64{2}, f.Seqs)
		assert.Contains(t, f.Message, "exporter")
		assert.Contains(t, f.Message, "POST /v1/subscriptions/exporter/redeliver?seq=2", "the way out")
	})
	t.Run("stuck", func(t *testing.T) {
		tj := newJournal(t, 0)
		tj.add("training_started", "hex8_2p", 0, `{}`)
		tj.add("training_started", "hex8_3p", 0, `{}`)
		tj.add("training_progress", "hex8_3p", 60*25, `{}`)
		r := tj.lost(replay.LostOptions{Windows: replay.Windows{Training: 48 * time.Hour}})
		fs := findings(r, replay.KindStuck)
		require.Len(t, fs, 2)
		assert.Equal(t, []uint64{1}, fs[0].Seqs)
		assert.Contains(t, fs[0].Message, "hex8_2p has been training for 25h (limit 24h); waiting for ")
		assert.Contains(t, fs[0].Message, "training_completed")
	})
	t.Run("broken_chain", func(t *testing.T) {
		tj := newJournal(t, 0)
		tj.add("host_offline", "gpu-01", 0, `{}`)
		tj.add("recovery_initiated", "gpu-01", 1, `{"action":"restart_daemon"}`)
		tj.add("host_offline", "gpu-02", 0, `{}`)
		tj.add("recovery_initiated", "gpu-02", 2, `{}`)
		tj.add("recovery_completed", "gpu-02", 5, `{}`)
		tj.add("coordinator_heartbeat", "", 3, `{}`)
		r := tj.lost(replay.LostOptions{Now: t0.Add(45 * time.Minute)})
		f := one(t, r, replay.KindBrokenChain)
		assert.Equal(t, []uint64{2}, f.Seqs)
		assert.Equal(t, "gpu-01", *f.Key)
		assert.Contains(t, f.Message, "recovery_initiated without an outcome")
	})
	t.Run("orphan_decision", func(t *testing.T) {
		tj := newJournal(t, 0)
		cause := tj.add("new_games", "hex8_2p", 0, `{"games":60}`)
		good := event.Event{Type: "training_threshold", ConfigKey: "hex8_2p", Source: "ringriftd/threshold", Time: t0,
			CausationID: cause.ID.String(), Payload: json.RawMessage(`{"games":60,"reason":"games_threshold"}`)}
		orphan := good
		orphan.ConfigKey = "hex8_3p"
		orphan.CausationID = ulid.Make().String()
		tj.appendRaw(good)
		tj.add("new_games", "hex8_3p", 1, `{"games":60}`)
		tj.appendRaw(orphan)
		f := one(t, tj.lost(replay.LostOptions{}), replay.KindOrphanDecision)
		assert.Equal(t, []uint64{4}, f.Seqs)
		assert.Contains(t, f.Message, "not journaled")
	})
	t.Run("lagging_subscription", func(t *testing.T) {
		tj := newJournal(t, 0)
		tj.add("new_games", "hex8_2p", 0, `{"games":1}`)
		reached := make(chan struct{})
		sub, err := tj.j.Subscribe("slow", journal.HandlerFunc(func(ctx context.Context, e *event.Event) error {
			if e.Seq == 2 {
				close(reached)
				<-ctx.Done() // stuck on seq 2 until the journal closes
				return ctx.Err()
			}
			return nil
		}), journal.SubscribeOptions{})
		require.NoError(t, err)
		tj.add("new_games", "hex8_2p", 10, `{"games":2}`)
		tj.add("new_games", "hex8_2p", 20, `{"games":3}`)
		<-reached
		sub.Close()
		f := one(t, tj.lost(replay.LostOptions{}), replay.KindLaggingSubscription)
		assert.Equal(t, []uint64{2}, f.Seqs)
		assert.Contains(t, f.Message, "subscription slow is stuck on seq 2 for 10m")
	})
	t.Run("unconsumed_and_unseen_types", func(t *testing.T) {
		tj := newJournal(t, 0)
		tj.add("new_games", "hex8_2p", 0, `{"games":1}`)
		tj.add("training_started", "hex8_2p", 1, `{}`)
		r := tj.lost(replay.LostOptions{Consumers: []replay.Consumer{{Name: "trainer", Types: []string{"training_started", "model_promoted"}}}})
		f := one(t, r, replay.KindUnconsumedType)
		assert.Equal(t, []uint64{1}, f.Seqs)
		assert.Contains(t, f.Message, "new_games")
		f = one(t, r, replay.KindUnseenType)
		assert.Contains(t, f.Message, "model_promoted is consumed by trainer")
	})
	t.Run("types_from_the_journal", func(t *testing.T) {
		// the subscription stored its types with its cursor: no
		// --subscriptions file is needed
		tj := newJournal(t, 0)
		tj.add("new_games", "hex8_2p", 0, `{"games":1}`)
		tj.add("training_started", "hex8_2p", 1, `{}`)
		sub, err := tj.j.Subscribe("trainer", journal.HandlerFunc(func(context.Context, *event.Event) error { return nil }),
			journal.SubscribeOptions{Filter: journal.Filter{Types: []string{"training_started", "model_promoted"}}})
		require.NoError(t, err)
		require.Eventually(t, func() bool { c, _ := tj.j.Cursor("trainer"); return c == 2 }, 30*time.Second, 5*time.Millisecond)
		sub.Close()
		r := tj.lost(replay.LostOptions{})
		f := one(t, r, replay.KindUnconsumedType)
		assert.Equal(t, []uint64{1}, f.Seqs)
		assert.Contains(t, f.Message, "new_games")
		f = one(t, r, replay.KindUnseenType)
		assert.Contains(t, f.Message, "model_promoted is consumed by trainer")
	})
}

// TestLostOldCursorsLeaveTypesUnchecked: a journal whose cursors predate the
// stored types (fixtures/compat/v1) reports no unconsumed or unseen types:
// nothing is known of what its subscription wants.
func TestLostOldCursorsLeaveTypesUnchecked(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../fixtures/compat/v1")))
	src, err := replay.OpenJournal(context.Background(), dir)
	require.NoError(t, err)
	defer src.Close()
	_, ok, err := src.Consumers()
	require.NoError(t, err)
	assert.False(t, ok)
	r, err := replay.CollectLost(context.Background(), src, replay.LostOptions{})
	require.NoError(t, err)
	assert.NotContains(t, r.Summary, replay.KindUnconsumedType)
	assert.NotContains(t, r.Summary, replay.KindUnseenType)
	assert.Contains(t, r.Summary, replay.KindLaggingSubscription, "the cursor itself is still read")
}

// TestLostCleanGeneratedJournal runs the report over a generated journal
// (policies on, no bad events) that must give no finding. The generator
// walks its script whatever the machines answer, which makes real findings
// that a well-behaved cluster does not have, so the clean journal leaves
// out what would be legitimately reported:
//   - events the machines would refuse (its script running past a refusal):
//     they would be refused findings, and the script then stays out of step
//     (a config waiting forever is a stuck flow);
//   - the events that set pauses (quality, regression, backpressure): the
//     generator never answers a pause, so its paused configs would wait in
//     training_ready or candidate past their limits;
//   - and its traffic repeats content legitimately several times a minute
//     (sync_completed {} and identical heartbeats), so every event is
//     marked "dedup": false, as a producer of real repeats does. The
//     probable-duplicate check has its own test above.
func TestLostCleanGeneratedJournal(t *testing.T) {
	tj := newJournal(t, flows.AllPolicies)
	g := gen.New(gen.Options{Seed: 3, Start: t0, BadShare: 1e-9})
	n := 0
	for tj.j.Durable() < 6000 {
		e := g.Next()
		switch e.Type {
		case "training_blocked_by_quality", "regression_moderate", "regression_severe", "regression_critical", "backpressure_activated":
			continue
		}
		if event.Validate(&e) != nil || tj.eng.Check(&e) != nil {
			continue // the sequencer is idle between appends: reading its engine is safe
		}
		e.NoDedup = true
		res, err := tj.j.Append(context.Background(), []event.Event{e}, journal.AppendOptions{})
		require.NoError(t, err)
		require.Equal(t, journal.Appended, res[0].Status)
		n++
	}
	r := tj.lost(replay.LostOptions{})
	assert.Empty(t, r.Findings, "a clean journal gives no finding")
	assert.Equal(t, 0, r.Total())
	assert.Greater(t, r.Events, uint64(n), "decisions were journaled too")
	for _, k := range []string{replay.KindRefused, replay.KindDuplicate, replay.KindProbableDuplicate, replay.KindStuck, replay.KindBrokenChain, replay.KindOrphanDecision, replay.KindDeadLetter} {
		_, checked := r.Summary[k]
		assert.True(t, checked, "kind %s was checked", k)
	}
}

func TestLostFileSource(t *testing.T) {
	lines := []string{
		`{"event_type":"TRAINING_STARTED","config_key":"hex8_2p","timestamp":1795341600,"source":"python"}`,
		`{"event_type":"training_complete","config_key":"hex8_2p","timestamp":1795341700}`,
		`not json`,
		`{"type":"new_games","config_key":"hex8_2p","time":"2026-11-22T10:00:00Z","payload":{"games":1}}`,
	}
	src := replay.NewReader("test", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	r, err := replay.CollectLost(context.Background(), src, replay.LostOptions{})
	require.NoError(t, err)
	fs := findings(r, replay.KindRefused)
	require.Len(t, fs, 2)
	assert.Contains(t, fs[0].Message, "line 2")
	assert.Contains(t, fs[0].Message, "did you mean training_completed")
	assert.Contains(t, fs[1].Message, "invalid_json")
	assert.Equal(t, 2, r.Summary[replay.KindRefused], "the lines that did not decode")
	_, subs := r.Summary[replay.KindLaggingSubscription]
	assert.False(t, subs, "a file has no subscription state")
	_, dups := r.Summary[replay.KindDuplicate]
	assert.False(t, dups, "a file has no rejected log: duplicates dropped by a daemon cannot be seen")
	assert.Equal(t, uint64(2), r.Events)

	clean := replay.NewReader("test", strings.NewReader(lines[0]+"\n"+lines[3]+"\n"))
	r, err = replay.CollectLost(context.Background(), clean, replay.LostOptions{})
	require.NoError(t, err)
	for _, k := range []string{replay.KindRefused, replay.KindDuplicate} {
		_, checked := r.Summary[k]
		assert.False(t, checked, "a file whose lines all decode claims nothing about %s inputs", k)
	}
}

func TestLostEmitErrorStops(t *testing.T) {
	tj := newJournal(t, 0)
	for i := 0; i < 5; i++ {
		_, err := tj.j.Append(context.Background(), []event.Event{ev("training_complete", "hex8_2p", float64(i), `{}`)}, journal.AppendOptions{})
		require.NoError(t, err)
		tj.add("health_check_failed", "gpu-01", float64(i)/10, `{}`)
	}
	tj.close()
	src, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	defer src.Close()
	boom := errors.New("boom")
	n := 0
	_, err = replay.Lost(context.Background(), src, replay.LostOptions{}, func(*replay.Finding) error {
		if n++; n == 3 {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 3, n, "emit is not called after it failed")
}

// TestLostRefusedHeads reads the type and key of refused inputs from their
// top-level keys, as the decoder would: spaced JSON (Python's json.dumps),
// the compatibility keys, keys lifted from the payload, decoys nested in
// the payload, a raw input cut at journal.RawLimit, and one that is not
// JSON at all.
func TestLostRefusedHeads(t *testing.T) {
	cases := []struct {
		raw, typ string
		key      any // string, or nil for no key
	}{
		{`{"event_type": "TRAINING_COMPLETE", "config_key": "hex8_2p"}`, "TRAINING_COMPLETE", "hex8_2p"},
		{`{"payload":{"type":"inner","config_key":"zz"},"type":"training_complete","config_key":"hex8_2p"}`, "training_complete", "hex8_2p"},
		{`{ "payload" : { "meta" : { "node_id" : "decoy" }, "host" : "gpu-07" } , "event_type" : "host_offline" }`, "host_offline", "gpu-07"},
		{`{"type": "new_games", "payload": {"config": "square8_3p", "node": "gpu-01"}}`, "new_games", "square8_3p"},
		{`{"type": "new_games", "payload": {"config_key": {"board": "hex8"}, "hostname": "gpu-02"}}`, "new_games", "gpu-02"},
		{`{"tags": ["type", "config_key"], "type": "new_g\u0061mes", "config_key": "hex8_3p"}`, "new_games", "hex8_3p"},
		{`{"type": "new_games", "config_key": "hex8_4p", "payload": {"games": [` + strings.Repeat("1, ", 2000), "new_games", "hex8_4p"},
		{`not json, "type": "x", "config_key": "y"`, "an event", nil},
	}
	tj := newJournal(t, 0)
	for _, c := range cases {
		require.NoError(t, tj.j.Reject(journal.Rejection{Code: event.CodeUnknownEventType, Message: "refused", Raw: c.raw}))
	}
	r := tj.lost(replay.LostOptions{})
	fs := findings(r, replay.KindRefused)
	require.Len(t, fs, len(cases))
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			assert.True(t, strings.HasPrefix(fs[i].Message, c.typ+" refused"), "got %q, want type %s", fs[i].Message, c.typ)
			if c.key == nil {
				assert.Nil(t, fs[i].Key)
			} else if assert.NotNil(t, fs[i].Key, "want key %s", c.key) {
				assert.Equal(t, c.key, *fs[i].Key)
			}
		})
	}
}

// TestLiveCursors: the daemon's report (Live) reads the running
// subscriptions' cursors, so a subscription stuck before it ever stored
// one is reported, and a live cursor replaces a stored one of its name.
func TestLiveCursors(t *testing.T) {
	tj := newJournal(t, 0)
	tj.add("new_games", "hex8_2p", 0, `{"games":1}`)
	tj.add("new_games", "hex8_2p", 10, `{"games":2}`)
	require.NoError(t, tj.j.SaveCursor("old", 2, nil))
	live := func() []journal.Cursor {
		return []journal.Cursor{{Name: "fresh", Cursor: 0, TypesKnown: true}, {Name: "old", Cursor: 1, TypesKnown: true}}
	}
	stored, err := replay.Live(tj.j, tj.dir, nil).Cursors()
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, cursorNames(stored), "without live cursors: the stored ones")
	src := replay.Live(tj.j, tj.dir, live)
	cs, err := src.Cursors()
	require.NoError(t, err)
	assert.Equal(t, []string{"fresh", "old"}, cursorNames(cs))
	assert.Equal(t, uint64(1), cs[1].Cursor, "the live cursor replaces the stored one")
	r, err := replay.CollectLost(context.Background(), src, replay.LostOptions{Now: t0.Add(20 * time.Minute)})
	require.NoError(t, err)
	var msgs []string
	for _, f := range r.Findings {
		if f.Kind == replay.KindLaggingSubscription {
			msgs = append(msgs, f.Message)
		}
	}
	require.Len(t, msgs, 2, "%v", r.Findings)
	assert.Contains(t, msgs[0], "subscription fresh is stuck on seq 1")
	assert.Contains(t, msgs[1], "subscription old is stuck on seq 2")
}

func cursorNames(cs []journal.Cursor) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

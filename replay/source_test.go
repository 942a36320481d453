package replay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/replay"
)

// generated fills a journal with n generated events (policies on).
func generated(t *testing.T, n int) *testJournal {
	t.Helper()
	tj := newJournal(t, flows.AllPolicies)
	g := gen.New(gen.Options{Seed: 5, Start: t0})
	batch := make([]event.Event, 0, 100)
	for i := 0; i < n; i += 100 {
		batch = batch[:0]
		for k := 0; k < 100; k++ {
			batch = append(batch, g.Next())
		}
		_, err := tj.j.Append(context.Background(), batch, journal.AppendOptions{})
		require.NoError(t, err)
	}
	return tj
}

func export(t *testing.T, src replay.Source) string {
	t.Helper()
	var b bytes.Buffer
	_, err := replay.Export(context.Background(), src, replay.Filter{}, &b, nil)
	require.NoError(t, err)
	return b.String()
}

// TestSnapshotWhileOpen reads a journal that a "daemon" (this process) holds
// open: the snapshot is a copy, sees every durable event, and the source is
// untouched.
func TestSnapshotWhileOpen(t *testing.T) {
	tj := generated(t, 2000)
	before := listing(t, tj.dir)
	src, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	assert.True(t, src.Snapshot().Copied, "the directory is locked: a copy is read")
	assert.Contains(t, src.Name(), "a copy")
	assert.Equal(t, tj.j.Durable(), src.Last())
	p, err := replay.Rebuild(context.Background(), src, replay.Point{}, replay.FoldOptions{})
	require.NoError(t, err)
	want := tj.eng.JSON(engine.Pipelines)
	assert.JSONEq(t, string(want), string(p.Pipelines), "a rebuild from the copy equals the live state")
	copyDir := src.Snapshot().Dir
	require.NoError(t, src.Close())
	_, err = os.Stat(copyDir)
	assert.True(t, os.IsNotExist(err), "Close removes the copy")
	tj.add("new_games", "hex8_2p", 1, `{"games":1}`) // the daemon goes on
	assert.Equal(t, before, listingWithout(t, tj.dir, before), "the snapshot wrote nothing into the source")

	tj.close()
	src, err = replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	defer src.Close()
	assert.False(t, src.Snapshot().Copied, "a stopped daemon's directory is read in place")
	_, err = src.Snapshot().Append(context.Background(), []event.Event{ev("new_games", "hex8_2p", 0, `{}`)}, journal.AppendOptions{})
	assert.Error(t, err, "a snapshot takes no appends")
}

func listing(t *testing.T, dir string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, e := range ents {
		out[e.Name()] = true
	}
	return out
}

// listingWithout returns the entries of before still present: the check is
// that the snapshot added no file (the daemon itself may add and remove).
func listingWithout(t *testing.T, dir string, before map[string]bool) map[string]bool {
	t.Helper()
	now := listing(t, dir)
	for name := range now {
		if !before[name] && strings.HasPrefix(name, "ringrift-snapshot") {
			t.Errorf("snapshot left %s in the source", name)
		}
	}
	out := map[string]bool{}
	for name := range before {
		if now[name] || !strings.HasSuffix(name, ".log") && !strings.HasPrefix(name, "MANIFEST") {
			out[name] = true
		}
	}
	return out
}

func TestExportImportRoundTrip(t *testing.T) {
	tj := generated(t, 1500)
	tj.close()
	src, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	first := export(t, src)
	require.NoError(t, src.Close())

	dir := filepath.Join(t.TempDir(), "imported")
	rep, err := replay.Import(context.Background(), strings.NewReader(first), dir, replay.ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Undecoded+rep.Refused+rep.Duplicates, "%+v", rep)
	src2, err := replay.OpenJournal(context.Background(), dir)
	require.NoError(t, err)
	defer src2.Close()
	assert.Equal(t, first, export(t, src2), "an export imports to the same journal")

	_, err = replay.Import(context.Background(), strings.NewReader(first), dir, replay.ImportOptions{})
	assert.ErrorContains(t, err, "not empty", "import never writes into an existing journal")
}

func TestImportCompatibilityShapeLenient(t *testing.T) {
	in := strings.Join([]string{
		`{"event_type":"TRAINING_COMPLETED","config_key":"hex8_2p","payload":{"model_path":"m.pth"},"timestamp":1795341600}`,
		`{"event_type":"training_started","payload":{"config":"hex8_2p"},"timestamp":1795341500}`,
		`{"event_type":"trainingstarted","timestamp":1795341500}`,
	}, "\n")
	dir := filepath.Join(t.TempDir(), "j")
	rep, err := replay.Import(context.Background(), strings.NewReader(in), dir, replay.ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Appended, "lenient: the violation (completed before started) is journaled")
	assert.Equal(t, 1, rep.Undecoded)
	src, err := replay.OpenJournal(context.Background(), dir)
	require.NoError(t, err)
	defer src.Close()
	r, err := replay.CollectLost(context.Background(), src, replay.LostOptions{})
	require.NoError(t, err)
	require.Len(t, findings(r, replay.KindRefused), 1, "the undecodable line is in the rejected log")
	p, err := replay.Rebuild(context.Background(), src, replay.Point{}, replay.FoldOptions{})
	require.NoError(t, err)
	assert.Contains(t, string(p.Pipelines), `"hex8_2p":{"state":"training"`)
	assert.Contains(t, string(p.Pipelines), `"violations":1`)
}

// TestURLSource reads a daemon's /v1/export (an httptest server serving an
// export), with the bearer token, and resumes after a broken stream.
func TestURLSource(t *testing.T) {
	tj := generated(t, 800)
	tj.close()
	src, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	all := export(t, src)
	want, err := replay.Rebuild(context.Background(), src, replay.Point{}, replay.FoldOptions{})
	require.NoError(t, err)
	require.NoError(t, src.Close())
	lines := strings.SplitAfter(all, "\n")

	var afters []string
	broken := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v1/export" {
			http.NotFound(w, r)
			return
		}
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		afters = append(afters, r.URL.Query().Get("after"))
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i, l := range lines[after:] {
			if !broken && i == 300 {
				broken = true
				w.Write([]byte(l[:len(l)/2])) // a cut line, then the connection drops
				if hj, ok := w.(http.Hijacker); ok {
					conn, _, _ := hj.Hijack()
					conn.Close()
				}
				return
			}
			w.Write([]byte(l))
		}
	}))
	defer srv.Close()

	bad, err := replay.OpenURL(srv.URL, "wrong", nil)
	require.NoError(t, err)
	_, err = replay.Rebuild(context.Background(), bad, replay.Point{}, replay.FoldOptions{})
	assert.ErrorContains(t, err, "RINGRIFT_TOKEN")
	assert.NotContains(t, err.Error(), "replay:", "the command prefixes its name once, itself")

	u, err := replay.OpenURL(srv.URL+"/", "s3cret", nil)
	require.NoError(t, err)
	got, err := replay.Rebuild(context.Background(), u, replay.Point{}, replay.FoldOptions{})
	require.NoError(t, err)
	assert.Equal(t, want.At, got.At)
	assert.JSONEq(t, string(want.Pipelines), string(got.Pipelines))
	assert.JSONEq(t, string(want.Health), string(got.Health))
	require.Len(t, afters, 2)
	assert.Equal(t, "0", afters[0])
	assert.NotEqual(t, "0", afters[1], "the broken stream resumed after the last seq read")

	broken = false
	r, err := replay.CollectLost(context.Background(), u, replay.LostOptions{})
	require.NoError(t, err)
	assert.Empty(t, findings(r, replay.KindRefused), "the line cut by the broken stream was read again whole, not refused")
	for _, k := range []string{replay.KindRefused, replay.KindDuplicate, replay.KindLaggingSubscription} {
		_, checked := r.Summary[k]
		assert.False(t, checked, "an export has no rejected log or cursors: %s is not checked", k)
	}

	_, err = replay.OpenURL("ftp://x", "", nil)
	assert.Error(t, err)
}

func TestDiffAndTimeline(t *testing.T) {
	tj := newJournal(t, flows.AllPolicies)
	tj.add("sync_completed", "hex8_2p", 0, `{}`)
	tj.add("new_games", "hex8_2p", 1, `{"games":60}`) // the threshold policy decides
	tj.add("training_started", "hex8_2p", 2, `{}`)
	tj.close()
	src, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	defer src.Close()
	d, err := replay.Diff(context.Background(), src, replay.Point{Seq: 2}, replay.Point{}, replay.FoldOptions{})
	require.NoError(t, err)
	var paths []string
	for _, c := range d.Changes {
		if c.Path == "pipelines.hex8_2p.state" {
			assert.Equal(t, `"collecting"`, string(c.From))
			assert.Equal(t, `"training"`, string(c.To))
		}
		paths = append(paths, c.Path)
	}
	assert.Contains(t, paths, "pipelines.hex8_2p.state")

	var entries []replay.Entry
	err = replay.Timeline(context.Background(), src, replay.TimelineOptions{Filter: replay.Filter{ConfigKey: "hex8_2p"}},
		func(e *replay.Entry) error { entries = append(entries, *e); return nil })
	require.NoError(t, err)
	require.Len(t, entries, 4)
	assert.Equal(t, []replay.Ref{{Seq: 3, Type: "training_threshold"}}, entries[1].Decisions)
	assert.Equal(t, uint64(2), entries[2].DecisionOf)
	assert.Equal(t, &replay.Transition{Machine: "pipeline", From: "training_ready", To: "training"}, entries[3].Transition)
}

// TestSnapshotDuringWrites copies a journal while appends, flushes and
// compactions run: every snapshot must be a gap-free prefix holding at least
// what was durable when it was taken.
func TestSnapshotDuringWrites(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, journal.Options{MemTableSize: 256 << 10}) // flushes and compactions all along
	require.NoError(t, err)
	defer j.Close()
	tj := &testJournal{t: t, dir: dir, j: j}
	g := gen.New(gen.Options{Seed: 9, Start: t0, BadShare: 1e-9})
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		batch := make([]event.Event, 0, 200)
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			batch = batch[:0]
			for len(batch) < 200 {
				batch = append(batch, g.Next())
			}
			if _, err := tj.j.Append(context.Background(), batch, journal.AppendOptions{}); err != nil {
				done <- err
				return
			}
		}
	}()
	for i := 0; i < 5; i++ {
		for tj.j.Durable() < uint64(i*8000) {
			time.Sleep(10 * time.Millisecond)
		}
		durable := tj.j.Durable()
		src, err := replay.OpenJournal(context.Background(), tj.dir)
		require.NoError(t, err)
		var next uint64 = 1
		err = src.Scan(context.Background(), 1, replay.Filter{}, func(e *event.Event) error {
			if e.Seq != next {
				return fmt.Errorf("seq %d after %d: a gap", e.Seq, next-1)
			}
			next++
			return nil
		})
		require.NoError(t, err)
		assert.GreaterOrEqual(t, next-1, durable, "the snapshot holds what was durable")
		assert.Equal(t, src.Last(), next-1)
		require.NoError(t, src.Close())
	}
	close(stop)
	require.NoError(t, <-done)
	tj.j = nil // closed by the defer
}

// TestFileSeqsGoBackwards: a file is read in its order; a line whose seq
// does not rise (two exports concatenated) is not read but reported, never
// dropped silently; an event without a seq is numbered after the one before.
func TestFileSeqsGoBackwards(t *testing.T) {
	line := func(seq int, games int) string {
		s := fmt.Sprintf(`{"type":"new_games","config_key":"hex8_2p","time":"2026-11-22T10:00:%02dZ","payload":{"games":%d}}`, games, games)
		if seq > 0 {
			s = fmt.Sprintf(`{"seq":%d,`, seq) + s[1:]
		}
		return s
	}
	in := strings.Join([]string{line(1, 1), line(2, 2), line(3, 3), line(2, 4), line(4, 5), line(0, 6)}, "\n")
	src := replay.NewReader("test", strings.NewReader(in))
	r, err := replay.CollectLost(context.Background(), src, replay.LostOptions{DuplicateWindow: -1})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), r.Events)
	f := one(t, r, replay.KindRefused)
	assert.Contains(t, f.Message, "seq 2 after seq 3")
	assert.Contains(t, f.Message, "[line 4]")

	var seqs []uint64
	src = replay.NewReader("test", strings.NewReader(in))
	require.NoError(t, src.Scan(context.Background(), 1, replay.Filter{}, func(e *event.Event) error {
		seqs = append(seqs, e.Seq)
		return nil
	}))
	assert.Equal(t, []uint64{1, 2, 3, 4, 5}, seqs)
}

// TestDiffMixedPoints: a seq and a time are placed where they fall in the
// journal, whichever comes first in the call.
func TestDiffMixedPoints(t *testing.T) {
	tj := newJournal(t, 0)
	tj.add("training_started", "hex8_2p", 0, `{}`)
	tj.add("training_completed", "hex8_2p", 10, `{"model_path":"m.pth"}`)
	tj.add("evaluation_started", "hex8_2p", 20, `{"model_path":"m.pth"}`)
	tj.close()
	src, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	defer src.Close()
	early := replay.Point{Time: t0.Add(5 * time.Minute)} // after seq 1
	late := replay.Point{Seq: 3}
	state := func(d *replay.DiffReport) (from, to string) {
		for _, c := range d.Changes {
			if c.Path == "pipelines.hex8_2p.state" {
				return string(c.From), string(c.To)
			}
		}
		return "", ""
	}
	d, err := replay.Diff(context.Background(), src, late, early, replay.FoldOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), d.A.Seq)
	assert.Equal(t, uint64(1), d.B.Seq)
	from, to := state(d)
	assert.Equal(t, `"evaluating"`, from)
	assert.Equal(t, `"training"`, to)

	d, err = replay.Diff(context.Background(), src, early, late, replay.FoldOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), d.A.Seq)
	assert.Equal(t, uint64(3), d.B.Seq)
	d, err = replay.Diff(context.Background(), src, replay.Point{}, early, replay.FoldOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), d.A.Seq, "the end")
	assert.Equal(t, uint64(1), d.B.Seq)
}

// TestImportFailureRemovesWhatItWrote: a failed import leaves no half
// journal behind: the directory it created is removed, an empty one it was
// given is emptied again.
func TestImportFailureRemovesWhatItWrote(t *testing.T) {
	lines := `{"type":"new_games","config_key":"hex8_2p","time":"2026-11-22T10:00:00Z","payload":{"games":1}}` + "\n" + "not json\n"
	broken := func() io.Reader {
		return io.MultiReader(strings.NewReader(lines), iotest.ErrReader(errors.New("disk gone")))
	}
	dir := filepath.Join(t.TempDir(), "new")
	_, err := replay.Import(context.Background(), broken(), dir, replay.ImportOptions{})
	require.ErrorContains(t, err, "disk gone")
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "the directory the import created is removed: %v", err)

	empty := t.TempDir()
	_, err = replay.Import(context.Background(), broken(), empty, replay.ImportOptions{})
	require.ErrorContains(t, err, "disk gone")
	assert.Empty(t, listing(t, empty), "the empty directory given is empty again")
	_, err = replay.Import(context.Background(), strings.NewReader(lines), empty, replay.ImportOptions{})
	require.NoError(t, err, "so a second import into it succeeds")
}

// TestImportKeepsRefusedLinesCut: an undecodable line is kept cut at
// journal.RawLimit as soon as it is read, not whole until the end: memory
// retained while importing 8 MiB of such lines stays small.
func TestImportKeepsRefusedLinesCut(t *testing.T) {
	line := `{"type":"nope","payload":{"x":"` + strings.Repeat("x", 256<<10) + `"}}` + "\n"
	rs := make([]io.Reader, 32)
	for i := range rs {
		rs[i] = strings.NewReader(line)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// measured at the first read (the journal is open) and at the end of
	// the input (every line read, the refusals not yet written)
	var first, end uint64
	r := &readHook{r: io.MultiReader(rs...), first: func() { first = heap() }, eof: func() { end = heap() }}
	dir := filepath.Join(t.TempDir(), "j")
	rep, err := replay.Import(context.Background(), r, dir, replay.ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, len(rs), rep.Undecoded)
	require.NotZero(t, end)
	grew := int64(end) - int64(first)
	t.Logf("heap grew %d KiB while reading", grew>>10)
	assert.Less(t, grew, int64(4<<20), "the refused lines are kept cut, not whole")

	src, err := replay.OpenJournal(context.Background(), dir)
	require.NoError(t, err)
	defer src.Close()
	n := 0
	require.NoError(t, src.Rejected(func(r *journal.Rejection) error {
		n++
		assert.True(t, r.Truncated)
		assert.LessOrEqual(t, len(r.Raw), journal.RawLimit)
		return nil
	}))
	assert.Equal(t, len(rs), n)
}

// readHook calls first before the first read and eof when r is exhausted.
type readHook struct {
	r          io.Reader
	first, eof func()
	started    bool
}

func (h *readHook) Read(p []byte) (int, error) {
	if !h.started {
		h.started = true
		h.first()
	}
	n, err := h.r.Read(p)
	if err == io.EOF {
		h.eof()
	}
	return n, err
}

package journal_test

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// The journal is a file format: fixtures/compat/<version> holds a journal
// written by the release that introduced the version, and every later release
// must read it. Regenerate only when introducing a new format version, into a
// new directory (fixtures/compat/v<FormatVersion>):
// go test ./journal -run TestCompat -write-compat
var writeCompat = flag.Bool("write-compat", false, "write the compatibility journal of the current format")

func compatDir(version int) string { return fmt.Sprintf("../fixtures/compat/v%d", version) }

var compatBase = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// compatEvents is the content of the v1 journal: deterministic ids and times,
// every envelope field, several configs and nodes.
func compatEvents() []event.Event {
	var evs []event.Event
	configs := []string{"hex8_2p", "square8_3p", "hexagonal_4p"}
	for i := 0; i < 30; i++ {
		e := event.Event{
			ID:            ulid.ULID{0, 0, 0, 0, 0, 1, byte(i)},
			Type:          "new_games",
			ConfigKey:     configs[i%3],
			Source:        "SelfplayRunner",
			Time:          compatBase.Add(time.Duration(i) * time.Second),
			CorrelationID: fmt.Sprintf("iter-%d", i/10),
			Payload:       []byte(fmt.Sprintf(`{"games":%d}`, 10+i)),
		}
		if i%5 == 0 {
			e.Type, e.NodeID, e.ConfigKey = "health_check_failed", fmt.Sprintf("gpu-%d", i/5), ""
			e.Payload = []byte(`{"reason":"timeout"}`)
			e.CausationID = "01JD3ZK6Q8V7W2M4X9N5T1R0AB"
		}
		evs = append(evs, e)
	}
	return evs
}

// TestCompatV1: a format-1 journal opens, is upgraded to the current
// format (its indexes rebuilt behind the log) and serves every event, by
// seq, id, type, config and node, before the rebuild ends, after it and
// after a reopen.
func TestCompatV1(t *testing.T) {
	if *writeCompat {
		writeCompatJournal(t)
	}
	dir := t.TempDir()
	copyDir(t, compatDir(1), dir) // never open the fixture in place: Pebble writes on open
	testCompat(t, dir, 1)
}

// TestCompatV2: the journal of format 2, whose indexes are built behind
// the log and partitioned by epoch.
func TestCompatV2(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, compatDir(2), dir)
	testCompat(t, dir, 2)
}

func testCompat(t *testing.T, dir string, version int) {
	j, err := journal.Open(dir, journal.Options{})
	require.NoError(t, err)
	if version >= 2 {
		assert.Equal(t, uint64(len(compatEvents())), j.Indexed(), "the fixture holds its indexes")
	}
	checkCompat(t, j, version) // while the indexer may be rebuilding
	require.NoError(t, j.WaitIndexed(context.Background(), j.Durable()))
	checkCompat(t, j, version)
	require.NoError(t, j.Close())
	j, err = journal.Open(dir, journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	assert.Equal(t, uint64(len(compatEvents())), j.Indexed(), "the index watermark is kept")
	checkCompat(t, j, version)

	want := compatEvents()[3]
	res, err := j.AppendOne(context.Background(), &event.Event{ID: want.ID, Type: want.Type, ConfigKey: want.ConfigKey,
		Payload: want.Payload})
	require.NoError(t, err)
	assert.Equal(t, journal.Duplicate, res.Status, "the id index is read")
}

func checkCompat(t *testing.T, j *journal.Journal, version int) {
	t.Helper()
	want := compatEvents()
	require.Equal(t, uint64(len(want)), j.Durable())
	got, err := j.Read(1, journal.Filter{}, 0)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assert.Equal(t, uint64(i+1), g.Seq)
		assert.Equal(t, w.ID, g.ID)
		assert.Equal(t, w.Type, g.Type)
		assert.Equal(t, w.ConfigKey, g.ConfigKey)
		assert.Equal(t, w.NodeID, g.NodeID)
		assert.Equal(t, w.Source, g.Source)
		assert.True(t, w.Time.Equal(g.Time), "seq %d time %v vs %v", g.Seq, w.Time, g.Time)
		assert.Equal(t, w.CausationID, g.CausationID)
		assert.Equal(t, w.CorrelationID, g.CorrelationID)
		assert.JSONEq(t, string(w.Payload), string(g.Payload))
	}
	for _, c := range []string{"hex8_2p", "square8_3p", "hexagonal_4p"} {
		byConfig, err := j.Read(1, journal.Filter{ConfigKey: c}, 0)
		require.NoError(t, err)
		require.Len(t, byConfig, 8, "config %s", c)
		for _, e := range byConfig {
			assert.Equal(t, c, e.ConfigKey)
			assert.Equal(t, want[e.Seq-1].ID, e.ID)
		}
	}
	for n := 0; n < 6; n++ {
		byNode, err := j.Read(1, journal.Filter{NodeID: fmt.Sprintf("gpu-%d", n)}, 0)
		require.NoError(t, err)
		require.Len(t, byNode, 1)
		assert.Equal(t, uint64(5*n+1), byNode[0].Seq)
	}
	byType, err := j.Read(1, journal.Filter{Types: []string{"health_check_failed"}}, 0)
	require.NoError(t, err)
	assert.Len(t, byType, 6)
	byType, err = j.Read(1, journal.Filter{Types: []string{"new_games"}}, 0)
	require.NoError(t, err)
	assert.Len(t, byType, 24)
	for i := range want {
		e, err := j.GetByID(want[i].ID)
		require.NoError(t, err)
		assert.Equal(t, uint64(i+1), e.Seq)
	}

	rej, err := j.Rejected(1, 0)
	require.NoError(t, err)
	require.Len(t, rej.Entries, 2)
	assert.Equal(t, event.CodeUnknownEventType, rej.Entries[0].Code)

	cp, err := j.LoadCheckpoint("compat")
	require.NoError(t, err)
	assert.Equal(t, journal.Checkpoint{Version: 7, Seq: 30, Data: []byte("state")}, cp)
	cur, err := j.Cursor("compat-subscriber")
	require.NoError(t, err)
	assert.Equal(t, uint64(12), cur)
	cs, err := j.Cursors()
	require.NoError(t, err)
	if version == 1 {
		assert.Equal(t, []journal.Cursor{{Name: "compat-subscriber", Cursor: 12}}, cs,
			"a v1 cursor (8 bytes) reads with its types unknown")
	} else {
		require.Len(t, cs, 1)
		assert.Equal(t, uint64(12), cs[0].Cursor)
		assert.True(t, cs[0].TypesKnown)
	}
}

func writeCompatJournal(t *testing.T) {
	dir := compatDir(journal.FormatVersion)
	require.NoError(t, os.RemoveAll(dir))
	j, err := journal.Open(dir, journal.Options{})
	require.NoError(t, err)
	evs := compatEvents()
	res, err := j.Append(context.Background(), evs, journal.AppendOptions{})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, journal.Appended, r.Status)
	}
	for _, typ := range []string{"training_complete", "Training_Completed"} {
		r, err := j.AppendOne(context.Background(), &event.Event{Type: typ})
		require.NoError(t, err)
		require.Equal(t, journal.Refused, r.Status)
	}
	require.NoError(t, j.SaveCheckpoint("compat", journal.Checkpoint{Version: 7, Seq: 30, Data: []byte("state")}))
	got := make(chan struct{})
	n := 0
	sub, err := j.Subscribe("compat-subscriber", journal.HandlerFunc(func(ctx context.Context, e *event.Event) error {
		n++
		if n == 12 {
			close(got)
		}
		if n > 12 {
			<-ctx.Done() // hold: the cursor stays at 12
			return ctx.Err()
		}
		return nil
	}), journal.SubscribeOptions{BatchEvents: 1})
	require.NoError(t, err)
	<-got
	require.Eventually(t, func() bool { c, _ := j.Cursor("compat-subscriber"); return c == 12 }, 30*time.Second, 10*time.Millisecond)
	sub.Close()
	require.NoError(t, j.Close())
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	require.NoError(t, err)
}

// TestCompatReadOnly: replay opens journals with OpenSnapshot, which never
// writes, so a format-1 journal is read as it is (not upgraded, its
// indexes of format 1 not used: filtered reads scan the log) and a
// format-2 one with its indexes; both serve every event by seq, id, type,
// config and node.
func TestCompatReadOnly(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, compatDir(version), dir)
			s, err := journal.OpenSnapshot(context.Background(), dir, journal.Options{})
			require.NoError(t, err)
			if version == 1 {
				assert.Equal(t, uint64(0), s.Indexed(), "no index of format 2: filtered reads scan the log")
			} else {
				assert.Equal(t, uint64(len(compatEvents())), s.Indexed(), "the stored index serves the reads")
			}
			checkCompat(t, s.Journal, version)
			require.NoError(t, s.Close())
			// A writer opening it afterwards (upgrading a v1 journal) serves it too.
			j, err := journal.Open(dir, journal.Options{})
			require.NoError(t, err)
			defer j.Close()
			checkCompat(t, j, version)
		})
	}
}

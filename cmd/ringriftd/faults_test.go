package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/internal/testfs"
	"github.com/ringrift/ringriftd/journal"
)

// journalErrors makes the errors a real journal answers appends with.
func journalErrors(t *testing.T) map[string]error {
	t.Helper()
	ctx := context.Background()
	one := func() []event.Event { return []event.Event{{Type: "sync_completed", Source: "test"}} }
	out := map[string]error{}

	var failSync errorfs.InjectorFunc = func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo) {
			return syscall.EIO
		}
		return nil
	}
	toggle := &errorfs.Toggle{Injector: failSync}
	j, err := journal.Open("j", journal.Options{FS: errorfs.Wrap(vfs.NewMem(), toggle)})
	require.NoError(t, err)
	toggle.On()
	_, out["outcome unknown"] = j.Append(ctx, one(), journal.AppendOptions{})
	_, out["failed journal"] = j.Append(ctx, one(), journal.AppendOptions{})
	_ = j.Close()
	_, out["closed"] = j.Append(ctx, one(), journal.AppendOptions{})

	mem := vfs.NewMem()
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 20, TotalBytes: 1 << 30, UsedBytes: 1<<30 - 1<<20})
	j, err = journal.Open("j", journal.Options{FS: mem})
	require.NoError(t, err)
	_, out["disk full"] = j.Append(ctx, one(), journal.AppendOptions{})
	require.NoError(t, j.Close())
	out["read error"] = fmt.Errorf("journal: scan: %w", syscall.EIO)
	for name, err := range out {
		require.Error(t, err, name)
	}
	return out
}

// TestJournalErrorsAnswerHonestly: each journal error is answered with the
// code and status that say what became of the request (events.md).
func TestJournalErrorsAnswerHonestly(t *testing.T) {
	errs := journalErrors(t)
	d := &daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range []struct {
		name   string
		status int
		code   event.Code
		hint   string
	}{
		{"outcome unknown", 503, event.CodeOutcomeUnknown, "retry with the same ids, which is safe"},
		{"failed journal", 503, event.CodeUnavailable, "nothing of this request was journaled"},
		{"closed", 503, event.CodeUnavailable, "nothing of this request was journaled"},
		{"disk full", 507, event.CodeInsufficientStorage, "nothing of this request was journaled"},
		{"read error", 503, event.CodeUnavailable, "retry later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			d.unavailable(w, errs[tc.name])
			require.Equal(t, tc.status, w.Code)
			var body struct{ Error map[string]any }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			require.Equal(t, string(tc.code), body.Error["code"])
			require.NotContains(t, body.Error, "index", "the whole request: no event is named")
			hint, _ := body.Error["hint"].(string)
			msg, _ := body.Error["message"].(string)
			require.Contains(t, hint, tc.hint)
			if tc.name == "read error" {
				require.NotContains(t, hint+msg, "journaled",
					"a failed read makes no claim about appends")
			}
		})
	}
}

// TestDiskFullDaemon runs the daemon on a small real file system (tmpfs)
// and fills it: appends answer 507 insufficient_storage, reads and /healthz
// keep working, and once space is freed appends resume — same process, no
// gap, every acknowledged event there.
func TestDiskFullDaemon(t *testing.T) {
	mnt := testfs.Tmpfs(t, 160<<20)
	base, _ := testDaemonAt(t, func(c *Config) { c.DataDir = filepath.Join(mnt, "data") })
	acked := map[string]uint64{}
	postBatch := func(round int) (int, map[string]any) {
		var b strings.Builder
		b.WriteByte('[')
		for i := 0; i < 500; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"type":"new_games","config_key":"hex8_2p","node_id":"w1","payload":{"games":%d,"note":"%0500d"}}`, 1+i%9, round)
		}
		b.WriteByte(']')
		code, out := post(t, base+"/v1/events?atomic=false", "application/json", b.String())
		if code == 200 {
			for _, r := range out["results"].([]any) {
				m := r.(map[string]any)
				require.Equal(t, "appended", m["status"])
				acked[m["id"].(string)] = uint64(m["seq"].(float64))
			}
		}
		return code, out
	}
	code, _ := postBatch(0)
	require.Equal(t, 200, code)

	ballast := testfs.Fill(t, mnt, journal.DefaultDiskReserve+4<<20)
	var full map[string]any
	for round := 1; round < 100 && full == nil; round++ {
		code, out := postBatch(round)
		switch code {
		case 200:
		case http.StatusInsufficientStorage:
			full = out
		default:
			t.Fatalf("round %d: %d %v", round, code, out)
		}
	}
	require.NotNil(t, full, "the disk filled up to the reserve")
	e := full["error"].(map[string]any)
	require.Equal(t, "insufficient_storage", e["code"])
	require.Contains(t, e["hint"], "nothing of this request was journaled")

	code, b := get(t, base+"/v1/events?limit=3")
	require.Equal(t, 200, code, "reads work on a full disk: %s", b)
	code, _ = get(t, base+"/healthz")
	require.Equal(t, 200, code)
	code, _ = get(t, base+"/v1/pipelines")
	require.Equal(t, 200, code, "projections too")

	require.NoError(t, os.Remove(ballast))
	before := len(acked)
	code, out := postBatch(1000)
	require.Equal(t, 200, code, "appends resume without a restart: %v", out)
	first := out["results"].([]any)[0].(map[string]any)
	require.Equal(t, float64(before+1), first["seq"], "no gap")

	ids, seqs := exportSeqs(t, base)
	for i, s := range seqs {
		require.Equal(t, uint64(i+1), s, "gap-free seqs")
	}
	for id, seq := range acked {
		require.Equal(t, seq, ids[id], "acknowledged event %s", id)
	}
	t.Logf("disk full after %d acknowledged events; resumed at seq %d; %d events, no gap", before, before+1, len(seqs))
}

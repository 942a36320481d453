package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/replay"
)

// small.ndjson's line 404 names an unknown type: no command may leave it
// out silently (issue 12).
const badLine = "line 404"

// TestImportLeftOutLinesExitNonZero: import writes the journal and its
// report, and exits 1 when it left lines out (they are in the new
// journal's rejected log), saying so on stderr and in --json.
func TestImportLeftOutLinesExitNonZero(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	out, stderr, err := replayCmd(t, "import", "--into", dir, "testdata/small.ndjson")
	require.True(t, errors.Is(err, errFailed), "exit 1, not %v", err)
	assert.Contains(t, out, "1 undecodable")
	assert.Contains(t, stderr, "left out 1 of 405 lines")
	assert.Contains(t, stderr, badLine)
	_, err = os.Stat(dir)
	require.NoError(t, err, "the journal is kept")

	dir = filepath.Join(t.TempDir(), "j2")
	out, _, err = replayCmd(t, "import", "--into", dir, "--json", "testdata/small.ndjson")
	require.True(t, errors.Is(err, errFailed), "exit 1, not %v", err)
	var rep replay.ImportReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.LeftOut, 1)
	assert.Equal(t, 404, rep.LeftOut[0].Line)
	assert.Equal(t, "unknown_event_type", rep.LeftOut[0].Code)
}

// TestTimelineShowsSkippedLines: a line of a file or of a daemon's export
// that does not decode is a refused entry of the timeline, in its place,
// and stderr says lines were left out.
func TestTimelineShowsSkippedLines(t *testing.T) {
	body, err := os.ReadFile("testdata/small.ndjson")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") == "0" {
			w.Write(body)
		}
	}))
	defer srv.Close()
	for _, src := range [][]string{{"--file", "testdata/small.ndjson"}, {"--url", srv.URL}} {
		out, stderr, err := replayCmd(t, append([]string{"timeline", "--now", "2026-11-22T13:00:00Z"}, src...)...)
		require.NoError(t, err, stderr)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var at int
		for i, l := range lines {
			if strings.Contains(l, badLine) {
				at = i
			}
		}
		require.NotZero(t, at, "the line is in the timeline: %s", out)
		assert.Contains(t, lines[at], "refused unknown_event_type")
		assert.Contains(t, lines[at-1], "health_check_failed", "in its place: after line 403")
		assert.Contains(t, stderr, "left out 1 line")

		out, stderr, err = replayCmd(t, append([]string{"timeline", "--json"}, src...)...)
		require.NoError(t, err, stderr)
		found := false
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var en replay.Entry
			require.NoError(t, json.Unmarshal([]byte(l), &en), l)
			if en.Refused != nil && strings.Contains(en.Refused.Message, badLine) {
				found = true
				assert.Equal(t, "unknown_event_type", en.Refused.Code)
			}
		}
		assert.True(t, found, "the --json timeline has the line")

		out, stderr, err = replayCmd(t, append([]string{"timeline", "--refused=false"}, src...)...)
		require.NoError(t, err, stderr)
		assert.NotContains(t, out, badLine, "--refused=false leaves refusals out of the timeline")
		assert.Contains(t, stderr, "left out 1 line", "but says so")
	}
}

// TestFoldingCommandsSayWhatTheyLeftOut: rebuild, explain, stats … over a
// file with an undecodable line say so on stderr and in --json.
func TestFoldingCommandsSayWhatTheyLeftOut(t *testing.T) {
	for _, args := range [][]string{{"rebuild"}, {"stats"}, {"explain", "hex8_2p"}, {"node", "gpu-02"}, {"diff", "1", "end"}} {
		all := append(append([]string{args[0], "--file", "testdata/small.ndjson"}, args[1:]...), "--json")
		out, stderr, err := replayCmd(t, all...)
		require.NoError(t, err, stderr)
		assert.Contains(t, stderr, "left out 1 line", args)
		var doc struct {
			Skipped *replay.Skips `json:"skipped"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		require.NotNil(t, doc.Skipped, "%v: %s", args, out)
		assert.Equal(t, 1, doc.Skipped.Count)
		require.Len(t, doc.Skipped.Lines, 1)
		assert.Equal(t, 404, doc.Skipped.Lines[0].Line)

		_, stderr, err = replayCmd(t, all[:len(all)-1]...)
		require.NoError(t, err, stderr)
		assert.Contains(t, stderr, badLine, args)
	}
	_, stderr, err := replayCmd(t, "export", "--file", "testdata/small.ndjson")
	require.NoError(t, err)
	assert.Contains(t, stderr, "left out 1 line")
}

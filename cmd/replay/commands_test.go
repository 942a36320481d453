package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/replay"
)

func replayCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return replayCmdIn(t, strings.NewReader(""), args...)
}

// replayCmdIn runs the command with stdin.
func replayCmdIn(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, stdin, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestEveryCommandHasHelpWithAnExample: help asked for goes to stdout (so
// that "replay explain --help | less" shows it) and exits 0 (flag.ErrHelp);
// a usage error shows the usage on stderr.
func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	for _, c := range commands {
		for _, h := range []string{"-h", "--help"} {
			stdout, stderr, err := replayCmd(t, c.name, h)
			assert.True(t, errors.Is(err, flag.ErrHelp), "%s %s: %v", c.name, h, err)
			assert.Empty(t, stderr, c.name)
			assert.Contains(t, stdout, "example:\n  replay "+c.name, c.name)
			if c.name != "import" {
				assert.Contains(t, stdout, "-json", c.name)
				assert.Contains(t, stdout, "-journal", c.name)
			}
		}
		stdout, stderr, err := replayCmd(t, c.name, "--no-such-flag")
		assert.Error(t, err)
		assert.False(t, errors.Is(err, flag.ErrHelp))
		assert.Empty(t, stdout, c.name)
		assert.Contains(t, stderr, "usage: replay "+c.name)
	}
	stdout, stderr, err := replayCmd(t, "fixture", "-h")
	assert.True(t, errors.Is(err, flag.ErrHelp))
	assert.Contains(t, stdout, "usage: replay fixture")
	assert.Empty(t, stderr)
	out, _, err := replayCmd(t, "help")
	require.NoError(t, err)
	for _, c := range commands {
		assert.Contains(t, out, "  "+c.name)
	}
}

func TestLostJSONShape(t *testing.T) {
	out, _, err := replayCmd(t, "lost", "--file", "testdata/small.ndjson", "--json")
	assert.True(t, errors.Is(err, errFailed), "findings exit 1: %v", err)
	var rep struct {
		Findings []map[string]json.RawMessage `json:"findings"`
		Summary  map[string]int               `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.NotEmpty(t, rep.Findings)
	for _, f := range rep.Findings {
		keys := make([]string, 0, len(f))
		for k := range f {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, []string{"kind", "seqs", "key", "message"}, keys)
	}
	assert.Equal(t, 1, rep.Summary["refused"])
	_, ok := rep.Summary["lagging_subscription"]
	assert.False(t, ok, "a file has no subscriptions: the kind is not checked")
}

func TestExportImportThroughTheCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	out, _, err := replayCmd(t, "import", "--into", dir, "testdata/small.ndjson")
	require.True(t, errors.Is(err, errFailed), "a line left out: exit 1, got %v", err)
	assert.Contains(t, out, "1 undecodable")
	exported, _, err := replayCmd(t, "export", "--journal", dir, "--type", "health_check_failed", "--node", "gpu-02")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(exported), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.Contains(t, l, `"type":"health_check_failed"`)
	}
	// the journal's rejected log holds the undecodable line: the timeline shows it
	tl, _, err := replayCmd(t, "timeline", "--journal", dir, "--now", "2026-11-22T13:00:00Z", "--since", "2026-11-22T12:27:00Z")
	require.NoError(t, err)
	assert.Contains(t, tl, "refused unknown_event_type")
	_, _, err = replayCmd(t, "lost", "--journal", dir, "--file", "testdata/small.ndjson")
	assert.ErrorContains(t, err, "one source per call")
	_, _, err = replayCmd(t, "rebuild", "--journal", dir, "--at", "nonsense")
	assert.ErrorContains(t, err, "--at")
	_, _, err = replayCmd(t, "timeline", "--journal", dir, "--type", "training_complete")
	assert.ErrorContains(t, err, "did you mean training_completed")
}

// TestLostJSONFailingMidway: when the report fails after findings were
// written (here a line longer than replay.MaxLine), stdout is still one
// valid JSON document, closed with the error, and the command fails with
// the error (exit 2), not with findings (exit 1).
func TestLostJSONFailingMidway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.ndjson")
	in := `{"type":"health_check_failed","node_id":"gpu-01","time":"2026-11-22T10:00:00Z","payload":{}}` + "\n" +
		`{"type":"health_check_failed","node_id":"gpu-01","time":"2026-11-22T10:00:12Z","payload":{}}` + "\n" +
		`{"type":"new_games","payload":{"note":"` + strings.Repeat("x", 2*replay.MaxLine) + `"}}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(in), 0o644))
	out, _, err := replayCmd(t, "lost", "--file", path, "--json")
	require.Error(t, err)
	assert.False(t, errors.Is(err, errFailed), "a failure is not a finding: %v", err)
	require.True(t, json.Valid([]byte(out)), "stdout is valid JSON: %s", out)
	var doc struct {
		Findings []json.RawMessage `json:"findings"`
		Error    string            `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Len(t, doc.Findings, 1, "the probable duplicate found before the failure")
	assert.Contains(t, doc.Error, "longer than")
}

// TestImportFromStdin: "-" reads the stdin run is given.
func TestImportFromStdin(t *testing.T) {
	in, err := os.ReadFile("testdata/small.ndjson")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "j")
	out, _, err := replayCmdIn(t, bytes.NewReader(in), "import", "--into", dir, "--json", "-")
	require.True(t, errors.Is(err, errFailed), "a line left out: exit 1, got %v", err)
	var rep replay.ImportReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 405, rep.Lines)
	assert.Equal(t, 1, rep.Undecoded)
}

// TestFlagsAnywhere: flags may follow the arguments, for every command;
// "--" ends the flags.
func TestFlagsAnywhere(t *testing.T) {
	src := "testdata/small.ndjson"
	for _, args := range [][]string{
		{"explain", "--file", src, "square8_3p", "--json"},
		{"explain", "square8_3p", "--file", src, "--json"},
		{"node", "gpu-02", "--json", "--file", src},
		{"diff", "300", "--file", src, "end", "--json"},
		{"rebuild", "--file", src, "--json", "--at", "200"},
	} {
		out, stderr, err := replayCmd(t, args...)
		require.NoError(t, err, "%v: %s", args, stderr)
		assert.True(t, json.Valid([]byte(out)), "%v: --json after an argument is a flag: %s", args, out)
	}
	_, _, err := replayCmd(t, "explain", "--file", src, "--", "--json")
	assert.ErrorContains(t, err, `config "--json" has no event`, "after --, --json is the argument")
	_, stderr, err := replayCmd(t, "stats", "--file", src, "extra")
	assert.ErrorContains(t, err, `unexpected argument "extra"`)
	assert.Contains(t, stderr, "usage: replay stats")
	_, _, err = replayCmd(t, "explain", "--file", src, "a", "b")
	assert.ErrorContains(t, err, "want one CONFIG")
	dir := filepath.Join(t.TempDir(), "j")
	_, _, err = replayCmd(t, "import", src, "--into", dir)
	assert.True(t, err == nil || errors.Is(err, errFailed), "import FILE --into DIR: %v", err)
	_, err = os.Stat(dir)
	assert.NoError(t, err, "imported")
}

func TestVersion(t *testing.T) {
	for _, a := range []string{"--version", "version"} {
		out, stderr, err := replayCmd(t, a)
		require.NoError(t, err)
		assert.Empty(t, stderr)
		assert.True(t, strings.HasPrefix(out, "replay github.com/ringrift/ringriftd"), out)
	}
}

// TestThresholdsFile: the folding commands take the daemon's --thresholds
// file, and fold with it (the cluster status follows its percentages); a
// file the daemon would refuse is refused.
func TestThresholdsFile(t *testing.T) {
	dir := t.TempDir()
	lax := filepath.Join(dir, "lax.yaml")
	require.NoError(t, os.WriteFile(lax, []byte("cluster_degraded: 90\ncluster_critical: 100\n"), 0o644))
	src := "testdata/small.ndjson"
	cluster := func(args ...string) string {
		out, stderr, err := replayCmd(t, append([]string{"rebuild", "--file", src, "--json"}, args...)...)
		require.NoError(t, err, stderr)
		var p struct {
			Health struct {
				Cluster string `json:"cluster"`
			} `json:"health"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &p))
		return p.Health.Cluster
	}
	assert.Equal(t, "critical", cluster(), "the built-in thresholds")
	assert.Equal(t, "healthy", cluster("--thresholds", lax), "the file's")

	for _, args := range [][]string{{"timeline"}, {"explain", "hex8_2p"}, {"node", "gpu-02"}, {"lost"}, {"diff", "1", "end"}, {"verify"}} {
		_, stderr, err := replayCmd(t, append(append([]string{args[0], "--file", src, "--thresholds", lax}, args[1:]...), "--json")...)
		assert.True(t, err == nil || errors.Is(err, errFailed), "%v: %v %s", args, err, stderr)
	}
	_, _, err := replayCmd(t, "import", "--thresholds", lax, "--into", filepath.Join(dir, "j"), src)
	assert.True(t, err == nil || errors.Is(err, errFailed), "import: %v", err)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("elo_gian: 30\n"), 0o644))
	_, _, err = replayCmd(t, "rebuild", "--file", src, "--thresholds", bad)
	assert.ErrorContains(t, err, "elo_gian")
	require.NoError(t, os.WriteFile(bad, []byte("cluster_degraded: 50\ncluster_critical: 10\n"), 0o644))
	_, _, err = replayCmd(t, "rebuild", "--file", src, "--thresholds", bad)
	assert.ErrorContains(t, err, "bad.yaml")
	_, stderr, err := replayCmd(t, "stats", "--file", src, "--thresholds", lax)
	assert.Error(t, err, "stats does not fold: no --thresholds")
	assert.Contains(t, stderr, "flag provided but not defined")
}

// TestStatsTextHasEverySection: the text has a row per category, per config
// and per busiest key, as --json has them (issue 14: only "… 12 more").
func TestStatsTextHasEverySection(t *testing.T) {
	out, _, err := replayCmd(t, "stats", "--file", "testdata/small.ndjson", "--json")
	require.NoError(t, err)
	var st replay.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	text, _, err := replayCmd(t, "stats", "--file", "testdata/small.ndjson")
	require.NoError(t, err)
	section := func(title string) string {
		_, rest, ok := strings.Cut(text, "\n"+title+"\n")
		require.True(t, ok, "section %s in %s", title, text)
		body, _, _ := strings.Cut(rest, "\n\n")
		return body
	}
	for _, sec := range []struct {
		title string
		cs    []replay.Count
	}{{"By category", st.ByCategory}, {"By config", st.ByConfig}, {"Busiest keys", st.Busiest}} {
		body := section(sec.title)
		require.NotEmpty(t, sec.cs)
		assert.NotContains(t, body, "more", sec.title)
		for _, c := range sec.cs {
			assert.Regexp(t, `(?m)^  `+regexp.QuoteMeta(c.Name)+` +`+strconv.FormatUint(c.Count, 10)+` `, body, sec.title)
		}
	}
}

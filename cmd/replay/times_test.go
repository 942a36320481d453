package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// farJournal writes a journal as an old daemon could have: a Python worker's
// timestamp in milliseconds journaled at the year 58862, and the extremes
// of what the journal's int64 milliseconds hold, beside ordinary events.
func farJournal(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "far")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	j, err := journal.Open(dir, journal.Options{Hook: engine.New(engine.Options{}), Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	at := func(typ, key string, tm time.Time, payload string) event.Event {
		e := event.Event{Type: typ, Source: "SelfplayRunner", Time: tm, Payload: json.RawMessage(payload)}
		if strings.HasPrefix(key, "gpu-") {
			e.NodeID = key
		} else {
			e.ConfigKey = key
		}
		return e
	}
	far := time.UnixMilli(1795342503250 * 1000).UTC() // year 58862
	evs := []event.Event{
		at("new_games", "hex8_2p", t0, `{"games":10}`),
		at("new_games", "hex8_2p", far, `{"games":10}`),
		at("training_started", "hex8_2p", far, `{}`),
		at("health_check_failed", "gpu-01", time.UnixMilli(math.MinInt64).UTC(), `{}`),
		at("health_check_failed", "gpu-01", t0, `{}`),
		at("new_games", "square8_2p", time.UnixMilli(math.MaxInt64).UTC(), `{"games":1}`),
		at("new_games", "square8_2p", time.UnixMilli(-1).UTC(), `{"games":1}`),
	}
	res, err := j.Append(context.Background(), evs, journal.AppendOptions{Validated: true})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, journal.Appended, r.Status, "%+v", r)
	}
	require.NoError(t, j.Close())
	return dir
}

// TestEveryCommandReadsEveryTime: every replay command reads a journal
// holding the year 58862 and the int64 extremes, from the journal and from
// its export, in text and JSON, without failing (issue 12: timeline died
// of a stack overflow, stats --json of "year outside of range").
func TestEveryCommandReadsEveryTime(t *testing.T) {
	dir := farJournal(t)
	exported, stderr, err := replayCmd(t, "export", "--journal", dir)
	require.NoError(t, err, stderr)
	assert.Contains(t, exported, `"time":"58862-`)
	assert.Contains(t, exported, `"time":"292278994-08-17T07:12:55.807Z"`)
	assert.Contains(t, exported, `"time":"-292275055-05-16T16:47:04.192Z"`)
	file := filepath.Join(t.TempDir(), "far.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(exported), 0o644))

	cmds := [][]string{
		{"timeline"}, {"explain", "hex8_2p"}, {"explain", "square8_2p"}, {"node", "gpu-01"}, {"lost"},
		{"rebuild"}, {"rebuild", "--at", "3"}, {"diff", "1", "end"}, {"verify"}, {"stats"}, {"export"},
	}
	for _, src := range [][]string{{"--journal", dir}, {"--file", file}} {
		for _, c := range cmds {
			for _, asJSON := range []bool{false, true} {
				args := append(append([]string{c[0]}, src...), c[1:]...)
				if asJSON && c[0] != "export" {
					args = append(args, "--json")
				}
				name := strings.Join(args, " ")
				t.Run(name, func(t *testing.T) {
					out, stderr, err := replayCmd(t, args...)
					if c[0] == "lost" || c[0] == "verify" {
						if err != nil {
							require.True(t, errors.Is(err, errFailed), "%v; stderr: %s", err, stderr)
						}
					} else {
						require.NoError(t, err, "stderr: %s", stderr)
					}
					assert.NotContains(t, out, "106751d", "a saturated duration is not a span")
					assert.NotContains(t, stderr, "skipped", "nothing is left out")
					if asJSON && c[0] != "timeline" && c[0] != "export" {
						require.True(t, json.Valid([]byte(out)), "JSON output: %s", out)
					}
				})
			}
		}
	}

	out, _, err := replayCmd(t, "stats", "--journal", dir, "--json")
	require.NoError(t, err)
	var st struct {
		First string `json:"first"`
		Last  string `json:"last"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, "-292275055-05-16T16:47:04.192Z", st.First)
	assert.Equal(t, "292278994-08-17T07:12:55.807Z", st.Last)
	out, _, err = replayCmd(t, "stats", "--journal", dir)
	require.NoError(t, err)
	assert.Contains(t, out, "(584554049y)", "the whole span, in years")

	out, _, err = replayCmd(t, "explain", "--journal", dir, "--now", "2026-11-22T10:00:00Z", "hex8_2p")
	require.NoError(t, err)
	assert.Contains(t, out, "is training since 58862-", out)

	imported := filepath.Join(t.TempDir(), "imported")
	_, stderr, err = replayCmd(t, "import", "--into", imported, file)
	require.NoError(t, err, "an export imports whatever its times: %s", stderr)
	again, _, err := replayCmd(t, "export", "--journal", imported)
	require.NoError(t, err)
	assert.Equal(t, exported, again, "the import is the same journal")
}

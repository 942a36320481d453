package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/replay"
)

// TestBoards: the configs of an operator's board (the daemon's --boards)
// are read from files and imported with --boards, and refused without.
func TestBoards(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hex12.ndjson")
	in := `{"type":"new_games","config_key":"hex12_2p","time":"2026-11-22T10:00:00Z","payload":{"games":5}}` + "\n" +
		`{"type":"training_started","config_key":"hex12_2","time":"2026-11-22T10:01:00Z","payload":{}}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(in), 0o644))

	lost := func(args ...string) map[string]int {
		out, _, _ := replayCmd(t, append([]string{"lost", "--json", "--file", path}, args...)...)
		var doc struct {
			Summary map[string]int `json:"summary"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		return doc.Summary
	}
	assert.Equal(t, 2, lost()[replay.KindRefused], "without --boards both lines are refused")
	assert.Zero(t, lost("--boards", "hex12")[replay.KindRefused])

	out, _, err := replayCmd(t, "explain", "--file", path, "--boards", "hex12", "--json", "hex12_2")
	require.NoError(t, err)
	assert.Contains(t, out, `"config": "hex12_2p"`)
	assert.Contains(t, out, `"training"`, "the story of the extended config")

	var rep replay.ImportReport
	out, _, err = replayCmd(t, "import", "--into", filepath.Join(t.TempDir(), "a"), "--json", path)
	require.ErrorIs(t, err, errFailed, "an import that leaves lines out fails")
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 2, rep.Undecoded)
	out, _, err = replayCmd(t, "import", "--into", filepath.Join(t.TempDir(), "b"), "--json", "--boards", "hex12", path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 2, rep.Appended)
	assert.Zero(t, rep.Undecoded)

	_, _, err = replayCmd(t, "lost", "--file", path, "--boards", "Hex12")
	assert.ErrorContains(t, err, `--boards: board "Hex12"`)
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden runs each command over testdata/small.ndjson (400 generated
// events with their decisions, two events in the compatibility shape and
// one line with an unknown type) and compares the text output with
// testdata/NAME.golden, so that changes to what people read show in diffs.
// Regenerate with: go test ./cmd/replay -run TestGolden -update
func TestGolden(t *testing.T) {
	src := []string{"--file", "testdata/small.ndjson", "--now", "2026-11-22T13:00:00Z"}
	cases := []struct {
		name   string
		args   []string
		failed bool // the command reports findings: exit 1
	}{
		{"timeline", []string{"timeline", "--since", "370"}, false},
		{"timeline_config", []string{"timeline", "--config", "hex8_2p", "--type", "training_started,training_completed,model_promoted,promotion_rejected"}, false},
		{"explain", []string{"explain", "square8_3p"}, false},
		{"node", []string{"node", "gpu-02"}, false},
		{"lost", []string{"lost"}, true},
		{"rebuild", []string{"rebuild", "--at", "200"}, false},
		{"diff", []string{"diff", "300", "end"}, false},
		{"stats", []string{"stats"}, false},
		{"verify", []string{"verify"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append(append([]string{c.args[0]}, src...), c.args[1:]...)
			err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
			if c.failed {
				require.True(t, errors.Is(err, errFailed), "want exit 1, got %v; stderr: %s", err, errOut.String())
			} else {
				require.NoError(t, err, "stderr: %s", errOut.String())
			}
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to create it")
			require.Equal(t, string(want), out.String(), "output changed; if on purpose, run with -update and review the diff")
		})
	}
}

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunOnceReportsTheJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == "RINGRIFT_DATA" {
			return dir
		}
		return ""
	}
	require.NoError(t, run(context.Background(), []string{"--once"}, env, &out, &errOut))
	assert.Contains(t, out.String(), dir, "says where the journal is")
	assert.Contains(t, out.String(), "holds 0 events")
	assert.DirExists(t, dir)

	err := run(context.Background(), []string{"--bogus"}, env, &out, &errOut)
	assert.Error(t, err, "an unknown flag is an error")
}

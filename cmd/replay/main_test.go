package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFixtureCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(good, []byte(`
name: training starts
policies: none
events: [{type: training_started, config_key: hex8_2p}]
expect: {projections: {pipelines: {hex8_2p: {state: training}}}}
`), 0o644))
	require.NoError(t, os.WriteFile(bad, []byte(`
name: wrong state on purpose
policies: none
events: [{type: training_started, config_key: hex8_2p}]
expect: {projections: {pipelines: {hex8_2p: {state: trained}}}}
`), 0o644))
	env := func(string) string { return "" }

	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"fixture", good}, env, nil, &out, &errOut))
	assert.Contains(t, out.String(), "ok   "+good)

	out.Reset()
	err := run(context.Background(), []string{"fixture", good, bad}, env, nil, &out, &errOut)
	assert.True(t, errors.Is(err, errFailed), "an unmet expectation exits 1: %v", err)
	assert.Contains(t, out.String(), `projections.pipelines.hex8_2p.state: expected "trained", found "training"`)
	assert.Contains(t, out.String(), "1 of 2 fixtures failed")

	out.Reset()
	err = run(context.Background(), []string{"fixture", filepath.Join(dir, "missing.yaml")}, env, nil, &out, &errOut)
	assert.True(t, errors.Is(err, errFailed))
	assert.Contains(t, out.String(), "FAIL")

	assert.Error(t, run(context.Background(), []string{"nosuch"}, env, nil, &out, &errOut))
}

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestSecondInterruptKills runs main in a child process (this test binary)
// that imports from a stdin kept open and quiet: blocked in a read, it
// cannot see the first interrupt, and must die at the second.
func TestSecondInterruptKills(t *testing.T) {
	if args := os.Getenv("REPLAY_TEST_MAIN"); args != "" {
		os.Args = append([]string{"replay"}, strings.Fields(args)...)
		main()
		return
	}
	dir := filepath.Join(t.TempDir(), "j")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInterruptKills$")
	cmd.Env = append(os.Environ(), "REPLAY_TEST_MAIN=import --into "+dir+" -")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	// the import has opened its journal (main set up its signals before)
	// and waits on stdin
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the child never opened its journal")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-exited:
		t.Fatalf("the first interrupt is the command's to handle, yet the child exited: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		ws, ok := ee.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGINT, "killed by the second interrupt: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the second interrupt did not kill the child")
	}
}

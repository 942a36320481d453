package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPythonClient runs the Python client's tests (clients/python, standard
// library only) against the real daemon binary, with a token. python3 is
// required: CI installs it (.ci/run).
func TestPythonClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	py, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed to test clients/python (apt-get install python3)")
	p := startBinary(t, filepath.Join(t.TempDir(), "data"), "--token", "py-s3cret", "--policies", "none")
	defer func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.wait(t)
	}()
	root, err := filepath.Abs("../../clients/python")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-m", "unittest", "discover", "-v", "-s", "tests")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "RINGRIFT_URL="+p.base, "RINGRIFT_TOKEN=py-s3cret", "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	t.Logf("python3 -m unittest:\n%s", out)
	require.NoError(t, err, "the Python client's tests failed:\n%s", out)
}

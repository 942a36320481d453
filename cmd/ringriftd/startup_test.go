package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPortTakenLeavesNoDirectory: the listener is bound before anything is
// created, so a daemon whose port is taken leaves no empty journal behind.
func TestPortTakenLeavesNoDirectory(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "fresh")
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"--data-dir", dir, "--listen", ln.Addr().String()}, noEnv, &bytes.Buffer{}, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen on "+ln.Addr().String())
	_, statErr := os.Stat(dir)
	assert.True(t, os.IsNotExist(statErr), "no data directory was created: %v", statErr)
}

// runLogged runs serve with cfg until ready, lets f post, then stops it and
// returns the logs.
func runLogged(t *testing.T, cfg Config, f func(base string)) string {
	t.Helper()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger("info", &logs), func(a string) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		_, port, _ := net.SplitHostPort(a)
		base = "http://127.0.0.1:" + port
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	waitReady(t, base)
	if f != nil {
		f(base)
	}
	cancel()
	require.NoError(t, <-done)
	return logs.String()
}

// TestInsecureWarnsAndShutdownSaysLastSeq: --insecure off loopback starts
// with a warning; the last log line names the last seq.
func TestInsecureWarnsAndShutdownSaysLastSeq(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.DataDir, cfg.Listen, cfg.Insecure, cfg.Policies = filepath.Join(t.TempDir(), "data"), "0.0.0.0:0", true, 0
	require.NoError(t, cfg.Validate())
	logs := runLogged(t, cfg, func(base string) {
		code, _ := post(t, base+"/v1/events", "application/json", `[{"type":"new_games","config_key":"hex8_2p"},{"type":"new_games","config_key":"hex8_3p"}]`)
		require.Equal(t, 200, code)
	})
	assert.Contains(t, logs, "level=WARN msg=\"listening off loopback without a token (--insecure)")
	assert.Contains(t, logs, `msg="ringriftd stopped" last_seq=2`)

	cfg.Listen = "127.0.0.1:0"
	logs = runLogged(t, cfg, nil)
	assert.NotContains(t, logs, "without a token", "loopback needs no warning")
}

// TestSecondDaemonNamesTheHolder: a second daemon on a held data directory
// says another process holds the journal, with its pid.
func TestSecondDaemonNamesTheHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := filepath.Join(t.TempDir(), "data")
	first := startBinary(t, data)
	defer func() {
		_ = first.cmd.Process.Signal(syscall.SIGTERM)
		_ = first.wait(t)
	}()
	bin, err := buildBinary()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--data-dir", data, "--listen", "127.0.0.1:0").CombinedOutput()
	require.Error(t, err, "the second daemon must not start:\n%s", out)
	assert.Contains(t, string(out), fmt.Sprintf("another process (pid %d) holds the journal in %s", first.cmd.Process.Pid, data))
	assert.NotContains(t, string(out), "resource temporarily unavailable")

	// in cluster mode too, and before its embedded server writes its store
	// into the held directory
	out, err = exec.CommandContext(ctx, bin, "--data-dir", data, "--listen", "127.0.0.1:0", "--cluster", "n1", "--replicas", "1").CombinedOutput()
	require.Error(t, err, "the second daemon must not start:\n%s", out)
	assert.Contains(t, string(out), fmt.Sprintf("another process (pid %d) holds the journal in %s", first.cmd.Process.Pid, data))
	assert.NoDirExists(t, filepath.Join(data, "nats"), "nothing written into the held directory")
}

// TestThresholdsChangeRefolds: the engine checkpoint records its thresholds;
// a restart with others refolds the journal from seq 1 (never a mix), and
// the next restart with the same ones starts from the checkpoint again.
func TestThresholdsChangeRefolds(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.DataDir, cfg.Listen, cfg.Policies = filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", 0
	logs := runLogged(t, cfg, func(base string) {
		code, body := post(t, base+"/v1/events", "application/json", `[{"type":"host_online","node_id":"gpu-1"},
			{"type":"host_online","node_id":"gpu-2"},{"type":"node_unhealthy","node_id":"gpu-1"}]`)
		require.Equal(t, 200, code, "%v", body)
	})
	assert.Contains(t, logs, `msg="caught up" checkpoint_seq=0 folded=0`)

	cfg.Thresholds.ClusterDegraded, cfg.Thresholds.ClusterCritical = 90, 100
	var health []byte
	logs = runLogged(t, cfg, func(base string) { _, health = get(t, base+"/v1/health") })
	assert.Contains(t, logs, "the thresholds changed since the engine checkpoint; refolding")
	assert.Contains(t, logs, `msg="caught up" checkpoint_seq=0 folded=3`, "refolded from seq 1")
	assert.Contains(t, string(health), `"cluster":"healthy"`, "judged with the new thresholds")

	logs = runLogged(t, cfg, nil)
	assert.NotContains(t, logs, "thresholds changed")
	assert.Contains(t, logs, `msg="caught up" checkpoint_seq=3 folded=0`, "the shutdown checkpoint has the new thresholds")
}

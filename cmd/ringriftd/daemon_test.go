package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// testDaemon runs serve in-process on a free loopback port and returns its
// base URL; the daemon stops (gracefully) at the end of the test.
func testDaemon(t *testing.T, mutate func(*Config), hs ...Handler) (string, *Config) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	return testDaemonAt(t, func(c *Config) {
		c.DataDir = dir
		if mutate != nil {
			mutate(c)
		}
	}, hs...)
}

// testDaemonAt is testDaemon with the data directory set by mutate.
func testDaemonAt(t *testing.T, mutate func(*Config), hs ...Handler) (string, *Config) {
	t.Helper()
	cfg := defaultConfig(t)
	cfg.Listen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- serve(ctx, cfg, log, func(a string) { addr <- a }, hs...) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done, "graceful shutdown")
	})
	waitReady(t, base)
	return base, &cfg
}

// waitReady waits until /readyz answers 200: a start catches up with its
// journal first, which a loaded machine (-race) may take seconds to do.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("never ready")
}

// defaultConfig is the configuration of `ringriftd` with no flags.
func defaultConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), cfg, "no flag, no environment: DefaultConfig")
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func post(t *testing.T, url, contentType, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func get(t *testing.T, url string, header ...string) (int, []byte) {
	t.Helper()
	resp, b := request(t, "GET", url, header...)
	return resp.StatusCode, b
}

func TestDefaults(t *testing.T) {
	cfg := defaultConfig(t)
	assert.Equal(t, "./ringrift-data", cfg.DataDir)
	assert.Equal(t, "127.0.0.1:8765", cfg.Listen)
	assert.Equal(t, flows.AllPolicies, cfg.Policies)
	assert.Equal(t, flows.Strict, cfg.Enforcement)
	assert.Equal(t, int64(16<<20), cfg.MaxBody)
	assert.Equal(t, 10_000, cfg.MaxBatch)
}

func TestConfigErrorsNameTheFlag(t *testing.T) {
	cases := map[string][]string{
		"--listen":       {"--listen", "0.0.0.0:8765"},
		"--policies":     {"--policies", "threshold,magic"},
		"--enforce":      {"--enforce", "loose"},
		"--max-batch":    {"--max-batch", "20000"},
		"--log-level":    {"--log-level", "chatty"},
		"unexpected":     {"serve"},
		"-max-body":      {"--max-body", "ten"},
		"RINGRIFT_DEDUP": nil,
	}
	for want, args := range cases {
		env := func(string) string { return "" }
		if args == nil {
			env = func(k string) string {
				if k == "RINGRIFT_DEDUP" {
					return "soon"
				}
				return ""
			}
		}
		var out bytes.Buffer
		err := run(context.Background(), args, env, &out, &out)
		require.Error(t, err, want)
		assert.ErrorIs(t, err, errConfig, want)
		assert.Contains(t, err.Error(), want)
	}
	// thresholds from a YAML file: known keys override, unknown keys and
	// bad values are refused naming them
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, fmt.Sprintf("t%d.yaml", len(body)))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	th, err := loadThresholds(file("elo_gain: 40\nadvance_cooldown: 30m\n"))
	require.NoError(t, err)
	assert.Equal(t, 40.0, th.EloGain)
	assert.Equal(t, 30*time.Minute, th.AdvanceCooldown)
	assert.Equal(t, 0.65, th.ChampionWinRate, "the rest keeps its default")
	_, err = loadThresholds(file("elo_gian: 40\n"))
	assert.ErrorContains(t, err, "elo_gian")
	_, err = loadThresholds(file("max_cascade_depth: 0\n"))
	assert.ErrorContains(t, err, "max_cascade_depth")

	// 0.0.0.0 is refused without a token, accepted with one or --insecure
	cfg := defaultConfig(t)
	cfg.Listen = "0.0.0.0:8765"
	require.ErrorContains(t, cfg.Validate(), "--token")
	cfg.Token = "s3cret"
	require.NoError(t, cfg.Validate())
	cfg.Token, cfg.Insecure = "", true
	require.NoError(t, cfg.Validate())
}

func TestHelpListsFlagsWithEnvTwins(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, s := range []string{"-data-dir", "RINGRIFT_DATA_DIR", "-listen", "RINGRIFT_LISTEN", "-token", "RINGRIFT_TOKEN", "127.0.0.1:8765"} {
		assert.Contains(t, out.String(), s)
	}

	// the token's environment twin works but is never printed as a default
	env := func(k string) string {
		if k == "RINGRIFT_TOKEN" {
			return "hunter2-secret"
		}
		return ""
	}
	for _, args := range [][]string{{"--help"}, {"simulate", "--help"}} {
		out.Reset()
		_ = run(context.Background(), args, env, &out, &out)
		assert.NotContains(t, out.String(), "hunter2", "%v", args)
	}
	cfg, err := parseConfig(nil, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "hunter2-secret", cfg.Token)
}

func TestAppendReadAndProjections(t *testing.T) {
	base, _ := testDaemon(t, nil)
	code, out := post(t, base+"/v1/events", "application/x-ndjson", strings.Join([]string{
		`{"type":"new_games","config_key":"hex8_2p","payload":{"games":60}}`,
		`{"type":"sync_completed"}`,
	}, "\n"))
	require.Equal(t, 200, code, "%v", out)
	results := out["results"].([]any)
	require.Len(t, results, 2)
	assert.Equal(t, "appended", results[0].(map[string]any)["status"])
	decisions := out["decisions"].([]any)
	require.Len(t, decisions, 1, "the threshold policy decided: %v", out)
	assert.Equal(t, "training_threshold", decisions[0].(map[string]any)["type"])
	assert.Equal(t, "hex8_2p", decisions[0].(map[string]any)["config_key"], "a decision names its config")

	code, body := get(t, base+"/v1/events?config=hex8_2p&limit=10")
	require.Equal(t, 200, code)
	var page struct {
		Events    []map[string]any `json:"events"`
		NextAfter uint64           `json:"next_after"`
	}
	require.NoError(t, json.Unmarshal(body, &page))
	require.Len(t, page.Events, 2, "new_games and the decision")
	assert.Equal(t, uint64(3), page.NextAfter)

	code, body = get(t, base+"/v1/events/3")
	require.Equal(t, 200, code)
	assert.Contains(t, string(body), `"source":"ringriftd/threshold"`)
	code, _ = get(t, base+"/v1/events/99")
	assert.Equal(t, 404, code)

	code, body = get(t, base+"/v1/pipelines/hex8_2p")
	require.Equal(t, 200, code)
	assert.Contains(t, string(body), `"state":"training_ready"`)
	code, body = get(t, base+"/v1/elo/hex8_2")
	require.Equal(t, 200, code, "config keys are normalised")
	assert.Contains(t, string(body), `"trend":"unknown"`)
	for _, p := range []string{"/v1/pipelines", "/v1/elo", "/v1/curriculum", "/v1/health", "/v1/catalog", "/v1/subscriptions", "/v1/rejected", "/metrics", "/healthz"} {
		code, _ := get(t, base+p)
		assert.Equal(t, 200, code, p)
	}
	_, body = get(t, base+"/metrics")
	for _, m := range []string{`ringriftd_events_total{status="appended"} 2`, `ringriftd_decisions_total{policy="threshold"} 1`,
		`ringriftd_journaled_total{type="training_threshold"} 1`, "ringriftd_fsync_seconds_bucket", "ringriftd_append_seconds_count 1",
		"ringriftd_group_commit_events_bucket", `ringriftd_http_requests_total{code="200",route="append"} 1`} {
		assert.Contains(t, string(body), m)
	}
	code, body = get(t, base+"/v1/flows/pipeline")
	require.Equal(t, 200, code)
	assert.True(t, strings.HasPrefix(string(body), "stateDiagram"), "mermaid: %.40s", body)
}

func TestAppendRefusals(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.MaxBody, c.MaxPayload = 4096, 2048 })
	// atomic batch: one bad member refuses all, 4xx with its error
	code, out := post(t, base+"/v1/events", "application/json",
		`[{"type":"new_games","config_key":"hex8_2p"},{"type":"no_such_type"}]`)
	assert.Equal(t, 400, code)
	errObj := out["error"].(map[string]any)
	assert.Equal(t, "unknown_event_type", errObj["code"])
	assert.EqualValues(t, 1, errObj["index"])
	_, body := get(t, base+"/v1/events")
	assert.Contains(t, string(body), `"events":[]`, "nothing landed")

	// per event: the good ones land
	code, out = post(t, base+"/v1/events?atomic=false", "application/json",
		`[{"type":"new_games","config_key":"hex8_2p"},{"type":"no_such_type"},{"type":"training_completed","config_key":"hex8_2p","payload":{"model_path":"m"}}]`)
	require.Equal(t, 200, code)
	rs := out["results"].([]any)
	assert.Equal(t, "appended", rs[0].(map[string]any)["status"])
	assert.Equal(t, "refused", rs[1].(map[string]any)["status"])
	assert.Equal(t, "flow_violation", rs[2].(map[string]any)["error"].(map[string]any)["code"])

	// an atomic batch the machines refuse lands nothing and counts nothing
	code, out = post(t, base+"/v1/events", "application/json",
		`[{"type":"selfplay_complete","config_key":"hex8_2p"},{"type":"model_promoted","config_key":"hex8_2p","payload":{"model_path":"m"}}]`)
	assert.Equal(t, 409, code, "%v", out)
	assert.EqualValues(t, 1, out["error"].(map[string]any)["index"])
	_, body = get(t, base+"/metrics")
	assert.NotContains(t, string(body), `ringriftd_journaled_total{type="selfplay_complete"}`, "a rolled-back event is not counted")

	// a flow violation alone: 409
	code, out = post(t, base+"/v1/events", "application/json", `{"type":"model_promoted","config_key":"hex8_2p","payload":{"model_path":"m"}}`)
	assert.Equal(t, 409, code, "%v", out)

	// oversize body: 413
	code, out = post(t, base+"/v1/events", "application/json", `{"type":"new_games","config_key":"hex8_2p","payload":{"x":"`+strings.Repeat("a", 5000)+`"}}`)
	assert.Equal(t, 413, code, "%v", out)

	// every refusal is in the rejected log
	_, body = get(t, base+"/v1/rejected")
	for _, c := range []string{"unknown_event_type", "flow_violation", "batch_too_large"} {
		assert.Contains(t, string(body), c)
	}
	// a bad query parameter names itself
	code, body = get(t, base+"/v1/events?type=TRAINING_COMPLETE")
	assert.Equal(t, 400, code)
	assert.Contains(t, string(body), "training_completed")
}

// TestStuckView: the live pipelines view marks a state that outlived its
// limit, by the clock; the folded projection (replay rebuild) does not.
func TestStuckView(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	old := time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339)
	code, out := post(t, base+"/v1/events", "application/json", `{"type":"training_started","config_key":"hex8_2p","time":"`+old+`"}`)
	require.Equal(t, 200, code, "%v", out)
	code, out = post(t, base+"/v1/events", "application/json", `{"type":"training_started","config_key":"square8_2p"}`)
	require.Equal(t, 200, code, "%v", out)
	_, body := get(t, base+"/v1/pipelines")
	var m map[string]map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	assert.Equal(t, true, m["hex8_2p"]["stuck"], "training for 25 h > 24 h")
	assert.Regexp(t, `^25h0m[0-9]+s$`, m["hex8_2p"]["stuck_for"])
	assert.NotContains(t, m["square8_2p"], "stuck", "training for a moment")
	assert.NotContains(t, m["hex8_3p"], "stuck", "collecting has no limit")
	_, body = get(t, base+"/v1/pipelines/hex8_2p")
	assert.Contains(t, string(body), `"stuck":true`)
}

func TestToken(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Token = "s3cret" })
	ev := `{"type":"new_games","config_key":"hex8_2p"}`
	code, out := post(t, base+"/v1/events", "application/json", ev)
	assert.Equal(t, 401, code, "no token")
	assert.Equal(t, "unauthorized", out["error"].(map[string]any)["code"])
	code, _ = post(t, base+"/v1/events", "application/json", ev, "Authorization", "Bearer wrong")
	assert.Equal(t, 401, code, "wrong token")
	code, _ = post(t, base+"/v1/events", "application/json", ev, "Authorization", "Bearer s3cret")
	assert.Equal(t, 200, code)
	code, _ = get(t, base+"/v1/pipelines")
	assert.Equal(t, 401, code, "reads need it too without --public-read")
	code, _ = get(t, base+"/healthz")
	assert.Equal(t, 200, code, "healthz stays open")
	code, _ = get(t, base+"/readyz")
	assert.Equal(t, 200, code, "readyz stays open")
}

func TestStreamCatchUpResumeAndLive(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Heartbeat = 50 * time.Millisecond; c.Policies = 0 })
	for i := 0; i < 5; i++ {
		code, _ := post(t, base+"/v1/events", "application/json", fmt.Sprintf(`{"type":"new_games","config_key":"hex8_2p","payload":{"games":%d}}`, i))
		require.Equal(t, 200, code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/stream?type=new_games", nil)
	req.Header.Set("Last-Event-ID", "2")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	heartbeat, posted := false, false
	for sc.Scan() && len(ids) < 4 {
		line := sc.Text()
		if strings.HasPrefix(line, "id: ") {
			ids = append(ids, strings.TrimPrefix(line, "id: "))
		}
		heartbeat = heartbeat || strings.HasPrefix(line, ":")
		// The live event, once the catch-up was read and the idle stream
		// sent a heartbeat (a fixed delay may run out on a loaded machine
		// before either, and leave no idle time for the heartbeat).
		if !posted && len(ids) == 3 && heartbeat {
			posted = true
			go post(t, base+"/v1/events", "application/json", `{"type":"new_games","config_key":"hex8_2p","payload":{"games":9}}`)
		}
	}
	assert.Equal(t, []string{"3", "4", "5", "6"}, ids, "resumed after Last-Event-ID, then live")
	assert.True(t, heartbeat, "a heartbeat comment while idle")
}

// recorder is an in-process handler for the tests.
type recorder struct {
	name  string
	types []string
	mu    sync.Mutex
	seen  []uint64
	fail  func(e *event.Event) error
}

func (r *recorder) Name() string    { return r.name }
func (r *recorder) Types() []string { return r.types }
func (r *recorder) Handle(_ context.Context, e *event.Event) error {
	if r.fail != nil {
		if err := r.fail(e); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, e.Seq)
	return nil
}

// TestHandlers: in-process handlers are subscriptions: one registered after
// events were journaled sees them all; a failing one is dead-lettered as
// handler_failed without stopping the other; both are listed.
func TestHandlers(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mutate := func(c *Config) { c.DataDir = data; c.Policies = 0 }
	t.Run("emitters first", func(t *testing.T) {
		base, _ := testDaemonAt(t, mutate)
		for i := 0; i < 3; i++ {
			code, _ := post(t, base+"/v1/events", "application/json", `{"type":"new_games","config_key":"hex8_2p"}`)
			require.Equal(t, 200, code)
		}
	})
	late := &recorder{name: "late", types: []string{"NEW_GAMES_AVAILABLE"}}
	broken := &recorder{name: "broken", fail: func(e *event.Event) error {
		if e.Seq == 2 {
			return errors.New("disk full")
		}
		return nil
	}}
	base, _ := testDaemonAt(t, mutate, late, broken)
	require.Eventually(t, func() bool {
		late.mu.Lock()
		defer late.mu.Unlock()
		return len(late.seen) == 3
	}, 30*time.Second, 20*time.Millisecond, "the late handler catches up")
	require.Eventually(t, func() bool {
		_, body := get(t, base+"/v1/events?type=handler_failed")
		return strings.Contains(string(body), `"handler":"broken"`)
	}, 30*time.Second, 50*time.Millisecond, "the broken handler is dead-lettered")
	_, body := get(t, base+"/v1/subscriptions")
	assert.Contains(t, string(body), `"name":"late"`)
	assert.Contains(t, string(body), `"types":["new_games"]`)
	assert.Contains(t, string(body), `"name":"broken"`)
	assert.Contains(t, string(body), `"name":"checkpointer"`, "the daemon's own checkpointer is a subscription")
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTrace: --trace logs every append (type, seq, source) and every
// delivery (handler, outcome); the token never appears in the logs.
func TestTrace(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.DataDir, cfg.Listen, cfg.Trace, cfg.Token = filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", true, "tr4ce-s3cret"
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	h := &recorder{name: "watcher"}
	go func() {
		done <- serve(ctx, cfg, newLogger("info", &logs), func(a string) { addr <- a }, h)
	}()
	base := "http://" + <-addr
	waitReady(t, base)
	code, _ := post(t, base+"/v1/events", "application/json", `{"type":"new_games","config_key":"hex8_2p","source":"SelfplayRunner"}`,
		"Authorization", "Bearer tr4ce-s3cret")
	require.Equal(t, 200, code)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "msg=deliver handler=watcher") }, 30*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	out := logs.String()
	assert.Contains(t, out, "msg=append type=new_games seq=1 source=SelfplayRunner")
	assert.Contains(t, out, "outcome=ok")
	assert.NotContains(t, out, "tr4ce-s3cret", "the token is never logged")
}

// TestDedupWindow: journal.md names the flag --dedup-window (env
// RINGRIFT_DEDUP_WINDOW); the old --dedup still works, deprecated.
func TestDedupWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want time.Duration
	}{
		{"default off", nil, nil, 0},
		{"flag", []string{"--dedup-window", "30s"}, nil, 30 * time.Second},
		{"env", nil, map[string]string{"RINGRIFT_DEDUP_WINDOW": "1m"}, time.Minute},
		{"deprecated flag", []string{"--dedup", "45s"}, nil, 45 * time.Second},
		{"deprecated env", nil, map[string]string{"RINGRIFT_DEDUP": "2m"}, 2 * time.Minute},
		{"the new env wins over the old", nil, map[string]string{"RINGRIFT_DEDUP": "2m", "RINGRIFT_DEDUP_WINDOW": "3m"}, 3 * time.Minute},
		{"a flag wins over the env", []string{"--dedup-window", "5s"}, map[string]string{"RINGRIFT_DEDUP_WINDOW": "3m"}, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg.Dedup)
		})
	}
	cfg := DefaultConfig()
	cfg.Dedup = -time.Second
	assert.ErrorContains(t, cfg.Validate(), "--dedup-window")
	var help bytes.Buffer
	_ = run(context.Background(), []string{"--help"}, func(string) string { return "" }, &help, io.Discard)
	assert.Contains(t, help.String(), "RINGRIFT_DEDUP_WINDOW")
	assert.Contains(t, help.String(), "deprecated")
}

// TestHelpAndVersionGoToStdout: help asked for goes to stdout (so `| less`
// shows it) and exits 0; --version prints the module version and revision.
func TestHelpAndVersionGoToStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"simulate", "--help"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
		require.ErrorIs(t, err, flag.ErrHelp, "main exits 0 on it: %v", args)
		assert.Contains(t, stdout.String(), "usage: ringriftd", "%v", args)
		assert.Empty(t, stderr.String(), "%v", args)
	}
	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--version"}, func(string) string { return "" }, &stdout, io.Discard))
	assert.Regexp(t, `^ringriftd \S+ \(rev \S+?(, modified)?\)\n$`, stdout.String())
}

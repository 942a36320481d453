package main

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaxFuture: the daemon refuses a time more than --max-future ahead of
// its clock, with a hint naming the likely cause; 0 turns the check off.
// The years 1970–9999 are refused whatever --max-future says.
func TestMaxFuture(t *testing.T) {
	assert.Equal(t, time.Hour, defaultConfig(t).MaxFuture)

	base, _ := testDaemon(t, nil)
	ahead := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	code, out := post(t, base+"/v1/events", "application/json", `{"type": "sync_started", "time": "`+ahead+`"}`)
	require.Equal(t, 400, code, "%v", out)
	e := out["error"].(map[string]any)
	assert.Equal(t, "invalid_field", e["code"])
	assert.Equal(t, "time", e["field"])
	assert.Contains(t, e["hint"], "milliseconds sent as timestamp seconds")

	soon := time.Now().Add(30 * time.Minute).Unix()
	code, out = post(t, base+"/v1/events", "application/json", fmt.Sprintf(`{"event_type": "DATA_SYNC_STARTED", "timestamp": %d}`, soon))
	assert.Equal(t, 200, code, "within --max-future: %v", out)

	// time.time()*1000 from a Python worker: the year range refuses it first
	code, out = post(t, base+"/v1/events", "application/json", fmt.Sprintf(`{"event_type": "DATA_SYNC_STARTED", "timestamp": %d}`, time.Now().UnixMilli()))
	require.Equal(t, 400, code, "%v", out)
	e = out["error"].(map[string]any)
	assert.Equal(t, "timestamp", e["field"])
	assert.Contains(t, e["hint"], "looks like milliseconds")

	_, body := get(t, base+"/v1/rejected")
	assert.Contains(t, string(body), "ahead of ringriftd's clock", "the refusal is in the rejected log")

	off, _ := testDaemon(t, func(c *Config) { c.MaxFuture = 0 })
	code, out = post(t, off+"/v1/events", "application/json", `{"type": "sync_started", "time": "9999-12-31T00:00:00Z"}`)
	assert.Equal(t, 200, code, "--max-future 0: %v", out)
	code, _ = post(t, off+"/v1/events", "application/json", `{"type": "sync_started", "time": "+10000-01-01T00:00:00Z"}`)
	assert.Equal(t, 400, code, "the year range holds with --max-future 0")
}

func TestMaxFutureFlag(t *testing.T) {
	env := func(k string) string {
		if k == "RINGRIFT_MAX_FUTURE" {
			return "10m"
		}
		return ""
	}
	assert.Equal(t, time.Hour, DefaultConfig().MaxFuture, "default")
	cfg, err := parseConfig(nil, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 10*time.Minute, cfg.MaxFuture, "env twin")
	cfg, err = parseConfig([]string{"--max-future", "0"}, env, io.Discard)
	require.NoError(t, err)
	assert.Zero(t, cfg.MaxFuture, "the flag wins over its twin")
	cfg = DefaultConfig()
	cfg.MaxFuture = -time.Second
	assert.ErrorContains(t, cfg.Validate(), "--max-future")
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

type subscriptionsView struct {
	Subscriptions []struct {
		Name            string `json:"name"`
		DeadLettered    uint64 `json:"dead_lettered"`
		OpenDeadLetters []struct {
			Seq      uint64 `json:"seq"`
			ID       string `json:"id"`
			Handler  string `json:"handler"`
			EventSeq uint64 `json:"event_seq"`
			Error    string `json:"error"`
		} `json:"open_dead_letters"`
	} `json:"subscriptions"`
}

func openDeadLetters(t *testing.T, base, name string) []uint64 {
	t.Helper()
	code, body := get(t, base+"/v1/subscriptions")
	require.Equal(t, 200, code, "%s", body)
	var v subscriptionsView
	require.NoError(t, json.Unmarshal(body, &v))
	var out []uint64
	for _, s := range v.Subscriptions {
		if s.Name != name {
			continue
		}
		for _, dl := range s.OpenDeadLetters {
			out = append(out, dl.Seq)
		}
	}
	return out
}

// TestRedeliverEndpoint: POST /v1/subscriptions/{name}/redeliver runs the
// handler again on a dead letter's event; a failure answers the error and
// leaves the letter open; a success journals handler_redelivered naming the
// dead letter, and /v1/subscriptions stops listing it.
func TestRedeliverEndpoint(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	flaky := &recorder{name: "flaky", types: []string{"new_games"}, fail: func(e *event.Event) error {
		if e.Seq == 2 && broken.Load() {
			return errors.New("archive offline")
		}
		return nil
	}}
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 }, flaky)
	for i := 0; i < 2; i++ {
		code, _ := post(t, base+"/v1/events", "application/json", `{"type":"new_games","config_key":"hex8_2p"}`)
		require.Equal(t, 200, code)
	}
	var open []uint64
	require.Eventually(t, func() bool {
		open = openDeadLetters(t, base, "flaky")
		return len(open) == 1
	}, 30*time.Second, 50*time.Millisecond, "the dead letter is listed")
	dl := open[0]
	url := base + "/v1/subscriptions/flaky/redeliver"
	_, metrics := get(t, base+"/metrics")
	assert.Contains(t, string(metrics), `ringriftd_subscription_dead_letters_open{subscription="flaky"} 1`)

	code, body := post(t, fmt.Sprintf("%s?seq=%d", url, dl), "application/json", "")
	assert.Equal(t, 500, code)
	assert.Equal(t, "redelivery_failed", body["error"].(map[string]any)["code"])
	assert.Contains(t, body["error"].(map[string]any)["message"], "archive offline")
	assert.Equal(t, []uint64{dl}, openDeadLetters(t, base, "flaky"), "a failed redelivery leaves it open")

	code, body = post(t, url, "application/json", fmt.Sprintf(`{"seq":%d}`, dl))
	assert.Equal(t, 400, code, "a body is refused, never read as 'all': %v", body)
	code, _ = post(t, url+"?seq=1", "application/json", "")
	assert.Equal(t, 404, code, "seq 1 is no dead letter")
	code, _ = post(t, base+"/v1/subscriptions/nobody/redeliver", "application/json", "")
	assert.Equal(t, 404, code)

	broken.Store(false)
	code, body = post(t, url, "application/json", "") // every open one
	require.Equal(t, 200, code, "%v", body)
	done := body["redelivered"].([]any)
	require.Len(t, done, 1)
	r := done[0].(map[string]any)
	assert.Equal(t, float64(dl), r["dead_letter"].(map[string]any)["seq"])
	assert.Equal(t, float64(2), r["dead_letter"].(map[string]any)["event_seq"])
	seq := uint64(r["seq"].(float64))

	code, raw := get(t, fmt.Sprintf("%s/v1/events/%d", base, seq))
	require.Equal(t, 200, code)
	var e struct {
		Type        string         `json:"type"`
		CausationID string         `json:"causation_id"`
		Payload     map[string]any `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(raw, &e))
	assert.Equal(t, "handler_redelivered", e.Type)
	assert.Equal(t, r["dead_letter"].(map[string]any)["id"], e.CausationID)
	assert.Equal(t, map[string]any{"handler": "flaky", "event_seq": float64(2), "attempts": float64(6)}, e.Payload)
	assert.Empty(t, openDeadLetters(t, base, "flaky"))
	_, metrics = get(t, base+"/metrics")
	assert.Contains(t, string(metrics), `ringriftd_subscription_dead_letters_open{subscription="flaky"} 0`)
	flaky.mu.Lock()
	assert.Contains(t, flaky.seen, uint64(2), "the handler ran on the original event")
	flaky.mu.Unlock()

	code, body = post(t, fmt.Sprintf("%s?seq=%d", url, dl), "application/json", "")
	assert.Equal(t, 409, code)
	assert.Equal(t, "already_redelivered", body["error"].(map[string]any)["code"])
}

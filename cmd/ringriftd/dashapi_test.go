package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/replay"
)

// postAll posts NDJSON lines (atomic=false: bad ones are refused, the rest
// land) and requires a 200.
func postAll(t *testing.T, base string, lines ...string) {
	t.Helper()
	code, out := post(t, base+"/v1/events?atomic=false", "application/x-ndjson", strings.Join(lines, "\n"))
	require.Equal(t, 200, code, "%v", out)
}

// TestEloHistoryEndpoint: GET /v1/elo/{config}/history has the ratings the
// evaluations set, the champion line and the same champion and trend as
// GET /v1/elo/{config}; a bad or unknown config is a clear error.
func TestEloHistoryEndpoint(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var lines []string
	for i := 0; i < 4; i++ {
		lines = append(lines, fmt.Sprintf(`{"type":"elo_updated","config_key":"hex8_2p","time":%q,"payload":{"participant":"m%d","elo":%d}}`,
			t0.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), i, 1500+10*i))
	}
	lines = append(lines, `{"type":"promotion_rolled_back","config_key":"hex8_2p","payload":{"to_model":"m3"}}`)
	postAll(t, base, lines...)

	code, b := get(t, base+"/v1/elo/hex8_2p/history")
	require.Equal(t, 200, code, "%s", b)
	var h struct {
		Config   string  `json:"config"`
		Champion *string `json:"champion"`
		Trend    string  `json:"trend"`
		Points   []struct {
			Seq   uint64  `json:"seq"`
			Model string  `json:"model"`
			Elo   float64 `json:"elo"`
			Time  string  `json:"time"`
		} `json:"history"`
		Champions []struct {
			Model string  `json:"model"`
			Elo   float64 `json:"elo"`
		} `json:"champions"`
	}
	require.NoError(t, json.Unmarshal(b, &h))
	assert.Equal(t, "hex8_2p", h.Config)
	require.Len(t, h.Points, 4, "four ratings set")
	for i := 0; i < 4; i++ {
		assert.Equal(t, uint64(i+1), h.Points[i].Seq)
		assert.Equal(t, fmt.Sprintf("m%d", i), h.Points[i].Model)
		assert.Equal(t, float64(1500+10*i), h.Points[i].Elo)
	}
	assert.Equal(t, "2026-11-22T11:00:00Z", h.Points[1].Time)
	require.Len(t, h.Champions, 1)
	assert.Equal(t, "m3", h.Champions[0].Model)
	assert.Equal(t, 1530.0, h.Champions[0].Elo)

	_, eb := get(t, base+"/v1/elo/hex8_2p")
	var e struct {
		Champion *string `json:"champion"`
		Trend    string  `json:"trend"`
	}
	require.NoError(t, json.Unmarshal(eb, &e))
	assert.Equal(t, e.Champion, h.Champion)
	assert.Equal(t, e.Trend, h.Trend)

	code, b = get(t, base+"/v1/elo/nonsense/history")
	assert.Equal(t, 400, code)
	assert.Contains(t, string(b), `"field":"config"`)
}

// TestLostEndpoint: GET /v1/lost is the report `replay lost --json` gives
// over the same journal (judged at the same now, with the daemon's
// subscriptions as consumers): same findings in the same order, same
// counts.
func TestLostEndpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base, _ := testDaemonAt(t, func(c *Config) { c.DataDir = dir; c.Policies = 0 })
	postAll(t, base,
		`{"type":"training_started","config_key":"hex8_2p","time":"2026-11-22T08:00:00Z","payload":{}}`,
		`{"type":"new_gamez","config_key":"hex8_2p"}`,
		`{"type":"new_games","config_key":"square8_2p","time":"2026-11-22T10:00:00Z","payload":{"games":3}}`,
		`{"type":"new_games","config_key":"hex8_2p","time":"2026-11-23T10:00:00Z","payload":{"games":1}}`,
	)
	// Both reports judge the subscriptions' cursors: compare them once the
	// handlers (the checkpointer) have handled every event, live and as
	// stored, else a lagging_subscription in one of them is a race.
	head := durableSeq(t, base)
	waitFor(t, 30*time.Second, "every subscription's cursor at the head", func() bool {
		_, sb := get(t, base+"/v1/subscriptions")
		var subs struct {
			Subscriptions []struct {
				Cursor uint64 `json:"cursor"`
			} `json:"subscriptions"`
		}
		require.NoError(t, json.Unmarshal(sb, &subs))
		for _, s := range subs.Subscriptions {
			if s.Cursor < head {
				return false
			}
		}
		return true
	})
	code, b := get(t, base+"/v1/lost?now=last")
	require.Equal(t, 200, code, "%s", b)
	var got replay.LostReport
	require.NoError(t, json.Unmarshal(b, &got), "%s", b)

	_, sb := get(t, base+"/v1/subscriptions")
	var subs struct {
		Subscriptions []replay.Consumer `json:"subscriptions"`
	}
	require.NoError(t, json.Unmarshal(sb, &subs))
	// A copy (the daemon holds the journal), once it holds the cursors as
	// the subscriptions stored them after handling the head (the store
	// follows the handling; it is not synced).
	var src *replay.JournalSource
	waitFor(t, 30*time.Second, "the stored cursors at the head in a copy of the journal", func() bool {
		s, err := replay.OpenJournal(context.Background(), dir)
		require.NoError(t, err)
		cs, err := s.Cursors()
		require.NoError(t, err)
		for _, c := range cs {
			if c.Cursor < head {
				require.NoError(t, s.Close())
				return false
			}
		}
		src = s
		return true
	})
	defer src.Close()
	want, err := replay.CollectLost(context.Background(), src, replay.LostOptions{Consumers: subs.Subscriptions})
	require.NoError(t, err)
	assert.Equal(t, want.Findings, got.Findings)
	for k, n := range want.Summary {
		assert.Equal(t, n, got.Summary[k], "summary of %s", k)
	}
	// The daemon reads its subscriptions' live cursors, which the copy of
	// a running journal may not have yet: it always checks them.
	assert.Contains(t, got.Summary, replay.KindLaggingSubscription)
	kinds := map[string]bool{}
	for _, f := range got.Findings {
		kinds[f.Kind] = true
	}
	for _, k := range []string{replay.KindRefused, replay.KindBrokenChain, replay.KindStuck} {
		assert.True(t, kinds[k], "the journal has a %s finding: %s", k, b)
	}

	code, b = get(t, base+"/v1/lost?now=yesterday")
	assert.Equal(t, 400, code)
	assert.Contains(t, string(b), `"field":"now"`)
}

// TestFlowDefinition: the machine as data, with every canonical config
// counted in its pipeline state and every node in its recovery state.
func TestFlowDefinition(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	postAll(t, base,
		`{"type":"training_started","config_key":"hex8_2p","payload":{}}`,
		`{"type":"health_check_failed","node_id":"gpu-1","payload":{}}`,
		`{"type":"health_check_passed","node_id":"gpu-2","payload":{}}`,
	)
	type doc struct {
		Name        string         `json:"name"`
		Initial     string         `json:"initial"`
		States      []string       `json:"states"`
		Counts      map[string]int `json:"counts"`
		Transitions []struct {
			Event string   `json:"event"`
			From  []string `json:"from"`
			To    string   `json:"to"`
		} `json:"transitions"`
	}
	var p doc
	code, b := get(t, base+"/v1/flows/pipeline/definition")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(b, &p))
	assert.Equal(t, "collecting", p.Initial)
	assert.Equal(t, 1, p.Counts["training"])
	assert.Equal(t, 11, p.Counts["collecting"])
	assert.Len(t, p.Counts, len(p.States), "every state has a count")
	assert.NotEmpty(t, p.Transitions)
	for _, tr := range p.Transitions {
		assert.NotContains(t, tr.Event, "/", "events are base names")
	}
	var r doc
	_, b = get(t, base+"/v1/flows/recovery/definition")
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, 1, r.Counts["degraded"])
	assert.Equal(t, 1, r.Counts["healthy"])
	code, _ = get(t, base+"/v1/flows/nope/definition")
	assert.Equal(t, 404, code)
}

// TestPauses: each pause reason with its scope.
func TestPauses(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	code, b := get(t, base+"/v1/pauses")
	require.Equal(t, 200, code)
	assert.JSONEq(t, `{"cluster":[],"configs":{}}`, string(b))
	postAll(t, base,
		`{"type":"training_blocked_by_quality","config_key":"hex8_2p","payload":{}}`,
	)
	_, b = get(t, base+"/v1/pauses")
	assert.JSONEq(t, `{"cluster":[],"configs":{"hex8_2p":["quality"]}}`, string(b))
}

// TestFlowMetrics: /metrics has the configs per state, the stuck ones with
// how long, the nodes per state and readiness.
func TestFlowMetrics(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	started := time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339)
	postAll(t, base,
		fmt.Sprintf(`{"type":"training_started","config_key":"hex8_2p","time":%q,"payload":{}}`, started),
		`{"type":"training_started","config_key":"square8_2p","payload":{}}`,
		`{"type":"health_check_failed","node_id":"gpu-1","payload":{}}`,
	)
	code, b := get(t, base+"/metrics")
	require.Equal(t, 200, code)
	text := string(b)
	assert.Contains(t, text, `ringriftd_pipelines{state="training"} 2`)
	assert.Contains(t, text, `ringriftd_pipelines{state="collecting"} 10`)
	assert.Contains(t, text, `ringriftd_nodes{state="degraded"} 1`)
	assert.Contains(t, text, `ringriftd_ready 1`)
	assert.Regexp(t, `ringriftd_pipeline_stuck_seconds\{config="hex8_2p",state="training"\} 9\d{4}`, text, "25 h in training, limit 24 h")
	assert.NotContains(t, text, `ringriftd_pipeline_stuck_seconds{config="square8_2p"`, "training for a moment")
}

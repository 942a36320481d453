package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/internal/sim"
	"github.com/ringrift/ringriftd/projections"
)

func noEnv(string) string { return "" }

// pythonWorkerEvent is the README's example: an old-bus worker's dict, in
// the compatibility shape, as requests.post(…, json=…) sends it.
const pythonWorkerEvent = `{"event_type": "NEW_GAMES_AVAILABLE", "payload": {"config_key": "hex8_2p", "games_count": 12, "host": "gpu-07"}, "timestamp": 1767225600.25, "source": "SelfplayRunner"}`

// TestSimulate runs the simulator for 2 s against an in-process daemon
// with every policy on, in fast mode (a simulated minute per event), and
// checks that the cluster did what a cluster does: iterations completed
// by the daemon's decisions, nodes recovered, bad events refused and
// logged, re-sent events answered duplicate.
func TestSimulate(t *testing.T) {
	// The simulated clock starts now and runs --step×--rate faster than
	// real time: 13 h ahead by the end, past the default --max-future.
	base, _ := testDaemon(t, func(c *Config) { c.MaxFuture = 0 })

	t.Run("python worker", func(t *testing.T) {
		code, out := post(t, base+"/v1/events", "application/json", pythonWorkerEvent)
		require.Equal(t, 200, code, "%v", out)
		r := out["results"].([]any)[0].(map[string]any)
		require.Equal(t, "appended", r["status"])
		code, body := get(t, base+"/v1/events/"+r["id"].(string))
		require.Equal(t, 200, code)
		var e map[string]any
		require.NoError(t, json.Unmarshal(body, &e))
		assert.Equal(t, "new_games", e["type"])
		assert.Equal(t, "hex8_2p", e["config_key"])
		assert.Equal(t, "gpu-07", e["node_id"])
		assert.Equal(t, "2026-01-01T00:00:00.250Z", e["time"])
		code, body = get(t, base+"/v1/pipelines/hex8_2p")
		require.Equal(t, 200, code)
		assert.Contains(t, string(body), `"games_since_training":12`, "games_count is read as games")
	})

	o, err := parseSimulate([]string{"--url", base, "--rate", "400", "--duration", "2s", "--step", "1m",
		"--batch", "10", "--seed", "7", "--every", "500ms"}, noEnv, io.Discard)
	require.NoError(t, err)
	var out bytes.Buffer
	st, err := sim.Run(context.Background(), o, &out)
	require.NoError(t, err)
	t.Log("\n" + out.String())
	t.Logf("%d events in 2 s: %.0f events/s", st.Sent, float64(st.Sent)/2)

	t.Run("figures", func(t *testing.T) {
		assert.GreaterOrEqual(t, st.Sent, 200, "a few hundred events per second, even under -race")
		assert.Equal(t, st.Sent, st.Appended+st.Duplicates+st.Refused, "every event has an answer")
		assert.Zero(t, st.Errors, "no request failed")
		assert.Positive(t, st.BadRefused, "bad events were sent and refused")
		assert.Zero(t, st.BadAccepted, "no bad event was appended")
		assert.Positive(t, st.Duplicates, "re-sent events were answered duplicate")
		assert.Zero(t, st.UnexpectedDups, "no event sent once was a duplicate")
		assert.Zero(t, st.StepsRefused["flow_violation"], "the simulator follows the daemon's state: %v", st.StepsRefused)
		assert.Positive(t, st.Compat, "some events went in the compatibility shape")
		assert.Contains(t, out.String(), "simulate: done after")
		assert.Contains(t, out.String(), "iterations +", "a progress line")
	})

	t.Run("iterations", func(t *testing.T) {
		_, body := get(t, base+"/v1/pipelines")
		var ps map[string]projections.PipelineView
		require.NoError(t, json.Unmarshal(body, &ps))
		require.Len(t, ps, 12)
		done := 0
		for _, p := range ps {
			if p.Iteration >= 2 || p.Champion != "" {
				done++
			}
		}
		assert.Positive(t, done, "some config completed an iteration: %s", body)
		assert.Positive(t, st.Iterations, "the simulator counted them")
	})

	t.Run("decisions journaled", func(t *testing.T) {
		for _, types := range []string{"training_threshold", "promotion_candidate,promotion_rejected,model_promoted", "recovery_initiated"} {
			_, body := get(t, base+"/v1/events?limit=1&type="+types)
			var page struct {
				Events []map[string]any `json:"events"`
			}
			require.NoError(t, json.Unmarshal(body, &page))
			require.NotEmpty(t, page.Events, types)
			assert.True(t, strings.HasPrefix(page.Events[0]["source"].(string), "ringriftd/"), "%s is the daemon's decision: %v", types, page.Events[0])
			for _, ty := range strings.Split(types, ",") {
				if st.Decisions[ty] > 0 {
					goto seen
				}
			}
			t.Errorf("the simulator saw no %s in the append answers: %v", types, st.Decisions)
		seen:
		}
	})

	t.Run("no event ahead of the clock", func(t *testing.T) {
		// --step 1m at 400 events/s is 400 simulated minutes a second: the
		// run starts in the past and never passes the wall clock, which
		// the daemon would refuse (events.md, --max-future)
		now := time.Now()
		_, body := get(t, base+"/v1/export")
		n := 0
		for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
			var e struct {
				Time time.Time `json:"time"`
			}
			require.NoError(t, json.Unmarshal(line, &e))
			require.False(t, e.Time.After(now), "%s", line)
			n++
		}
		assert.Greater(t, n, st.Sent/2)
	})

	t.Run("rejected log", func(t *testing.T) {
		_, body := get(t, base+"/v1/rejected?limit=10000")
		var log struct {
			Entries []struct {
				Code string `json:"code"`
				Raw  string `json:"raw"`
			} `json:"entries"`
		}
		require.NoError(t, json.Unmarshal(body, &log))
		codes := map[string]int{}
		for _, e := range log.Entries {
			codes[e.Code]++
		}
		assert.Equal(t, st.Duplicates, codes["duplicate"], "every duplicate is logged")
		refused := 0
		for c, n := range codes {
			if c != "duplicate" {
				refused += n
			}
		}
		assert.Equal(t, st.Refused, refused, "every refusal is logged: %v", codes)
		assert.Positive(t, codes["unknown_event_type"]+codes["invalid_config_key"], "bad events are in the log: %v", codes)
	})
}

// TestSimulateRepeatsAreMarked: the simulator's legitimate repeats
// (heartbeats, passed health checks, the background traffic) carry
// "dedup": false, as journal.md asks of producers, so replay lost reports
// only what was re-sent on purpose as a probable duplicate.
func TestSimulateRepeatsAreMarked(t *testing.T) {
	base, _ := testDaemon(t, nil)
	o, err := parseSimulate([]string{"--url", base, "--rate", "0", "--events", "1500",
		"--seed", "4", "--every", "0"}, noEnv, io.Discard) // the default --step, 2s: repeats within 30 s
	require.NoError(t, err)
	_, err = sim.Run(context.Background(), o, io.Discard)
	require.NoError(t, err)
	code, body := get(t, base+"/v1/lost")
	require.Equal(t, 200, code, "%s", body)
	var rep struct {
		Findings []struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(body, &rep))
	require.NotEmpty(t, rep.Findings, "the simulator re-sends and sends bad events on purpose")
	for _, f := range rep.Findings {
		if f.Kind != "probable_duplicate" {
			continue
		}
		for _, typ := range []string{"coordinator_heartbeat", "health_check_passed", "work_queued", "elo_updated", "opponent_mastered"} {
			assert.False(t, strings.HasPrefix(f.Message, typ+" "), "a legitimate repeat reported: %s", f.Message)
		}
	}
}

// TestSimulateDeterministic: the same seed, start and batch size send the
// same events, so two fresh daemons journal the same events (ids and
// record times aside: compatibility-shape events get their ids from the
// daemon).
func TestSimulateDeterministic(t *testing.T) {
	journal := func() []string {
		base, _ := testDaemon(t, nil)
		o, err := parseSimulate([]string{"--url", base, "--rate", "0", "--events", "400", "--step", "1m", "--batch", "7",
			"--seed", "3", "--start", "2026-01-01T00:00:00Z", "--every", "0"}, noEnv, io.Discard)
		require.NoError(t, err)
		st, err := sim.Run(context.Background(), o, io.Discard)
		require.NoError(t, err)
		require.Equal(t, 400, st.Sent)
		_, body := get(t, base+"/v1/export")
		var out []string
		for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
			var e map[string]any
			require.NoError(t, json.Unmarshal(line, &e))
			delete(e, "id")
			delete(e, "recorded_at")
			delete(e, "causation_id")
			b, err := json.Marshal(e)
			require.NoError(t, err)
			out = append(out, string(b))
		}
		return out
	}
	a, b := journal(), journal()
	require.Greater(t, len(a), 300)
	assert.Equal(t, a, b)
}

func TestSimulateFlags(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		o, err := parseSimulate(nil, noEnv, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, "http://127.0.0.1:8765", o.URL)
		assert.Equal(t, 100.0, o.Rate)
		assert.Equal(t, 10, o.Batch)
		assert.Equal(t, 2*time.Second, o.Step)
		assert.Zero(t, o.Duration)
	})
	t.Run("env twins", func(t *testing.T) {
		env := map[string]string{"RINGRIFT_URL": "http://10.0.0.5:8765/", "RINGRIFT_TOKEN": "s3cret", "RINGRIFT_RATE": "250", "RINGRIFT_BATCH": "50"}
		o, err := parseSimulate([]string{"--batch", "5"}, func(k string) string { return env[k] }, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, "http://10.0.0.5:8765", o.URL)
		assert.Equal(t, "s3cret", o.Token)
		assert.Equal(t, 250.0, o.Rate)
		assert.Equal(t, 5, o.Batch, "the flag wins over the environment")
	})
	t.Run("errors name the flag", func(t *testing.T) {
		cases := map[string][]string{
			"--batch": {"--batch", "0"}, "--url": {"--url", "localhost:8765"}, "--rate": {"--rate", "-1"},
			"--bad": {"--bad", "0.9"}, "--start": {"--start", "yesterday"}, "unexpected": {"go"},
		}
		for want, args := range cases {
			err := run(context.Background(), append([]string{"simulate"}, args...), noEnv, io.Discard, io.Discard)
			require.ErrorIs(t, err, errConfig, want)
			assert.Contains(t, err.Error(), want)
		}
		err := run(context.Background(), []string{"simulate"}, func(k string) string {
			if k == "RINGRIFT_RATE" {
				return "fast"
			}
			return ""
		}, io.Discard, io.Discard)
		require.ErrorIs(t, err, errConfig)
		assert.Contains(t, err.Error(), "RINGRIFT_RATE")
	})
	t.Run("help", func(t *testing.T) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"simulate", "--help"}, noEnv, &out, &out)
		require.ErrorIs(t, err, flag.ErrHelp)
		for _, s := range []string{"-url", "RINGRIFT_URL", "-token", "RINGRIFT_TOKEN", "-rate", "-step", "-seed", "-batch"} {
			assert.Contains(t, out.String(), s)
		}
	})
	t.Run("token", func(t *testing.T) {
		base, _ := testDaemon(t, func(c *Config) { c.Token = "s3cret" })
		err := run(context.Background(), []string{"simulate", "--url", base, "--events", "10"}, noEnv, io.Discard, io.Discard)
		require.ErrorIs(t, err, sim.ErrFatal)
		assert.Contains(t, err.Error(), "RINGRIFT_TOKEN")
		var out bytes.Buffer
		err = run(context.Background(), []string{"simulate", "--url", base, "--events", "20", "--rate", "0"},
			func(k string) string { return map[string]string{"RINGRIFT_TOKEN": "s3cret"}[k] }, &out, io.Discard)
		require.NoError(t, err)
		assert.Contains(t, out.String(), "sent 20 events")
	})
}

// TestSimulatePlateau runs the simulated cluster for weeks of simulated
// time (a simulated minute per event, as `simulate --step 1m`) against an
// in-process daemon, reading the projections while it runs, and checks
// that they look like a believable cluster, not a saturated one: models
// improve, then plateau below the Elo cap; curriculum weights stay spread;
// backpressure pauses come and go rather than holding every pipeline;
// candidates are both rejected and promoted, and regressions come and go.
func TestSimulatePlateau(t *testing.T) {
	if testing.Short() {
		t.Skip("weeks of simulated time: tens of seconds")
	}
	base, _ := testDaemon(t, nil)
	const events = 30_000 // about 21 days
	o, err := parseSimulate([]string{"--url", base, "--rate", "0", "--events", fmt.Sprint(events), "--step", "1m",
		"--batch", "50", "--seed", "5", "--every", "0"}, noEnv, io.Discard)
	require.NoError(t, err)
	type sample struct {
		atCap, champions, paused, weightsAtMax int
		weights                                []float64
		elos                                   []float64
	}
	var samples []sample
	read := func() sample {
		var (
			pipes projections.PipelinesView
			elo   projections.EloView
			cur   projections.CurriculumView
		)
		for path, v := range map[string]any{"/v1/pipelines": &pipes, "/v1/elo": &elo, "/v1/curriculum": &cur} {
			code, body := get(t, base+path)
			require.Equal(t, 200, code)
			require.NoError(t, json.Unmarshal(body, v))
		}
		var s sample
		for _, c := range elo.Configs {
			if c.ChampionElo != nil {
				s.champions++
				s.elos = append(s.elos, float64(*c.ChampionElo))
				if *c.ChampionElo >= 2950 {
					s.atCap++
				}
			}
		}
		for _, w := range cur.Weights {
			s.weights = append(s.weights, float64(w))
			if w >= 1.999 {
				s.weightsAtMax++
			}
		}
		for _, p := range pipes {
			if len(p.Paused) > 0 {
				s.paused++
			}
		}
		return s
	}
	done := make(chan struct{})
	var st *sim.Stats
	var runErr error
	go func() {
		defer close(done)
		st, runErr = sim.Run(context.Background(), o, io.Discard)
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(10 * time.Millisecond):
			// often enough that a fast run (under 2 s without -race) still
			// gives the halves below enough samples
			samples = append(samples, read())
		}
	}
	require.NoError(t, runErr)
	samples = append(samples, read())
	require.Greater(t, len(samples), 20, "the run was sampled")
	last := samples[len(samples)/2:] // the second half: the cluster has had time to plateau
	allPaused, saturated := 0, 0
	for _, s := range samples {
		if s.paused == 12 {
			allPaused++
		}
	}
	for _, s := range last {
		if s.weightsAtMax > 6 {
			saturated++
		}
		assert.LessOrEqual(t, s.atCap, 2, "at most a couple of champions near the Elo cap: %v", s.elos)
	}
	end := samples[len(samples)-1]
	t.Logf("%d samples; at the end: champions %v, weights %v; every pipeline paused in %d samples, over half the weights at 2.0 in %d of the second half's %d",
		len(samples), end.elos, end.weights, allPaused, saturated, len(last))
	t.Logf("decisions %v", st.Decisions)
	assert.Equal(t, 12, end.champions, "every config has a champion")
	early := samples[len(samples)/10]
	if assert.NotEmpty(t, early.elos) {
		assert.Greater(t, mean(end.elos)-mean(early.elos), 200.0, "models improved: %v then %v", early.elos, end.elos)
	}
	assert.Less(t, allPaused, len(samples)/4, "backpressure does not hold every pipeline for long (it used to, most of the time)")
	assert.Less(t, saturated, len(last)/4, "curriculum weights stay spread")
	assert.Greater(t, slices.Max(end.elos)-slices.Min(end.elos), 150.0, "configs plateau at different strengths")
	assert.Greater(t, st.Decisions["promotion_rejected"], st.Decisions["model_promoted"]/2, "candidates fail")
	assert.Positive(t, st.Decisions["model_promoted"], "and some are promoted")
	assert.Positive(t, st.Decisions["regression_detected"], "regressions come")
	assert.Positive(t, st.Decisions["regression_cleared"]+st.Decisions["promotion_rolled_back"], "and go")
}

func mean(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

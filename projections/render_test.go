package projections_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/projections"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compact removes the layout of a hand-written expectation.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	require.True(t, json.Valid([]byte(s)), "expectation is not JSON: %s", s)
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString:
			b.WriteByte(c)
			if c == '\\' {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
			b.WriteByte(c)
		case c == ' ' || c == '\n' || c == '\t':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestPipelinesJSONExample(t *testing.T) {
	p := &flows.Pipeline{
		State: flows.Evaluating, Iteration: 4, EnteredAt: time.Date(2026, 11, 22, 10, 15, 3, 0, time.UTC),
		Model:     "models/hex8_2p/iter_0004.pth",
		Champions: []string{"models/hex8_2p/iter_0001.pth", "models/hex8_2p/iter_0002.pth"},
		Paused:    map[string]bool{"quality": true}, GamesSinceTraining: 120, SyncedSinceTraining: true,
		Failures:    flows.Failures{Evaluation: 1},
		LastOutcome: &flows.Outcome{Iteration: 3, Outcome: flows.OutcomeRejected, Gate: "win_rate_heuristic", Model: "models/hex8_2p/iter_0003.pth"},
		LastSeq:     812,
	}
	got := projections.PipelinesJSON([]string{cfg}, func(string) *flows.Pipeline { return p }, nil)
	want := compact(t, `{"hex8_2p": {
  "state": "evaluating", "iteration": 4, "entered_at": "2026-11-22T10:15:03Z",
  "model": "models/hex8_2p/iter_0004.pth", "champion": "models/hex8_2p/iter_0002.pth",
  "paused": ["quality"], "games_since_training": 120, "synced_since_training": true,
  "failures": {"training": 0, "evaluation": 1, "sync": 0},
  "last_outcome": {"iteration": 3, "outcome": "rejected", "gate": "win_rate_heuristic",
                   "model": "models/hex8_2p/iter_0003.pth"},
  "regression": {"consecutive": 0, "last_severity": null},
  "violations": 0, "last_seq": 812}}`)
	assert.Equal(t, want, string(got))
}

func TestPipelinesJSONShapes(t *testing.T) {
	frac := time.Date(2026, 11, 22, 10, 15, 3, 250_000_000, time.FixedZone("CET", 3600))
	pipes := map[string]*flows.Pipeline{
		"square8_2p": {State: flows.Collecting, Iteration: 2, EnteredAt: frac,
			Paused:      map[string]bool{"regression": true},
			LastOutcome: &flows.Outcome{Iteration: 1, Outcome: flows.OutcomePromoted, Gate: "ignored", Model: "m1"},
			Champions:   []string{"m1"}, Regression: flows.Regression{Consecutive: 2, LastSeverity: "moderate"},
			Violations: 3, LastSeq: 9},
	}
	paused := func(k string) []string {
		if k == "square8_2p" {
			return []string{"regression", "backpressure", "regression"}
		}
		return nil
	}
	// keys out of order and repeated; hex8_2p has no pipeline yet.
	got := projections.PipelinesJSON([]string{"square8_2p", cfg, "square8_2p"},
		func(k string) *flows.Pipeline { return pipes[k] }, paused)
	want := `{"hex8_2p":{"state":"collecting","iteration":1,"entered_at":null,"model":null,"champion":null,"paused":[],` +
		`"games_since_training":0,"synced_since_training":false,"failures":{"training":0,"evaluation":0,"sync":0},` +
		`"last_outcome":null,"regression":{"consecutive":0,"last_severity":null},"violations":0,"last_seq":0},` +
		`"square8_2p":{"state":"collecting","iteration":2,"entered_at":"2026-11-22T09:15:03.25Z","model":null,"champion":"m1",` +
		`"paused":["backpressure","regression"],"games_since_training":0,"synced_since_training":false,` +
		`"failures":{"training":0,"evaluation":0,"sync":0},"last_outcome":{"iteration":1,"outcome":"promoted","model":"m1"},` +
		`"regression":{"consecutive":2,"last_severity":"moderate"},"violations":3,"last_seq":9}}`
	assert.Equal(t, want, string(got))
	var v map[string]any
	require.NoError(t, json.Unmarshal(got, &v))
}

func TestHealthJSONExample(t *testing.T) {
	h := projections.NewHealth()
	h.Apply(mk(t, "leader_elected", "", "node-a", at(0), ""))
	h.Apply(mk(t, "backpressure_activated", "", "", at(0), `{"level":"high"}`))
	h.Apply(mk(t, "backpressure_activated", "square19_4p", "", at(0), `{"level":"hard"}`))
	h.Apply(mk(t, "daemon_started", "", "", at(0), `{"daemon":"DataPipeline"}`))
	nodes := map[string]*flows.Node{
		"gpu-1": {State: flows.Recovering, Failures: 3, Attempts: 1, LastAction: "restart_daemon", UpdatedAt: at(0), Known: true},
		"gpu-2": {State: flows.Healthy, UpdatedAt: at(0), Known: true},
		"gpu-3": {State: flows.Healthy, UpdatedAt: at(0), Known: true},
		"gpu-4": {State: flows.Healthy, UpdatedAt: at(0), Known: true},
		"gpu-5": {State: flows.Unknown, Violations: 1},
	}
	ids := []string{"gpu-5", "gpu-4", "gpu-3", "gpu-2", "gpu-1"}
	got := projections.HealthJSON(h, "degraded", ids, func(id string) *flows.Node { return nodes[id] })
	node := func(id string) string {
		return `"` + id + `":{"state":"healthy","failures":0,"attempts":0,"last_action":null,"updated_at":"2026-11-22T10:00:00Z","violations":0}`
	}
	want := `{"cluster":"degraded","leader":"node-a","nodes":{` +
		`"gpu-1":{"state":"recovering","failures":3,"attempts":1,"last_action":"restart_daemon","updated_at":"2026-11-22T10:00:00Z","violations":0},` +
		node("gpu-2") + "," + node("gpu-3") + "," + node("gpu-4") + "," +
		`"gpu-5":{"state":"unknown","failures":0,"attempts":0,"last_action":null,"updated_at":null,"violations":1}},` +
		`"backpressure":{"queue":"none","resource":"high","configs":{"square19_4p":{"queue":"hard","resource":"none"}}},` +
		`"daemons":{"DataPipeline":{"status":"running","last_seen":"2026-11-22T10:00:00Z"}},"disk_low":[]}`
	assert.Equal(t, want, string(got))

	// no nodes at all: healthy; disk_low sorted.
	h = projections.NewHealth()
	h.Apply(mk(t, "disk_space_low", "", "b", at(0), ""))
	h.Apply(mk(t, "disk_space_low", "", "a", at(0), ""))
	assert.Equal(t, `{"cluster":"healthy","leader":null,"nodes":{},"backpressure":{"queue":"none","resource":"none","configs":{}},"daemons":{},"disk_low":["a","b"]}`,
		string(projections.HealthJSON(h, "healthy", nil, func(string) *flows.Node { return nil })))
}

func TestJSONNumbersAndStrings(t *testing.T) {
	assert.Equal(t, 1612.5, projections.Round2(1612.4951))
	assert.Equal(t, -3.26, projections.Round2(-3.255001))
	assert.Equal(t, 0.125, projections.Round3(0.1245001))

	e := projections.NewElo()
	// a negative velocity rounding to -0 is written 0.0; names are escaped.
	e.Apply(mk(t, "elo_updated", cfg, "", at(0), `{"participant":"a \"quoted\"\n\u2028name","elo":1500.004}`))
	b, _ := projections.EloConfigJSON(e, cfg)
	assert.Contains(t, string(b), `"a \"quoted\"\n\u2028name":{"elo":1500.0,"games":0}`)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v))
	name := "a \"quoted\"\n\u2028name"
	assert.Contains(t, v["ratings"], name, "the escaped name reads back")

	for i := range 4 {
		e.Apply(mk(t, "evaluation_completed", "square8_2p", "", at(float64(i)), evalPayload("m", ptr(1500-0.001*float64(i)), "random", 1, 0.5)))
	}
	b, _ = projections.EloConfigJSON(e, "square8_2p")
	vel := e.Velocity("square8_2p")
	require.True(t, vel.Valid)
	assert.Less(t, vel.Value, 0.0)
	assert.Contains(t, string(b), `"velocity":0.0,"trend":"stable"`)
}

func TestEveryProjectionIsValidJSON(t *testing.T) {
	evs := gen(t, 20000, 3)
	e, c, h := projections.NewElo(), projections.NewCurriculum(), projections.NewHealth()
	for _, ev := range evs {
		e.Apply(ev)
		c.Apply(ev)
		h.Apply(ev)
	}
	for name, b := range map[string][]byte{
		"elo": projections.EloJSON(e), "curriculum": projections.CurriculumJSON(c),
		"health": projections.HealthJSON(h, "healthy", nil, func(string) *flows.Node { return nil }),
	} {
		var v map[string]any
		require.NoError(t, json.Unmarshal(b, &v), name)
	}
	var cur struct {
		Weights map[string]float64 `json:"weights"`
		Shares  map[string]float64 `json:"shares"`
	}
	require.NoError(t, json.Unmarshal(projections.CurriculumJSON(c), &cur))
	assert.Len(t, cur.Weights, len(event.ConfigKeys())+1, "canonical configs and hexbig_2p")
	for k, w := range cur.Weights {
		assert.GreaterOrEqual(t, w, 0.5, k)
		assert.LessOrEqual(t, w, 2.0, k)
	}
}

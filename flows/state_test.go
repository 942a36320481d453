package flows_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/fsm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rich drives a state that uses every part of Machines.
func rich(t *testing.T, o flows.Options) *run {
	r := newRun(t, o)
	r.reach(flows.Promoting)
	r.applyAll(
		ev("model_promoted", cfg, withModel(model)),
		ev("training_started", cfg, ""), ev("training_completed", cfg, withModel(model2)),
		ev("evaluation_started", cfg, withModel(model2)), ev("evaluation_completed", cfg, results(model2)),
		ev("evaluation_completed", cfg, results(model)), // monitoring
		ev("new_games", cfg, `{"games":12}`), ev("sync_failed", "", `{"error":"x"}`),
		ev("training_started", "square8_2p", ""), ev("training_rollback_needed", "square8_2p", `{"reason":"x"}`),
		ev("regression_moderate", cfg, ""), ev("training_blocked_by_quality", "", ""),
		ev("new_games", "octo8_3p", `{"games":5}`),
		nev("node_unhealthy", node, ""), nev("recovery_initiated", node, `{"action":"restart_daemon","attempt":1}`),
		nev("health_check_failed", "gpu-2", ""),
	)
	r.m.SetRegression(cfg, flows.Regression{Consecutive: 1, LastSeverity: "moderate"})
	return r
}

// more is a continuation applied to a state and its copy alike.
func more() []*event.Event {
	return []*event.Event{
		ev("promotion_candidate", cfg, withModel(model2)), ev("regression_cleared", cfg, ""),
		ev("model_promoted", cfg, withModel(model2)), ev("training_rollback_completed", "square8_2p", ""),
		nev("recovery_completed", node, ""), nev("host_offline", "gpu-3", ""),
		ev("high_quality_data_available", "", ""), ev("sync_completed", "", ""),
	}
}

func snapshot(t *testing.T, m *flows.Machines) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, k := range m.PipelineKeys() {
		out["p/"+k] = *m.Pipeline(k)
		out["h/"+k] = m.History(k)
		out["x/"+k] = m.Explain(k)
	}
	for _, k := range m.NodeKeys() {
		out["n/"+k] = *m.Node(k)
		out["nh/"+k] = m.NodeHistory(k)
	}
	out["cluster"] = m.ClusterPaused()
	return out
}

func TestClone(t *testing.T) {
	r := rich(t, flows.Options{HistoryLimit: 5})
	before := r.state()
	snap := snapshot(t, r.m)
	c := r.m.Clone()
	assert.Equal(t, snap, snapshot(t, c))

	cr := &run{t: t, m: c, seq: r.seq}
	for _, e := range more() {
		cr.apply(e)
	}
	c.SetRegression(cfg, flows.Regression{})
	assert.Equal(t, before, r.state(), "the original does not see the clone's events")
	assert.Equal(t, snap, snapshot(t, r.m))

	// And the other way round.
	after := cr.state()
	for _, e := range more() {
		r.apply(e)
	}
	assert.Equal(t, after, cr.state(), "the clone does not see the original's events")
}

func TestMarshalRoundTrip(t *testing.T) {
	o := flows.Options{HistoryLimit: 4}
	r := rich(t, o)
	data, err := json.Marshal(r.m)
	require.NoError(t, err)
	again, err := json.Marshal(r.m)
	require.NoError(t, err)
	assert.Equal(t, data, again, "deterministic")

	restored := flows.New(o)
	require.NoError(t, json.Unmarshal(data, restored))
	assert.Equal(t, snapshot(t, r.m), snapshot(t, restored), "a restored state equals the live one")
	out, err := json.Marshal(restored)
	require.NoError(t, err)
	assert.Equal(t, string(data), string(out))

	// Both go on alike.
	rr := &run{t: t, m: restored, seq: r.seq}
	for _, e := range more() {
		c1 := r.apply(e)
		e2 := *e
		c2 := rr.apply(&e2)
		assert.Equal(t, c1, c2, e.Type)
	}
	assert.Equal(t, snapshot(t, r.m), snapshot(t, restored))

	// The checkpoint holds what it must.
	var cp map[string]any
	require.NoError(t, json.Unmarshal(data, &cp))
	assert.Equal(t, float64(flows.CheckpointFormat), cp["format"])
	p := cp["pipelines"].(map[string]any)[cfg].(map[string]any)
	assert.Equal(t, []any{model}, p["champions"])
	assert.Equal(t, []any{flows.PausePromotionHold}, p["paused"])
	assert.Equal(t, []any{flows.PauseQuality}, cp["cluster_paused"])
	assert.Nil(t, cp["pipelines"].(map[string]any)["square19_4p"].(map[string]any)["entered_ms"], "zero time is null")
}

func TestUnmarshalRefusesBadCheckpoints(t *testing.T) {
	r := rich(t, flows.Options{HistoryLimit: 4})
	data, err := json.Marshal(r.m)
	require.NoError(t, err)
	good := string(data)
	format := fmt.Sprintf(`"format":%d`, flows.CheckpointFormat)
	require.Contains(t, good, format)
	tests := map[string]string{
		"not json":         `{`,
		"format":           strings.Replace(good, format, fmt.Sprintf(`"format":%d`, flows.CheckpointFormat+1), 1),
		"unknown field":    strings.Replace(good, format, format+`,"extra":true`, 1),
		"state mismatch":   strings.Replace(good, `"state":"evaluated"`, `"state":"trained"`, 1),
		"unknown state":    strings.Replace(good, `"state":"evaluated"`, `"state":"nowhere"`, 1),
		"unknown reason":   strings.Replace(good, `"paused":["promotion_hold"]`, `"paused":["coffee"]`, 1),
		"cluster reason":   strings.Replace(good, `"cluster_paused":["quality"]`, `"cluster_paused":["backpressure"]`, 1),
		"iteration 0":      strings.Replace(good, `"iteration":2`, `"iteration":0`, 1),
		"orphan machine":   strings.Replace(good, `"recovery_machine":{`, `"recovery_machine":{"ghost":{"state":"healthy"},`, 1),
		"node state":       strings.Replace(good, `"state":"recovering"`, `"state":"healthy"`, 1),
		"history mismatch": strings.Replace(good, `"event":"training_completed"`, `"event":"training_finished"`, 1),
	}
	for name, bad := range tests {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, good, bad, "the edit applies")
			m := flows.New(flows.Options{})
			m2 := m.Clone()
			err := json.Unmarshal([]byte(bad), m)
			require.Error(t, err)
			if name != "not json" {
				assert.ErrorIs(t, err, flows.ErrCheckpoint)
			}
			assert.Equal(t, snapshot(t, m2), snapshot(t, m), "a failed load changes nothing")
		})
	}
}

func TestHistory(t *testing.T) {
	r := newRun(t, flows.Options{HistoryLimit: 2})
	r.reach(flows.Evaluating)
	assert.Equal(t, []fsm.Record{
		{Seq: 2, Event: "training_completed", From: flows.Training, To: flows.Trained, Time: start.Add(secs(2))},
		{Seq: 3, Event: "evaluation_started", From: flows.Trained, To: flows.Evaluating, Time: start.Add(secs(3))},
	}, r.m.History(cfg))
	r.apply(nev("host_offline", node, ""))
	assert.Equal(t, []fsm.Record{{Seq: 4, Event: "host_offline", From: flows.Unknown, To: flows.Offline, Time: start.Add(secs(4))}}, r.m.NodeHistory(node))
	assert.Nil(t, r.m.History("square8_2p"))

	none := newRun(t, flows.Options{})
	none.reach(flows.Evaluating)
	assert.Nil(t, none.m.History(cfg), "HistoryLimit 0 keeps none")
}

// TestDiagrams checks that the Mermaid diagrams draw every transition of
// flows.md's tables (read here as from, to, event).
func TestDiagrams(t *testing.T) {
	pipeline := [][3]string{
		{"collecting", "training_ready", "training_threshold"},
		{"collecting", "training", "training_started"},
		{"training_ready", "training", "training_started"},
		{"training_ready", "training_ready", "training_threshold"},
		{"training", "training", "training_progress"},
		{"training", "trained", "training_completed"},
		{"training", "trained", "training_early_stopped"},
		{"training", "collecting", "training_early_stopped"},
		{"training", "collecting", "training_failed"},
		{"training", "rolling_back", "training_rollback_needed"},
		{"rolling_back", "collecting", "training_rollback_completed"},
		{"rolling_back", "collecting", "training_failed"},
		{"trained", "evaluating", "evaluation_started"},
		{"evaluating", "evaluating", "evaluation_progress"},
		{"evaluating", "evaluated", "evaluation_completed"},
		{"evaluating", "trained", "evaluation_failed"},
		{"evaluating", "collecting", "evaluation_failed"},
		{"evaluated", "evaluating", "evaluation_started"},
		{"evaluated", "candidate", "promotion_candidate"},
		{"evaluating", "collecting", "promotion_rejected"},
		{"evaluated", "collecting", "promotion_rejected"},
		{"candidate", "collecting", "promotion_rejected"},
		{"promoting", "collecting", "promotion_rejected"},
		{"candidate", "promoting", "promotion_started"},
		{"candidate", "collecting", "model_promoted"},
		{"promoting", "collecting", "model_promoted"},
		{"candidate", "collecting", "promotion_failed"},
		{"promoting", "collecting", "promotion_failed"},
	}
	var recovery [][3]string
	for _, from := range []string{"unknown", "healthy", "degraded", "unhealthy"} {
		for _, to := range []string{"degraded", "unhealthy", "offline"} {
			recovery = append(recovery, [3]string{from, to, "health_check_failed"})
		}
		recovery = append(recovery, [3]string{from, "unhealthy", "node_unhealthy"})
	}
	for _, s := range []string{"recovering", "offline", "escalated"} {
		recovery = append(recovery, [3]string{s, s, "health_check_failed"})
	}
	for _, from := range allNodeStates {
		for _, e := range []string{"health_check_passed", "node_recovered", "host_online"} {
			recovery = append(recovery, [3]string{from, "healthy", e})
		}
		recovery = append(recovery, [3]string{from, "offline", "host_offline"})
	}
	for _, from := range []string{"unhealthy", "offline", "escalated", "recovering"} {
		recovery = append(recovery, [3]string{from, "recovering", "recovery_initiated"})
	}
	recovery = append(recovery, [3]string{"recovering", "healthy", "recovery_completed"},
		[3]string{"recovering", "unhealthy", "recovery_failed"}, [3]string{"unhealthy", "escalated", "health_alert"})

	for name, tc := range map[string]struct {
		diagram, initial string
		edges            [][3]string
	}{
		"pipeline": {flows.PipelineDiagram(), "collecting", pipeline},
		"recovery": {flows.RecoveryDiagram(), "unknown", recovery},
	} {
		t.Run(name, func(t *testing.T) {
			lines := strings.Split(strings.TrimSuffix(tc.diagram, "\n"), "\n")
			require.Equal(t, "stateDiagram-v2", lines[0])
			assert.Equal(t, "    [*] --> "+tc.initial, lines[1])
			assert.Len(t, lines, 2+len(tc.edges), "one line per edge, no more")
			for _, e := range tc.edges {
				found := false
				for _, l := range lines[2:] {
					if strings.HasPrefix(l, "    "+e[0]+" --> "+e[1]+": "+e[2]) {
						found = true
					}
				}
				assert.True(t, found, "%s --> %s: %s", e[0], e[1], e[2])
			}
		})
	}
	assert.Equal(t, flows.PipelineDiagram(), flows.PipelineDiagram())
}

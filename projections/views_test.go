package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	generate "github.com/ringrift/ringriftd/internal/gen"
	jrnl "github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/projections"
)

// TestViewsRoundTrip: each view decodes exactly what the writer wrote (no
// unknown key, none missing) and encodes back to the same bytes, on the
// state of generated journals, at several points of them.
func TestViewsRoundTrip(t *testing.T) {
	g := engine.New(engine.Options{Policies: flows.PolicyConfig{Enabled: flows.AllPolicies}})
	j, err := jrnl.Open("views", jrnl.Options{InMemory: true, Hook: g})
	require.NoError(t, err)
	defer j.Close()
	gn := generate.New(generate.Options{Seed: 11, BadShare: 0.05})
	var seen coverage
	check := func() {
		var (
			pipes projections.PipelinesView
			elo   projections.EloView
			cur   projections.CurriculumView
			h     projections.HealthView
		)
		roundTrip(t, g.JSON(engine.Pipelines), &pipes)
		roundTrip(t, g.JSON(engine.Elo), &elo)
		roundTrip(t, g.JSON(engine.Curriculum), &cur)
		roundTrip(t, g.JSON(engine.Health), &h)
		seen.add(pipes, elo, h)
		for key, c := range elo.Configs {
			one, ok := projections.EloConfigJSON(g.Elo(), key)
			require.True(t, ok, key)
			b, err := projections.EncodeView(c)
			require.NoError(t, err)
			assert.Equal(t, string(one), string(b), "GET /v1/elo/%s", key)
		}
	}
	appendOne := func(e event.Event) {
		_, err := j.Append(context.Background(), []event.Event{e}, jrnl.AppendOptions{})
		if _, refused := event.AsError(err); !refused {
			require.NoError(t, err)
		}
	}
	for i := 1; i <= 8000; i++ {
		appendOne(gn.Next())
		if i%2000 == 0 {
			check()
		}
	}
	// a champion that plays badly: the regression policy remembers a
	// severity
	var elo projections.EloView
	require.NoError(t, json.Unmarshal(g.JSON(engine.Elo), &elo))
	for key, c := range elo.Configs {
		if c.Champion != "" {
			e := gn.Next()
			e.Type, e.ConfigKey, e.NodeID = "evaluation_completed", key, ""
			e.Payload = []byte(fmt.Sprintf(`{"model_path":%q,"opponents":{"heuristic":{"games":200,"win_rate":0.2}},"elo":%v}`, c.Champion, float64(*c.ChampionElo)-150))
			appendOne(e)
		}
	}
	check()
	// the state had both forms of every optional field, so the views were
	// checked against both
	assert.Equal(t, coverage{true, true, true, true, true, true, true, true, true, true}, seen)
}

// roundTrip decodes b into v strictly and requires the same bytes back.
func roundTrip(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "%s", b)
	again, err := projections.EncodeView(v)
	require.NoError(t, err)
	require.Equal(t, string(b), string(again), "%T encodes back to what the writer wrote", v)
}

type coverage struct {
	model, noModel, outcome, gate, severity, champion, velocity, noVelocity, leader, nodeUpdated bool
}

func (c *coverage) add(pipes projections.PipelinesView, elo projections.EloView, h projections.HealthView) {
	for _, p := range pipes {
		c.model = c.model || p.Model != ""
		c.noModel = c.noModel || p.Model == ""
		c.outcome = c.outcome || p.LastOutcome != nil
		c.gate = c.gate || (p.LastOutcome != nil && p.LastOutcome.Gate != "")
		c.severity = c.severity || p.Regression.LastSeverity != ""
	}
	for _, e := range elo.Configs {
		c.champion = c.champion || (e.Champion != "" && e.ChampionElo != nil)
		c.velocity = c.velocity || e.Velocity != nil
		c.noVelocity = c.noVelocity || e.Velocity == nil
	}
	c.leader = c.leader || h.Leader != ""
	for _, n := range h.Nodes {
		c.nodeUpdated = c.nodeUpdated || n.UpdatedAt != nil
	}
}

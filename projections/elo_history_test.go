package projections_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/projections"
)

// historyDoc is GET /v1/elo/{config}/history as a client reads it.
type historyDoc struct {
	Config      string   `json:"config"`
	Champion    *string  `json:"champion"`
	ChampionElo *float64 `json:"champion_elo"`
	Velocity    *float64 `json:"velocity"`
	Trend       string   `json:"trend"`
	Points      []struct {
		Seq   uint64  `json:"seq"`
		Time  string  `json:"time"`
		Type  string  `json:"type"`
		Model string  `json:"model"`
		Elo   float64 `json:"elo"`
		Games int64   `json:"games"`
	} `json:"history"`
	Champions []struct {
		Seq   uint64  `json:"seq"`
		Type  string  `json:"type"`
		Model string  `json:"model"`
		Elo   float64 `json:"elo"`
	} `json:"champions"`
	Dropped int64 `json:"dropped"`
}

func historyOf(t *testing.T, e *projections.Elo, config string) historyDoc {
	t.Helper()
	b, ok := projections.EloHistoryJSON(e, config)
	require.True(t, ok, "config %s", config)
	var d historyDoc
	require.NoError(t, json.Unmarshal(b, &d), "%s", b)
	return d
}

// TestEloHistory: each event that sets a rating adds a point with the
// rating after it (anchors never); each change of champion adds a champion
// point with the Elo at promotion; other configs are untouched.
func TestEloHistory(t *testing.T) {
	e := projections.NewElo()
	evs := []*event.Event{
		mk(t, "evaluation_completed", "hex8_2p", "", at(0), evalPayload("m1", nil, "heuristic", 100, 0.76)),
		mk(t, "elo_updated", "hex8_2p", "", at(1), `{"participant":"m1","elo":1610.254}`),
		mk(t, "elo_updated", "hex8_2p", "", at(1.5), `{"participant":"heuristic","elo":1300}`),
		mk(t, "model_promoted", "hex8_2p", "", at(2), `{"model_path":"m1"}`),
		mk(t, "evaluation_completed", "hex8_2p", "", at(3), evalPayload("m2", ptr(1700), "champion", 50, 0.6)),
		mk(t, "model_promoted", "hex8_2p", "", at(4), `{"model_path":"m2","elo":1720}`),
		mk(t, "promotion_rolled_back", "hex8_2p", "", at(5), `{"from_model":"m2","to_model":"m1"}`),
		mk(t, "new_games", "hex8_2p", "", at(6), `{"games":10}`),
	}
	for i, ev := range evs {
		ev.Seq = uint64(10 + i)
		e.Apply(ev)
	}
	d := historyOf(t, e, "hex8_2p")
	type pt struct {
		seq   uint64
		typ   string
		model string
		elo   float64
	}
	var got []pt
	for _, p := range d.Points {
		got = append(got, pt{p.Seq, p.Type, p.Model, p.Elo})
	}
	perf := got[0].elo
	assert.Greater(t, perf, 1200.0, "a 76% score against heuristic rates above it")
	assert.Equal(t, []pt{
		{10, "evaluation_completed", "m1", perf},
		{11, "elo_updated", "m1", 1610.25},
		{13, "model_promoted", "m1", 1610.25},
		{14, "evaluation_completed", "m2", 1700},
		{15, "model_promoted", "m2", 1720},
	}, got, "anchors have no points; each rating is the one after its event")
	assert.Equal(t, int64(100), d.Points[0].Games)
	assert.Equal(t, "2026-11-22T10:00:00Z", d.Points[0].Time)

	var champs []pt
	for _, c := range d.Champions {
		champs = append(champs, pt{c.Seq, c.Type, c.Model, c.Elo})
	}
	assert.Equal(t, []pt{
		{13, "model_promoted", "m1", 1610.25},
		{15, "model_promoted", "m2", 1720},
		{16, "promotion_rolled_back", "m1", 1610.25},
	}, champs)
	require.NotNil(t, d.Champion)
	assert.Equal(t, "m1", *d.Champion)
	assert.Equal(t, 1610.25, *d.ChampionElo)

	other := historyOf(t, e, "square8_2p")
	assert.Empty(t, other.Points)
	assert.Nil(t, other.Champion)
	assert.Equal(t, "unknown", other.Trend)
	_, ok := projections.EloHistoryJSON(e, "hex99_9p")
	assert.False(t, ok, "an unknown config has no history")
}

// TestEloHistoryLimit: past HistoryLimit the oldest points are dropped and
// counted; a clone taken before keeps its own view; a checkpoint restores it.
func TestEloHistoryLimit(t *testing.T) {
	e := projections.NewElo()
	n := projections.HistoryLimit + 7
	var clone *projections.Elo
	for i := 1; i <= n; i++ {
		ev := mk(t, "elo_updated", "hex8_2p", "", at(float64(i)/60), fmt.Sprintf(`{"participant":"m","elo":%d}`, 1000+i%1000))
		ev.Seq = uint64(i)
		e.Apply(ev)
		if i == 10 {
			clone = e.Clone()
		}
	}
	d := historyOf(t, e, "hex8_2p")
	require.Len(t, d.Points, projections.HistoryLimit)
	assert.Equal(t, int64(7), d.Dropped)
	assert.Equal(t, uint64(8), d.Points[0].Seq, "the oldest are dropped")
	assert.Equal(t, uint64(n), d.Points[len(d.Points)-1].Seq)

	c := historyOf(t, clone, "hex8_2p")
	require.Len(t, c.Points, 10, "a clone does not see later points")
	assert.Equal(t, uint64(10), c.Points[9].Seq)

	cp, err := e.MarshalJSON()
	require.NoError(t, err)
	restored := projections.NewElo()
	require.NoError(t, restored.UnmarshalJSON(cp))
	a, _ := projections.EloHistoryJSON(e, "hex8_2p")
	b, _ := projections.EloHistoryJSON(restored, "hex8_2p")
	assert.Equal(t, string(a), string(b), "the checkpoint restores the history")
}

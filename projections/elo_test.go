package projections_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/projections"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const cfg = "hex8_2p"

func TestEloStartsWithTheCanonicalConfigs(t *testing.T) {
	e := projections.NewElo()
	require.Equal(t, event.ConfigKeys(), e.Configs())
	for _, k := range event.ConfigKeys() {
		assert.Empty(t, e.Champion(k))
		_, ok := e.ChampionElo(k)
		assert.False(t, ok)
		v := e.Velocity(k)
		assert.False(t, v.Valid)
		assert.Equal(t, projections.TrendUnknown, v.Trend)
	}
	b, ok := projections.EloConfigJSON(e, cfg)
	require.True(t, ok)
	assert.Equal(t, `{"champion":null,"champion_elo":null,"velocity":null,"trend":"unknown","points":0,"ratings":{}}`, string(b))
}

func TestEloAnchorsAreFixedAndNeverListed(t *testing.T) {
	e := projections.NewElo()
	e.Apply(mk(t, "elo_updated", cfg, "", at(0), `{"participant":"random","elo":900}`))
	e.Apply(mk(t, "elo_updated", cfg, "", at(0), `{"participant":"heuristic","elo":900}`))
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(0), evalPayload("random", ptr(2000), "heuristic", 10, 0.5)))
	r, ok := e.Rating(cfg, "random")
	require.True(t, ok)
	assert.Equal(t, 400.0, r)
	r, _ = e.Rating(cfg, "heuristic")
	assert.Equal(t, 1200.0, r)
	_, ok = e.Entry(cfg, "random")
	assert.False(t, ok, "anchors have no entry")
	b, _ := projections.EloConfigJSON(e, cfg)
	assert.Contains(t, string(b), `"ratings":{}`)
}

func TestEloEvaluationWithPayloadElo(t *testing.T) {
	e := projections.NewElo()
	ch := e.Apply(mk(t, "evaluation_completed", cfg, "", at(0),
		evalPayload("m1", ptr(1650.25), "heuristic", 50, 0.7, "random", 50, 0.9, "stranger", 30, 0.5)))
	assert.Equal(t, "m1", ch.Participant)
	assert.True(t, ch.Created)
	assert.Equal(t, 1500.0, ch.Old)
	assert.Equal(t, 1650.25, ch.New)
	assert.True(t, ch.Evaluation)
	r, ok := e.Entry(cfg, "m1")
	require.True(t, ok)
	// games grow by the rated opponents only: stranger has no rating.
	assert.Equal(t, projections.Rating{Elo: 1650.25, Games: 100}, r)

	// the alias estimated_elo, and the clamp.
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(1),
		`{"model_path":"m1","estimated_elo":4000,"opponents":{"random":{"games":10,"win_rate":1}}}`))
	r, _ = e.Entry(cfg, "m1")
	assert.Equal(t, projections.Rating{Elo: 3000, Games: 110}, r)
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(2), evalPayload("m1", ptr(-5), "random", 1, 0.0)))
	r, _ = e.Entry(cfg, "m1")
	assert.Equal(t, 100.0, r.Elo)
}

func TestEloPerformanceRatingSolvesTheEquation(t *testing.T) {
	e := projections.NewElo()
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(0),
		evalPayload("m1", nil, "heuristic", 60, 0.71, "random", 40, 0.96)))
	r, ok := e.Rating(cfg, "m1")
	require.True(t, ok)
	s := 60*0.71 + 40*0.96
	// within the bisection's 1e-6 of the root: the residual is tiny.
	assert.InDelta(t, s, expected(r, map[float64]float64{1200: 60, 400: 40}), 1e-5)
	assert.InDelta(t, s, expected(r+1e-6, map[float64]float64{1200: 60, 400: 40}), 1e-5)
	assert.Less(t, expected(r-0.01, map[float64]float64{1200: 60, 400: 40}), s, "E is increasing: the root is unique")
	en, _ := e.Entry(cfg, "m1")
	assert.Equal(t, int64(100), en.Games)
}

func TestEloPerformanceRatingEdges(t *testing.T) {
	cases := []struct {
		name  string
		opps  []any
		score float64             // the S the equation is solved for
		ros   map[float64]float64 // rating → games
		want  float64             // when the root is clamped
	}{
		{name: "all lost counts 0.5", opps: []any{"heuristic", 50, 0.0}, score: 0.5, ros: map[float64]float64{1200: 50}},
		{name: "all won counts n-0.5", opps: []any{"heuristic", 50, 1.0}, score: 49.5, ros: map[float64]float64{1200: 50}},
		{name: "all won twice counts Σn-0.5", opps: []any{"heuristic", 30, 1.0, "random", 20, 1.0}, score: 49.5, ros: map[float64]float64{1200: 30, 400: 20}},
		{name: "clamped low", opps: []any{"random", 50, 0.0}, want: 100},
		{name: "clamped high", opps: []any{"heuristic", 20000, 1.0}, want: 3000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := projections.NewElo()
			e.Apply(mk(t, "evaluation_completed", cfg, "", at(0), evalPayload("m", nil, c.opps...)))
			r, _ := e.Rating(cfg, "m")
			if c.want != 0 {
				assert.Equal(t, c.want, r)
				return
			}
			assert.InDelta(t, c.score, expected(r, c.ros), 1e-5)
		})
	}
	// the analytic root for one opponent: R = Ro + 400·log10(S/(n−S)).
	e := projections.NewElo()
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(0), evalPayload("m", nil, "heuristic", 50, 0.0)))
	r, _ := e.Rating(cfg, "m")
	assert.InDelta(t, 1200+400*math.Log10(0.5/49.5), r, 1e-5)
	assert.Equal(t, 1500.0, projections.PerformanceRating(nil, 0))
}

func TestEloChampionOpponent(t *testing.T) {
	e := projections.NewElo()
	// no champion: the champion opponent is ignored, nothing is rated.
	ch := e.Apply(mk(t, "evaluation_completed", cfg, "", at(0), evalPayload("m2", nil, "champion", 100, 0.9)))
	assert.Equal(t, 1500.0, ch.New)
	en, _ := e.Entry(cfg, "m2")
	assert.Equal(t, int64(0), en.Games, "an ignored opponent adds no games")

	ch = e.Apply(mk(t, "model_promoted", cfg, "", at(1), `{"model_path":"m1","elo":1600}`))
	assert.True(t, ch.Champion)
	assert.Equal(t, "m1", e.Champion(cfg))
	ce, ok := e.ChampionElo(cfg)
	require.True(t, ok)
	assert.Equal(t, 1600.0, ce)

	// an even score against a 1600 champion is 1600.
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(2), evalPayload("m2", nil, "champion", 100, 0.5)))
	r, _ := e.Rating(cfg, "m2")
	assert.InDelta(t, 1600, r, 1e-6)
	en, _ = e.Entry(cfg, "m2")
	assert.Equal(t, int64(100), en.Games)

	// the champion evaluated against "champion": ignored, unchanged.
	ch = e.Apply(mk(t, "evaluation_completed", cfg, "", at(3), evalPayload("m1", nil, "champion", 100, 0.1)))
	assert.Equal(t, 1600.0, ch.Old)
	assert.Equal(t, 1600.0, ch.New)

	// the champion's current rating is used, not champion_elo.
	e.Apply(mk(t, "elo_updated", cfg, "", at(4), `{"model_id":"m1","new_elo":1700}`))
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(5), evalPayload("m3", nil, "champion", 100, 0.5)))
	r, _ = e.Rating(cfg, "m3")
	assert.InDelta(t, 1700, r, 1e-6)
	ce, _ = e.ChampionElo(cfg)
	assert.Equal(t, 1600.0, ce, "champion_elo is the Elo at promotion")
}

func TestEloOtherParticipantsAsOpponents(t *testing.T) {
	e := projections.NewElo()
	e.Apply(mk(t, "elo_updated", cfg, "", at(0), `{"participant":"old","elo":1400}`))
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(1), evalPayload("m", nil, "ghost", 100, 0.9, "old", 100, 0.5)))
	r, _ := e.Rating(cfg, "m")
	assert.InDelta(t, 1400, r, 1e-6, "ghost has no rating and is ignored")
	old, _ := e.Entry(cfg, "old")
	assert.Equal(t, int64(0), old.Games, "opponents' games do not change")
	// ratings are per config.
	e.Apply(mk(t, "evaluation_completed", "square8_2p", "", at(1), evalPayload("m", nil, "old", 100, 0.5)))
	_, ok := e.Rating("square8_2p", "old")
	assert.False(t, ok)
	r, _ = e.Rating("square8_2p", "m")
	assert.Equal(t, 1500.0, r, "no rated opponent: unchanged")
}

func TestEloUpdatedPromotedRolledBack(t *testing.T) {
	e := projections.NewElo()
	ch := e.Apply(mk(t, "elo_updated", cfg, "", at(0), `{"model_path":"a","elo":1234.5}`))
	assert.Equal(t, projections.EloChange{Config: cfg, Participant: "a", Old: 1500, New: 1234.5, Created: true}, ch)
	e.Apply(mk(t, "elo_updated", cfg, "", at(0), `{"participant":"b","elo":99}`))
	r, _ := e.Rating(cfg, "b")
	assert.Equal(t, 100.0, r)

	// model_promoted without elo: the model's rating (1500 for a new entry).
	e.Apply(mk(t, "model_promoted", cfg, "", at(1), `{"model_path":"c"}`))
	ce, _ := e.ChampionElo(cfg)
	assert.Equal(t, 1500.0, ce)
	en, ok := e.Entry(cfg, "c")
	require.True(t, ok, "model_promoted creates the entry")
	assert.Equal(t, 1500.0, en.Elo)

	// model_promoted of a rated model keeps its rating.
	e.Apply(mk(t, "model_promoted", cfg, "", at(2), `{"model_path":"a"}`))
	assert.Equal(t, "a", e.Champion(cfg))
	ce, _ = e.ChampionElo(cfg)
	assert.Equal(t, 1234.5, ce)

	// rollback to a rated model: its rating.
	ch = e.Apply(mk(t, "promotion_rolled_back", cfg, "", at(3), `{"to_model":"c","from_model":"a"}`))
	assert.True(t, ch.Champion)
	assert.Equal(t, "c", e.Champion(cfg))
	ce, _ = e.ChampionElo(cfg)
	assert.Equal(t, 1500.0, ce)
	e.Apply(mk(t, "elo_updated", cfg, "", at(4), `{"participant":"c","elo":1800}`))
	e.Apply(mk(t, "promotion_rolled_back", cfg, "", at(5), `{"to_model":"c"}`))
	ce, _ = e.ChampionElo(cfg)
	assert.Equal(t, 1800.0, ce)

	// rollback to a model never rated: 1500, and no entry is created.
	e.Apply(mk(t, "promotion_rolled_back", cfg, "", at(6), `{"to_model":"never"}`))
	ce, _ = e.ChampionElo(cfg)
	assert.Equal(t, 1500.0, ce)
	_, ok = e.Entry(cfg, "never")
	assert.False(t, ok)
}

func TestEloExtendedConfigJoinsAtItsFirstEvent(t *testing.T) {
	e := projections.NewElo()
	e.Apply(mkRaw("new_games", "hexbig_2p", "", at(0), `{"games":3}`))
	keys := e.Configs()
	assert.Len(t, keys, 13)
	assert.Contains(t, keys, "hexbig_2p")
	requireSortedStrings(t, keys)
	b, ok := projections.EloConfigJSON(e, "hexbig_2p")
	require.True(t, ok)
	assert.Equal(t, `{"champion":null,"champion_elo":null,"velocity":null,"trend":"unknown","points":0,"ratings":{}}`, string(b))
	_, ok = projections.EloConfigJSON(e, "hexbig_3p")
	assert.False(t, ok)
}

func TestEloJSONGolden(t *testing.T) {
	e := projections.NewElo()
	e.Apply(mk(t, "model_promoted", cfg, "", at(0), `{"model_path":"models/hex8_2p/iter_0002.pth","elo":1612.5}`))
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(1), evalPayload("models/hex8_2p/iter_0003.pth", ptr(1555.555), "random", 300, 0.9)))
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(2), evalPayload("models/hex8_2p/iter_0003.pth", ptr(1559.004), "random", 1, 0.9)))
	e.Apply(mk(t, "evaluation_completed", cfg, "", at(3), evalPayload("models/hex8_2p/iter_0003.pth", ptr(1562), "random", 1, 0.9)))
	b, _ := projections.EloConfigJSON(e, cfg)
	// velocity: points (1, 1555.555), (2, 1559.004), (3, 1562): slope
	// (1562 − 1555.555)/2 = 3.2225 → 3.22.
	assert.Equal(t, `{"champion":"models/hex8_2p/iter_0002.pth","champion_elo":1612.5,"velocity":3.22,"trend":"improving","points":3,`+
		`"ratings":{"models/hex8_2p/iter_0002.pth":{"elo":1612.5,"games":0},"models/hex8_2p/iter_0003.pth":{"elo":1562.0,"games":302}}}`, string(b))
	all := string(projections.EloJSON(e))
	assert.Contains(t, all, `{"configs":{"hex8_2p":{"champion":"models/hex8_2p/iter_0002.pth"`)
	assert.Contains(t, all, `"square8_4p":{"champion":null,"champion_elo":null,"velocity":null,"trend":"unknown","points":0,"ratings":{}}}}`)
}

// TestPerformanceRatingMatchesPlainBisection compares the solver with a
// plain bisection written from the spec's words, over random evaluations.
func TestPerformanceRatingMatchesPlainBisection(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		var opps []projections.RatedOpponent
		var n, s float64
		for range 1 + r.IntN(5) {
			o := projections.RatedOpponent{Games: 1 + r.Int64N(500), Elo: 100 + 2900*r.Float64()}
			opps = append(opps, o)
			n += float64(o.Games)
			s += float64(o.Games) * []float64{0, 1, r.Float64()}[r.IntN(3)]
		}
		got := projections.PerformanceRating(opps, s)
		target := s
		if s == 0 {
			target = 0.5
		} else if s == n {
			target = n - 0.5
		}
		f := func(x float64) float64 {
			var e float64
			for _, o := range opps {
				e += float64(o.Games) / (1 + math.Pow(10, (o.Elo-x)/400))
			}
			return e
		}
		lo, hi := 100.0, 3000.0
		for hi-lo > 1e-6 {
			mid := (lo + hi) / 2
			if f(mid) < target {
				lo = mid
			} else {
				hi = mid
			}
		}
		want := (lo + hi) / 2
		if f(100) >= target {
			want = 100
		} else if f(3000) <= target {
			want = 3000
		}
		require.InDelta(t, want, got, 2e-6, "opponents %v, S %v", opps, s)
		require.GreaterOrEqual(t, got, 100.0)
		require.LessOrEqual(t, got, 3000.0)
	}
}

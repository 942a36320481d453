package projections_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/projections"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// point feeds one evaluation whose payload sets the rating to y at hour h.
func point(t *testing.T, e *projections.Elo, h, y float64) projections.EloChange {
	t.Helper()
	return e.Apply(mk(t, "evaluation_completed", cfg, "", at(h), evalPayload("m", ptr(y), "random", 1, 0.5)))
}

func TestVelocityTrendClasses(t *testing.T) {
	cases := []struct {
		name   string
		pts    [][2]float64 // hour, rating
		valid  bool
		trend  string
		points int
	}{
		{"two points", [][2]float64{{0, 1500}, {1, 1600}}, false, projections.TrendUnknown, 2},
		{"span under 0.1 h", [][2]float64{{0, 1500}, {0.05, 1510}, {0.09, 1520}}, false, projections.TrendUnknown, 3},
		{"improving at exactly 1", [][2]float64{{0, 1500}, {1, 1501}, {2, 1502}}, true, projections.TrendImproving, 3},
		{"declining at exactly -1", [][2]float64{{0, 1502}, {1, 1501}, {2, 1500}}, true, projections.TrendDeclining, 3},
		{"stable under 5 points", [][2]float64{{0, 1500}, {1, 1500.5}, {2, 1501}, {3, 1501.5}}, true, projections.TrendStable, 4},
		{"plateau with 5 points", [][2]float64{{0, 1500}, {1, 1500.5}, {2, 1501}, {3, 1501.5}, {4, 1502}}, true, projections.TrendPlateau, 5},
		{"steep with 5 points is not a plateau", [][2]float64{{0, 1500}, {1, 1510}, {2, 1520}, {3, 1530}, {4, 1540}}, true, projections.TrendImproving, 5},
		{"old points leave the window", [][2]float64{{0, 1000}, {1, 2000}, {2, 500}, {100, 1500}, {101, 1500.5}}, false, projections.TrendUnknown, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := projections.NewElo()
			var ts []time.Time
			var ys []float64
			for _, p := range c.pts {
				point(t, e, p[0], p[1])
				ts, ys = append(ts, at(p[0])), append(ys, p[1])
			}
			v := e.Velocity(cfg)
			assert.Equal(t, c.valid, v.Valid)
			assert.Equal(t, c.trend, v.Trend)
			assert.Equal(t, c.points, v.Points)
			want, ok, n := naiveVelocity(ts, ys)
			assert.Equal(t, ok, v.Valid)
			assert.Equal(t, n, v.Points)
			if ok {
				assert.InDelta(t, want, v.Value, 1e-9)
			}
		})
	}
}

func TestVelocityOutOfOrderTimes(t *testing.T) {
	e := projections.NewElo()
	// 80 h, then a point appended at 5 h: the window is everything no more
	// than 72 h before 5 h, so the later-timed 80 h point is in it.
	for _, p := range [][2]float64{{0, 1500}, {1, 1510}, {2, 1520}, {80, 1600}} {
		point(t, e, p[0], p[1])
	}
	assert.Equal(t, 1, e.Velocity(cfg).Points)
	ch := point(t, e, 5, 1530)
	assert.Equal(t, 1, ch.PrevVelocity.Points)
	v := e.Velocity(cfg)
	assert.Equal(t, 5, v.Points)
	want, ok, _ := naiveVelocity(
		[]time.Time{at(0), at(1), at(2), at(80), at(5)}, []float64{1500, 1510, 1520, 1600, 1530})
	require.True(t, ok)
	assert.True(t, v.Valid)
	assert.InDelta(t, want, v.Value, 1e-9)
	// back in order at 81 h: the window is [9 h, …]: 80 h and 81 h only.
	point(t, e, 81, 1601)
	v = e.Velocity(cfg)
	assert.Equal(t, 2, v.Points)
	assert.False(t, v.Valid)
}

// TestVelocityMatchesNaive feeds long random series — in order, with
// backward jumps, bursts within the same millisecond and long gaps — and
// checks every velocity against a from-scratch computation.
func TestVelocityMatchesNaive(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		e := projections.NewElo()
		var ts []time.Time
		var ys []float64
		h := 0.0
		for i := 0; i < 1500; i++ {
			switch x := r.IntN(100); {
			case x < 3:
				h -= 200 * r.Float64() // a clock far behind
			case x < 10:
				h -= r.Float64() // skew
			case x < 12:
				h += 100 * r.Float64() // a long gap
			case x < 15:
				// same time again
			default:
				h += 0.5 * r.Float64()
			}
			y := 1200 + 600*r.Float64() + 3*h
			when := event.Millis(at(h))
			ch := e.Apply(mk(t, "evaluation_completed", cfg, "", when, evalPayload("m", ptr(y), "random", 1, 0.5)))
			ts, ys = append(ts, when), append(ys, ch.New)
			want, ok, n := naiveVelocity(ts, ys)
			v := e.Velocity(cfg)
			require.Equal(t, n, v.Points, "seed %d point %d", seed, i)
			require.Equal(t, ok, v.Valid, "seed %d point %d", seed, i)
			if ok {
				require.InDelta(t, want, v.Value, 1e-6*math.Max(1, math.Abs(want)), "seed %d point %d", seed, i)
			}
		}
	}
}

func TestVelocityChangeIsReported(t *testing.T) {
	e := projections.NewElo()
	point(t, e, 0, 1500)
	point(t, e, 1, 1510)
	ch := point(t, e, 2, 1520)
	assert.False(t, ch.PrevVelocity.Valid)
	assert.True(t, ch.Velocity.Valid)
	assert.InDelta(t, 10, ch.Velocity.Value, 1e-9)
	assert.Equal(t, projections.TrendImproving, ch.Velocity.Trend)
	ch = e.Apply(mk(t, "elo_updated", cfg, "", at(3), `{"participant":"m","elo":1000}`))
	assert.False(t, ch.Evaluation, "only evaluations add points")
	assert.InDelta(t, 10, e.Velocity(cfg).Value, 1e-9)
}

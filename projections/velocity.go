package projections

import (
	"math"
	"slices"
	"sync/atomic"
)

// Velocity window constants (projections.md, Elo): the window is 72 h before
// the last appended point, a velocity needs 3 points spanning 0.1 h, and the
// plateau class needs 5 points.
const (
	windowMillis   = 72 * 3600 * 1000
	minSpanMillis  = 360 * 1000
	millisPerHour  = 3600 * 1000.0
	minPoints      = 3
	plateauPoints  = 5
	trendThreshold = 1.0
)

// Trends of a config's Elo velocity.
const (
	TrendUnknown   = "unknown"
	TrendPlateau   = "plateau"
	TrendImproving = "improving"
	TrendDeclining = "declining"
	TrendStable    = "stable"
)

// Velocity is a config's Elo velocity: the least-squares slope in Elo per hour
// over the points of the window, its trend and the number of points in the
// window. Valid is false when the velocity is null.
type Velocity struct {
	Value  float64
	Valid  bool
	Trend  string
	Points int
}

// point is one evaluation: its time in Unix milliseconds and the evaluated
// model's rating after it.
type point struct {
	t int64
	y float64
}

// series is a config's velocity points, kept sorted by time (ties in append
// order) because the window — every point no more than 72 h before the last
// appended one, later-timed points included — is then a suffix [lo:].
//
// The sums are over that suffix with x in hours from ref. When points arrive
// in time order the window only slides forward and the sums are updated
// incrementally; a point that arrives out of order, or a ref more than one
// window behind, makes an exact recompute. Every path is a function of the
// points in append order, so the result is deterministic and a checkpoint of
// these fields continues exactly.
type series struct {
	pts []point
	// shared is set by clone: pts' backing array may be seen by a copy, so it
	// must not be modified in place (appending is fine: copies are capped).
	// Atomic so that clones taken concurrently by readers do not race.
	shared           atomic.Bool
	last             int64 // time of the last appended point
	lo               int   // first point of the window
	ref              int64 // origin of x
	sx, sy, sxx, sxy float64
	vel              Velocity
}

func (s *series) init() { s.vel = Velocity{Trend: TrendUnknown} }

func (s *series) x(t int64) float64 { return float64(t-s.ref) / millisPerHour }

func (s *series) addSums(p point) {
	x := s.x(p.t)
	s.sx += x
	s.sy += p.y
	s.sxx += x * x
	s.sxy += x * p.y
}

func (s *series) subSums(p point) {
	x := s.x(p.t)
	s.sx -= x
	s.sy -= p.y
	s.sxx -= x * x
	s.sxy -= x * p.y
}

// add appends the point (t, y) and updates the window and the velocity.
func (s *series) add(t int64, y float64) {
	p := point{t, y}
	n := len(s.pts)
	inOrder := n > 0 && t >= s.pts[n-1].t
	s.last = t
	if inOrder {
		s.pts = append(s.pts, p)
		for s.pts[s.lo].t < t-windowMillis {
			s.subSums(s.pts[s.lo])
			s.lo++
		}
		s.addSums(p)
		if t-s.ref > windowMillis {
			s.recompute()
		}
	} else {
		i, _ := slices.BinarySearchFunc(s.pts, t+1, func(q point, t int64) int { return cmpInt64(q.t, t) })
		if s.shared.Load() {
			s.pts = append(make([]point, 0, n+n/4+8), s.pts...)
			s.shared.Store(false)
		}
		s.pts = slices.Insert(s.pts, i, p)
		s.recompute()
	}
	s.vel = s.velocity()
}

// recompute sets ref to the last appended time and sums the window afresh.
func (s *series) recompute() {
	s.ref = s.last
	s.lo, _ = slices.BinarySearchFunc(s.pts, s.last-windowMillis, func(q point, t int64) int { return cmpInt64(q.t, t) })
	s.sx, s.sy, s.sxx, s.sxy = 0, 0, 0, 0
	for _, p := range s.pts[s.lo:] {
		s.addSums(p)
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// velocity computes the velocity of the current window from the sums.
func (s *series) velocity() Velocity {
	m := len(s.pts) - s.lo
	v := Velocity{Trend: TrendUnknown, Points: m}
	if m < minPoints || s.pts[len(s.pts)-1].t-s.pts[s.lo].t < minSpanMillis {
		return v
	}
	fm := float64(m)
	den := fm*s.sxx - s.sx*s.sx
	if !(den > 0) {
		return v
	}
	v.Value = (fm*s.sxy - s.sx*s.sy) / den
	if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
		v.Value = 0
		return v
	}
	v.Valid = true
	v.Trend = trendOf(v.Value, m)
	return v
}

// trendOf classifies a (non-null) velocity with m points in the window.
func trendOf(v float64, m int) string {
	switch {
	case math.Abs(v) < trendThreshold && m >= plateauPoints:
		return TrendPlateau
	case v >= trendThreshold:
		return TrendImproving
	case v <= -trendThreshold:
		return TrendDeclining
	}
	return TrendStable
}

// cloneInto makes c a copy of s that shares the points' backing array
// copy-on-write.
func (s *series) cloneInto(c *series) {
	s.shared.Store(true)
	c.pts = s.pts[:len(s.pts):len(s.pts)]
	c.shared.Store(true)
	c.last, c.lo, c.ref = s.last, s.lo, s.ref
	c.sx, c.sy, c.sxx, c.sxy = s.sx, s.sy, s.sxx, s.sxy
	c.vel = s.vel
}

package projections

import (
	"maps"
	"math"
	"slices"

	"github.com/ringrift/ringriftd/event"
)

// Elo constants of projections.md.
const (
	// InitialElo is the rating a participant's entry starts with.
	InitialElo = 1500.0
	// MinElo and MaxElo bound every rating.
	MinElo = 100.0
	MaxElo = 3000.0
	// RandomElo and HeuristicElo are the fixed anchors.
	RandomElo    = 400.0
	HeuristicElo = 1200.0
	// solverTolerance is the width of the bisection's final interval.
	solverTolerance = 1e-6
)

// Opponent and participant names with a meaning of their own.
const (
	Random    = "random"
	Heuristic = "heuristic"
	// ChampionOpponent names, among an evaluation's opponents, the config's
	// champion.
	ChampionOpponent = "champion"
)

// Rating is a participant's entry in one config.
type Rating struct {
	Elo   float64
	Games int64
}

// eloConfig is the Elo state of one config.
type eloConfig struct {
	champion    string // "" = none
	championElo float64
	ratings     map[string]Rating
	series      series
	history     eloHistory // elo_history.go
}

func newEloConfig() *eloConfig {
	c := &eloConfig{ratings: map[string]Rating{}}
	c.series.init()
	return c
}

// rating returns the rating of a participant: the anchors' fixed values, or
// its entry.
func (c *eloConfig) rating(name string) (float64, bool) {
	switch name {
	case Random:
		return RandomElo, true
	case Heuristic:
		return HeuristicElo, true
	}
	if r, ok := c.ratings[name]; ok {
		return r.Elo, true
	}
	return 0, false
}

func isAnchor(name string) bool { return name == Random || name == Heuristic }

// Elo is the Elo projection: ratings per config and participant, champions and
// velocities (projections.md). The zero value is not usable; use NewElo.
type Elo struct {
	configs map[string]*eloConfig
	keys    []string // sorted
	// canon holds the canonical configs of configs by canonicalIndex, a
	// lookup without hashing for the common case.
	canon []*eloConfig
}

// NewElo returns the projection before any event: the twelve canonical
// configs without champion, ratings or points.
func NewElo() *Elo {
	e := &Elo{configs: map[string]*eloConfig{}, keys: event.ConfigKeys()}
	for _, k := range e.keys {
		e.configs[k] = newEloConfig()
	}
	e.index()
	return e
}

// index fills canon from configs.
func (e *Elo) index() {
	e.canon = make([]*eloConfig, len(canonicalKeys))
	for i, k := range canonicalKeys {
		e.canon[i] = e.configs[k]
	}
}

// EloChange says what one event did to the Elo projection, for the policies.
type EloChange struct {
	// Config is the event's config ("" when the event has none).
	Config string
	// Participant is the participant whose rating the event set
	// (evaluation_completed, elo_updated, model_promoted); "" when none.
	Participant string
	// Old and New are its rating before (1500 when it had no entry) and
	// after; Created says the event created its entry.
	Old, New float64
	Created  bool
	// Champion is true when the champion or champion_elo changed.
	Champion bool
	// Evaluation is true for evaluation_completed: a velocity point was
	// added, and PrevVelocity and Velocity are the config's velocity before
	// and after.
	Evaluation   bool
	PrevVelocity Velocity
	Velocity     Velocity
}

// config returns the state of key, creating it (an extended config's first
// event).
func (e *Elo) config(key string) *eloConfig {
	if i := canonicalIndex(key); i >= 0 {
		return e.canon[i]
	}
	c, ok := e.configs[key]
	if !ok {
		c = newEloConfig()
		e.configs[key] = c
		i, _ := slices.BinarySearch(e.keys, key)
		e.keys = slices.Insert(e.keys, i, key)
	}
	return c
}

// Apply folds one event into the projection and says what changed.
func (e *Elo) Apply(ev *event.Event) EloChange {
	ch := EloChange{Config: ev.ConfigKey}
	if ev.ConfigKey == "" {
		return ch
	}
	c := e.config(ev.ConfigKey)
	switch ev.Type {
	case "evaluation_completed":
		e.evaluation(c, ev, &ch)
	case "elo_updated":
		name, ok := ev.Str("participant")
		elo, okElo := ev.Num("elo")
		if !ok || !okElo {
			break
		}
		ch.setRating(c, name, clampElo(elo), true, 0)
	case "model_promoted":
		model, ok := ev.Str("model_path")
		if !ok {
			break
		}
		elo, hasElo := ev.Num("elo")
		ch.setRating(c, model, clampElo(elo), hasElo, 0)
		r, _ := c.rating(model)
		ch.Champion = c.champion != model || c.championElo != r
		c.champion, c.championElo = model, r
	case "promotion_rolled_back":
		to, ok := ev.Str("to_model")
		if !ok {
			break
		}
		r, rated := c.rating(to)
		if !rated {
			r = InitialElo
		}
		ch.Champion = c.champion != to || c.championElo != r
		c.champion, c.championElo = to, r
	}
	c.history.record(ev, &ch, c)
	return ch
}

// setRating creates the participant's entry (at 1500; an anchor never has
// one), gives it rating r when set, adds games, and records the change in ch.
func (ch *EloChange) setRating(c *eloConfig, name string, r float64, set bool, games int64) {
	ch.Participant = name
	if isAnchor(name) {
		ch.Old, _ = c.rating(name)
		ch.New = ch.Old
		return
	}
	en, had := c.ratings[name]
	if !had {
		en.Elo = InitialElo
	}
	ch.Old, ch.Created = en.Elo, !had
	if set {
		en.Elo = r
	}
	en.Games += games
	c.ratings[name] = en
	ch.New = en.Elo
}

// RatedOpponent is one opponent of an evaluation that has a rating in the
// config: the games played against it and its rating.
type RatedOpponent struct {
	Games int64
	Elo   float64
}

// evaluation applies an evaluation_completed.
func (e *Elo) evaluation(c *eloConfig, ev *event.Event, ch *EloChange) {
	model, ok := ev.Str("model_path")
	if !ok {
		return
	}
	var (
		buf  [8]RatedOpponent
		opps = buf[:0]
		sumN int64
		s    float64
	)
	for _, o := range ev.Opponents() {
		var r float64
		switch {
		case o.Name == ChampionOpponent:
			if c.champion == "" || c.champion == model {
				continue
			}
			if r, ok = c.rating(c.champion); !ok {
				r = InitialElo
			}
		default:
			if r, ok = c.rating(o.Name); !ok {
				continue
			}
		}
		opps = append(opps, RatedOpponent{o.Games, r})
		sumN += o.Games
		s += float64(o.Games) * o.WinRate
	}
	elo, hasElo := ev.Num("elo")
	switch {
	case hasElo:
		ch.setRating(c, model, clampElo(elo), true, sumN)
	case sumN > 0:
		ch.setRating(c, model, PerformanceRating(opps, s), true, sumN)
	default:
		ch.setRating(c, model, 0, false, 0)
	}
	ch.Evaluation = true
	ch.PrevVelocity = c.series.vel
	c.series.add(ev.Time.UnixMilli(), ch.New)
	ch.Velocity = c.series.vel
}

// PerformanceRating returns the R in [100, 3000] that solves
// Σₒ nₒ·E(R, Rₒ) = S with E(R, Rₒ) = 1 / (1 + 10^((Rₒ − R)/400)), by bisection
// to 1e-6, opponents taken in the given order. S = 0 counts as 0.5 and S = Σ nₒ
// as Σ nₒ − 0.5, so that a perfect score has a finite rating; a solution
// outside [100, 3000] is clamped to the nearer bound. Without games it
// returns 1500. Apply uses it for evaluations without an elo.
//
// The bisection keeps lo and the width w = 2900/2^k of [lo, lo+w]; it halves
// w, tests mid = lo + w and returns the middle of the last interval, 32
// halvings in all. 10^((Rₒ − R)/400) is computed as qₒ·z(R), with
// qₒ = 10^(Rₒ/400) once per opponent and z(R) = 10^(−R/400) carried along:
// z(lo + w) = z(lo)·10^(−w/400), a factor taken from a table, so a step costs
// no exponential.
func PerformanceRating(opps []RatedOpponent, s float64) float64 {
	var total float64
	for _, o := range opps {
		total += float64(o.Games)
	}
	if total == 0 {
		return InitialElo
	}
	switch s {
	case 0:
		s = 0.5
	case total:
		s = total - 0.5
	}
	var buf [8]float64
	q := buf[:0]
	for _, o := range opps {
		q = append(q, math.Pow(10, o.Elo/400))
	}
	zlo := math.Pow(10, -MinElo/400)
	if expectedScore(opps, q, zlo) >= s {
		return MinElo
	}
	if expectedScore(opps, q, math.Pow(10, -MaxElo/400)) <= s {
		return MaxElo
	}
	lo, w := MinElo, MaxElo-MinElo
	for _, step := range bisection {
		w /= 2
		zmid := zlo * step
		if expectedScore(opps, q, zmid) < s {
			lo, zlo = lo+w, zmid
		}
	}
	return lo + w/2
}

// bisection holds, for each halving k = 1, 2, …, the factor 10^(−w/400) with
// w = 2900/2^k, until w ≤ 1e-6.
var bisection = func() []float64 {
	var out []float64
	for w := MaxElo - MinElo; w > solverTolerance; {
		w /= 2
		out = append(out, math.Pow(10, -w/400))
	}
	return out
}()

// expectedScore is Σₒ nₒ·E(R, Rₒ), summed in order, for z = 10^(−R/400);
// q holds 10^(Rₒ/400).
func expectedScore(opps []RatedOpponent, q []float64, z float64) float64 {
	var sum float64
	for i, o := range opps {
		sum += float64(o.Games) / (1 + q[i]*z)
	}
	return sum
}

func clampElo(x float64) float64 { return min(max(x, MinElo), MaxElo) }

// Configs returns the configs of the projection in sorted order.
func (e *Elo) Configs() []string { return slices.Clone(e.keys) }

// Rating returns a participant's rating in a config: the anchors' fixed
// values, or its entry; false when it has none.
func (e *Elo) Rating(config, participant string) (float64, bool) {
	c, ok := e.configs[config]
	if !ok {
		if isAnchor(participant) {
			return (&eloConfig{}).rating(participant)
		}
		return 0, false
	}
	return c.rating(participant)
}

// Entry returns a participant's entry (rating and games) in a config; false
// for anchors and participants without one.
func (e *Elo) Entry(config, participant string) (Rating, bool) {
	if c, ok := e.configs[config]; ok {
		if r, ok := c.ratings[participant]; ok {
			return r, true
		}
	}
	return Rating{}, false
}

// Champion returns a config's champion, "" when it has none.
func (e *Elo) Champion(config string) string {
	if c, ok := e.configs[config]; ok {
		return c.champion
	}
	return ""
}

// ChampionElo returns the Elo of a config's champion at its promotion (or
// rollback); false when the config has no champion.
func (e *Elo) ChampionElo(config string) (float64, bool) {
	if c, ok := e.configs[config]; ok && c.champion != "" {
		return c.championElo, true
	}
	return 0, false
}

// Velocity returns a config's velocity, trend and points in the window; an
// unknown config has a null velocity and trend unknown.
func (e *Elo) Velocity(config string) Velocity {
	if c, ok := e.configs[config]; ok {
		return c.series.vel
	}
	return Velocity{Trend: TrendUnknown}
}

// Trend returns a config's trend class.
func (e *Elo) Trend(config string) string { return e.Velocity(config).Trend }

// Clone returns a deep copy: folding into one never changes the other. The
// velocity points are shared copy-on-write, so a clone costs the ratings maps,
// not the series. Like Apply, it is for the fold's writer (or under its lock).
func (e *Elo) Clone() *Elo {
	out := &Elo{configs: make(map[string]*eloConfig, len(e.configs)), keys: slices.Clone(e.keys)}
	for k, c := range e.configs {
		n := &eloConfig{champion: c.champion, championElo: c.championElo, ratings: maps.Clone(c.ratings), history: c.history.clone()}
		c.series.cloneInto(&n.series)
		out.configs[k] = n
	}
	out.index()
	return out
}

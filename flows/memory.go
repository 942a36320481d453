package flows

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ringrift/ringriftd/event"
)

// View is what the policies read of the projections (the engine adapts
// them; flows cannot import projections, which imports flows).
type View interface {
	// Rating is a participant's rating in a config (anchors included).
	Rating(config, participant string) (float64, bool)
	// ChampionElo is the config's champion's Elo at its promotion.
	ChampionElo(config string) (float64, bool)
	// Velocity is the config's Elo velocity (valid false when null) and
	// trend class.
	Velocity(config string) (v float64, valid bool, trend string)
	// Tier is the config's curriculum tier.
	Tier(config string) int
	// AppendWeights writes every config's curriculum weight as a JSON
	// object (sorted keys, the projection's rounding).
	AppendWeights(b []byte) []byte
}

// Memory is the policies' memory that is not kept on the machines: Elo
// bases, the last emitted velocity and the times of recent curriculum
// advances. Like the regression counts (Pipeline.Regression), it is folded
// from the journal whether or not a policy is on: switching a policy off
// only stops its emissions.
type Memory struct {
	eloBase  map[string]map[string]float64 // config → participant → new_elo of its last elo_significant_change
	velocity map[string]emittedVelocity    // config → last elo_velocity_changed
	advanced map[string][]time.Time        // config → times of its last curriculum_advanced events
}

// emittedVelocity is the velocity of the last elo_velocity_changed.
type emittedVelocity struct {
	V     float64 `json:"v"`
	Valid bool    `json:"valid"`
	Trend string  `json:"trend"`
}

// maxAdvances bounds the advance times kept per config: the plateau
// cooldown looks back hours, in which a config advances a few times at most.
const maxAdvances = 8

// NewMemory returns the memory of an empty journal.
func NewMemory() *Memory {
	return &Memory{eloBase: map[string]map[string]float64{}, velocity: map[string]emittedVelocity{},
		advanced: map[string][]time.Time{}}
}

// Fold remembers what the policies need of an accepted event (not a lenient
// violation).
func (mem *Memory) Fold(e *event.Event) {
	switch e.Type {
	case "elo_significant_change":
		p, ok := e.Str("participant")
		n, okN := e.Num("new_elo")
		if !ok || !okN || e.ConfigKey == "" {
			return
		}
		m := mem.eloBase[e.ConfigKey]
		if m == nil {
			m = map[string]float64{}
			mem.eloBase[e.ConfigKey] = m
		}
		m[p] = n
	case "elo_velocity_changed":
		if e.ConfigKey == "" {
			return
		}
		v, ok := e.Num("velocity")
		trend, _ := e.Str("trend")
		mem.velocity[e.ConfigKey] = emittedVelocity{V: v, Valid: ok, Trend: trend}
	case "curriculum_advanced":
		if e.ConfigKey == "" {
			return
		}
		ts := append(mem.advanced[e.ConfigKey], e.Time)
		if len(ts) > maxAdvances {
			ts = slices.Clone(ts[len(ts)-maxAdvances:])
		}
		mem.advanced[e.ConfigKey] = ts
	}
}

// EloBase is the rating a participant's significant changes are measured
// from: the new_elo of its last elo_significant_change, else 1500.
func (mem *Memory) EloBase(config, participant string) float64 {
	if b, ok := mem.eloBase[config][participant]; ok {
		return b
	}
	return 1500
}

// lastVelocity is the last emitted velocity of a config (initially null,
// trend unknown).
func (mem *Memory) lastVelocity(config string) emittedVelocity {
	if v, ok := mem.velocity[config]; ok {
		return v
	}
	return emittedVelocity{Trend: "unknown"}
}

// advancedWithin reports whether a curriculum_advanced of config has a
// time 0 to < d before t.
func (mem *Memory) advancedWithin(config string, t time.Time, d time.Duration) bool {
	for _, a := range mem.advanced[config] {
		if age := t.Sub(a); age >= 0 && age < d {
			return true
		}
	}
	return false
}

// Clone returns an independent copy.
func (mem *Memory) Clone() *Memory {
	c := &Memory{eloBase: make(map[string]map[string]float64, len(mem.eloBase)),
		velocity: make(map[string]emittedVelocity, len(mem.velocity)),
		advanced: make(map[string][]time.Time, len(mem.advanced))}
	for k, m := range mem.eloBase {
		c.eloBase[k] = make(map[string]float64, len(m))
		for p, v := range m {
			c.eloBase[k][p] = v
		}
	}
	for k, v := range mem.velocity {
		c.velocity[k] = v
	}
	for k, ts := range mem.advanced {
		c.advanced[k] = slices.Clone(ts)
	}
	return c
}

type memoryJSON struct {
	EloBase  map[string]map[string]float64 `json:"elo_base"`
	Velocity map[string]emittedVelocity    `json:"velocity"`
	Advanced map[string][]int64            `json:"advanced_ms"` // unix ms: any time a journal holds encodes
}

// MarshalJSON encodes the memory for a checkpoint.
func (mem *Memory) MarshalJSON() ([]byte, error) {
	adv := make(map[string][]int64, len(mem.advanced))
	for k, ts := range mem.advanced {
		ms := make([]int64, len(ts))
		for i, t := range ts {
			ms[i] = t.UnixMilli()
		}
		adv[k] = ms
	}
	return json.Marshal(memoryJSON{mem.eloBase, mem.velocity, adv})
}

// UnmarshalJSON restores a checkpoint's memory.
func (mem *Memory) UnmarshalJSON(b []byte) error {
	var j memoryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: memory: %w", ErrCheckpoint, err)
	}
	n := NewMemory()
	for k, m := range j.EloBase {
		for p, v := range m {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: memory: elo base of %s/%s", ErrCheckpoint, k, p)
			}
		}
		n.eloBase[k] = m
	}
	for k, v := range j.Velocity {
		n.velocity[k] = v
	}
	for k, ms := range j.Advanced {
		ts := make([]time.Time, len(ms))
		for i, m := range ms {
			ts[i] = time.UnixMilli(m).UTC()
		}
		n.advanced[k] = ts
	}
	*mem = *n
	return nil
}

// RegressionCheck is what a monitoring evaluation did to the regression
// memory; the regression policy emits from it.
type RegressionCheck struct {
	Checked     bool // a monitoring evaluation_completed with enough games
	Detected    bool
	Severity    string // minor, moderate, severe, critical (when detected)
	Drop        float64
	Consecutive int  // the count after the check
	Cleared     bool // the count reached 0 from above
	Model       string
}

// FoldRegression updates the regression memory of the event's config (on
// the machines, where the pipeline projection shows it) after the machines
// and the projections took e: a monitoring evaluation_completed with at
// least RegressionGames games is a check; model_promoted and
// promotion_rolled_back reset the count.
func (m *Machines) FoldRegression(e *event.Event, ch Change, v View, t *Thresholds) RegressionCheck {
	if e.ConfigKey == "" {
		return RegressionCheck{}
	}
	switch e.Type {
	case "model_promoted", "promotion_rolled_back":
		if p := m.pipelines[e.ConfigKey]; p != nil {
			p.Regression = Regression{}
		}
		return RegressionCheck{}
	case "evaluation_completed":
	default:
		return RegressionCheck{}
	}
	if !ch.Monitoring {
		return RegressionCheck{}
	}
	var games int64
	for _, o := range e.Opponents() {
		games += o.Games
	}
	if games < t.RegressionGames {
		return RegressionCheck{}
	}
	p := m.pipeline(e.ConfigKey)
	model := p.Champion()
	atPromotion, ok1 := v.ChampionElo(e.ConfigKey)
	now, ok2 := v.Rating(e.ConfigKey, model)
	if !ok1 || !ok2 {
		return RegressionCheck{}
	}
	c := RegressionCheck{Checked: true, Model: model, Drop: atPromotion - now}
	r := &p.Regression
	switch {
	case c.Drop >= t.Critical:
		c.Severity = "critical"
	case c.Drop >= t.Severe:
		c.Severity = "severe"
	case c.Drop >= t.Moderate:
		c.Severity = "moderate"
	case c.Drop >= t.Minor:
		c.Severity = "minor"
	}
	if c.Severity == "" {
		if r.Consecutive > 0 {
			r.Consecutive--
			if r.Consecutive == 0 {
				c.Cleared = true
				r.LastSeverity = ""
			}
		}
		c.Consecutive = r.Consecutive
		return c
	}
	c.Detected = true
	r.Consecutive++
	switch {
	case r.Consecutive >= 3:
		c.Severity = "critical"
	case r.Consecutive >= 2 && c.Severity == "minor":
		c.Severity = "moderate"
	case r.Consecutive >= 2 && c.Severity == "moderate":
		c.Severity = "severe"
	}
	r.LastSeverity = c.Severity
	c.Consecutive = r.Consecutive
	return c
}

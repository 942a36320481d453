package projections

import (
	"math"
	"slices"

	"github.com/ringrift/ringriftd/event"
)

// Curriculum constants of projections.md.
const (
	InitialWeight = 1.0
	MinWeight     = 0.5
	MaxWeight     = 2.0
	MaxTier       = 3
)

// curriculumRule returns the rule of projections.md for the event types whose
// rule only depends on the current weight: w := w×mul + add.
func curriculumRule(typ string) (mul, add float64, ok bool) {
	switch typ {
	case "model_promoted":
		return 1, -0.10, true
	case "promotion_rejected", "promotion_failed":
		return 1, +0.15, true
	case "training_early_stopped":
		return 1.3, 0, true
	case "opponent_mastered":
		return 0.9, 0, true
	case "regression_moderate":
		return 1.1, 0, true
	case "regression_severe":
		return 1.25, 0, true
	case "regression_critical":
		return 1.5, 0, true
	}
	return 0, 0, false
}

type curriculumConfig struct {
	weight float64
	tier   int
}

// Curriculum is the curriculum projection: a weight and a tier per config
// (projections.md). The zero value is not usable; use NewCurriculum.
type Curriculum struct {
	configs map[string]*curriculumConfig
	keys    []string            // sorted
	canon   []*curriculumConfig // the canonical configs by canonicalIndex
}

// NewCurriculum returns the projection before any event: the twelve canonical
// configs at weight 1.0, tier 0.
func NewCurriculum() *Curriculum {
	c := &Curriculum{configs: map[string]*curriculumConfig{}, keys: event.ConfigKeys()}
	for _, k := range c.keys {
		c.configs[k] = &curriculumConfig{weight: InitialWeight}
	}
	c.index()
	return c
}

// index fills canon from configs.
func (c *Curriculum) index() {
	c.canon = make([]*curriculumConfig, len(canonicalKeys))
	for i, k := range canonicalKeys {
		c.canon[i] = c.configs[k]
	}
}

// normWeight clamps a weight to [0.5, 2.0] and rounds it to 3 decimals, half
// away from zero on the binary value: the state after every rule.
func normWeight(w float64) float64 {
	return math.Round(min(max(w, MinWeight), MaxWeight)*1000) / 1000
}

func (c *Curriculum) config(key string) *curriculumConfig {
	if i := canonicalIndex(key); i >= 0 {
		return c.canon[i]
	}
	cc, ok := c.configs[key]
	if !ok {
		cc = &curriculumConfig{weight: InitialWeight}
		c.configs[key] = cc
		i, _ := slices.BinarySearch(c.keys, key)
		c.keys = slices.Insert(c.keys, i, key)
	}
	return cc
}

// Apply folds one event into the projection and reports whether any weight
// changed (the curriculum policy emits only then). A config's first event
// adds it at 1.0, which is not a change.
func (c *Curriculum) Apply(e *event.Event) bool {
	if e.Type == "curriculum_rebalanced" {
		if e.ConfigKey != "" {
			c.config(e.ConfigKey)
		}
		changed := false
		e.EachWeight(func(k string, w float64) {
			changed = c.set(c.config(k), w) || changed
		})
		return changed
	}
	if e.ConfigKey == "" {
		return false
	}
	cc := c.config(e.ConfigKey)
	if mul, add, ok := curriculumRule(e.Type); ok {
		return c.set(cc, cc.weight*mul+add)
	}
	switch e.Type {
	case "curriculum_advanced":
		n, ok := e.Int("new_tier")
		if !ok || n > MaxTier {
			return false
		}
		old := cc.tier
		cc.tier = int(n)
		if cc.tier > old {
			return c.set(cc, cc.weight-0.05*float64(cc.tier-old))
		}
	case "weight_updated":
		if w, ok := e.Num("new_weight"); ok {
			return c.set(cc, w)
		}
	}
	return false
}

// set gives a config the normalised weight w and reports whether it changed.
func (c *Curriculum) set(cc *curriculumConfig, w float64) bool {
	w = normWeight(w)
	changed := w != cc.weight
	cc.weight = w
	return changed
}

// Configs returns the configs of the projection in sorted order.
func (c *Curriculum) Configs() []string { return slices.Clone(c.keys) }

// Weight returns a config's weight; false for a config the projection does
// not know.
func (c *Curriculum) Weight(config string) (float64, bool) {
	if cc, ok := c.configs[config]; ok {
		return cc.weight, true
	}
	return 0, false
}

// Tier returns a config's tier (0 for an unknown config).
func (c *Curriculum) Tier(config string) int {
	if cc, ok := c.configs[config]; ok {
		return cc.tier
	}
	return 0
}

// Weights returns every config's weight (a copy).
func (c *Curriculum) Weights() map[string]float64 {
	out := make(map[string]float64, len(c.keys))
	for _, k := range c.keys {
		out[k] = c.configs[k].weight
	}
	return out
}

// Shares returns each config's weight over the sum of all weights (summed in
// key order), the input of self-play allocation.
func (c *Curriculum) Shares() map[string]float64 {
	total := c.total()
	out := make(map[string]float64, len(c.keys))
	for _, k := range c.keys {
		out[k] = c.configs[k].weight / total
	}
	return out
}

func (c *Curriculum) total() float64 {
	var total float64
	for _, k := range c.keys {
		total += c.configs[k].weight
	}
	return total
}

// Clone returns a deep copy.
func (c *Curriculum) Clone() *Curriculum {
	out := &Curriculum{configs: make(map[string]*curriculumConfig, len(c.configs)), keys: slices.Clone(c.keys)}
	for k, cc := range c.configs {
		cp := *cc
		out.configs[k] = &cp
	}
	out.index()
	return out
}

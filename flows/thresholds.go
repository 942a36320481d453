package flows

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Policy is one policy of flows.md, a bit of a PolicySet.
type Policy uint8

// The policies, in the fixed order they run on each event.
const (
	PolicyThreshold Policy = 1 << iota
	PolicyPromotion
	PolicyFeedback
	PolicyRegression
	PolicyElo
	PolicyRecovery
	PolicyCluster
	PolicyCurriculum
)

// PolicySet is a set of policies. The zero value has every policy off:
// ringriftd then only journals, enforces and projects.
type PolicySet uint8

// AllPolicies has every policy on (the daemon's default).
const AllPolicies PolicySet = 0xff

// policyOrder is the order of flows.md's "Order of decisions".
var policyOrder = []struct {
	p    Policy
	name string
}{
	{PolicyThreshold, "threshold"}, {PolicyPromotion, "promotion"}, {PolicyFeedback, "feedback"},
	{PolicyRegression, "regression"}, {PolicyElo, "elo"}, {PolicyRecovery, "recovery"},
	{PolicyCluster, "cluster"}, {PolicyCurriculum, "curriculum"},
}

// PolicyNames are the policy names in their order.
func PolicyNames() []string {
	out := make([]string, len(policyOrder))
	for i, p := range policyOrder {
		out[i] = p.name
	}
	return out
}

// String returns the policy's name ("threshold" …).
func (p Policy) String() string {
	for _, q := range policyOrder {
		if q.p == p {
			return q.name
		}
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// Has reports whether p is on.
func (s PolicySet) Has(p Policy) bool { return s&PolicySet(p) != 0 }

// String lists the policies that are on ("all", "none" or names joined
// by commas), the form ParsePolicies reads.
func (s PolicySet) String() string {
	switch s {
	case AllPolicies:
		return "all"
	case 0:
		return "none"
	}
	var names []string
	for _, p := range policyOrder {
		if s.Has(p.p) {
			names = append(names, p.name)
		}
	}
	return strings.Join(names, ",")
}

// ParsePolicies reads "all", "none" or a comma-separated list of policy
// names.
func ParsePolicies(s string) (PolicySet, error) {
	switch strings.TrimSpace(s) {
	case "all":
		return AllPolicies, nil
	case "none", "":
		return 0, nil
	}
	var set PolicySet
	for _, name := range strings.Split(s, ",") {
		p, err := PolicyByName(strings.TrimSpace(name))
		if err != nil {
			return 0, err
		}
		set |= PolicySet(p)
	}
	return set, nil
}

// PolicyByName returns the policy called name.
func PolicyByName(name string) (Policy, error) {
	for _, p := range policyOrder {
		if p.name == name {
			return p.p, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown policy %q; want all, none or a list of %s",
		ErrPolicyConfig, name, strings.Join(PolicyNames(), ", "))
}

// PlayerThresholds are the thresholds that depend on a config's player
// count.
type PlayerThresholds struct {
	// TrainingGames is the threshold policy's games since training.
	TrainingGames int64 `yaml:"training_games" json:"training_games"`
	// MinGames is the promotion gate min_games: games against each baseline.
	MinGames int64 `yaml:"min_games" json:"min_games"`
	// WinRateRandom and WinRateHeuristic are the promotion gates
	// win_rate_random and win_rate_heuristic.
	WinRateRandom    float64 `yaml:"win_rate_random" json:"win_rate_random"`
	WinRateHeuristic float64 `yaml:"win_rate_heuristic" json:"win_rate_heuristic"`
}

// Thresholds are every number the policies decide by (flows.md), with the
// spec's values in DefaultThresholds.
type Thresholds struct {
	// Players holds the per-player-count thresholds, index players−2
	// (2p, 3p, 4p).
	Players [3]PlayerThresholds `yaml:"players" json:"players"`

	// ChampionWinRate is gate 5 without a champion: the combined win rate.
	ChampionWinRate float64 `yaml:"champion_win_rate" json:"champion_win_rate"`
	// WilsonZ and WilsonMin: with a champion in the results, the Wilson
	// lower bound (z) of the win rate against it must exceed WilsonMin.
	WilsonZ   float64 `yaml:"wilson_z" json:"wilson_z"`
	WilsonMin float64 `yaml:"wilson_min" json:"wilson_min"`
	// EloGain is gate 5 with a champion not in the results: the model's
	// Elo over the champion's current rating.
	EloGain float64 `yaml:"elo_gain" json:"elo_gain"`

	// Strong and Weak are the feedback win rates against heuristic (strong
	// at or above, weak below), with the multipliers they send.
	Strong                float64 `yaml:"strong" json:"strong"`
	ExplorationMultiplier float64 `yaml:"exploration_multiplier" json:"exploration_multiplier"`
	Weak                  float64 `yaml:"weak" json:"weak"`
	GamesMultiplier       float64 `yaml:"games_multiplier" json:"games_multiplier"`
	// MaxTier is the curriculum's top tier; AdvanceCooldown the time after
	// a curriculum_advanced during which plateau does not advance again.
	MaxTier         int           `yaml:"max_tier" json:"max_tier"`
	AdvanceCooldown time.Duration `yaml:"advance_cooldown" json:"advance_cooldown"`

	// RegressionGames is the games a monitoring evaluation needs to be
	// checked; Minor … Critical the Elo drops of each severity.
	RegressionGames int64   `yaml:"regression_games" json:"regression_games"`
	Minor           float64 `yaml:"minor" json:"minor"`
	Moderate        float64 `yaml:"moderate" json:"moderate"`
	Severe          float64 `yaml:"severe" json:"severe"`
	Critical        float64 `yaml:"critical" json:"critical"`

	// EloSignificant is the move from its base that makes a rating change
	// significant; VelocityChange the velocity change (Elo/h) worth a
	// elo_velocity_changed.
	EloSignificant float64 `yaml:"elo_significant" json:"elo_significant"`
	VelocityChange float64 `yaml:"velocity_change" json:"velocity_change"`

	// ClusterDegraded and ClusterCritical are the percentages of failing
	// known nodes at which the cluster is degraded and critical.
	ClusterDegraded int `yaml:"cluster_degraded" json:"cluster_degraded"`
	ClusterCritical int `yaml:"cluster_critical" json:"cluster_critical"`

	// MaxCascadeDepth is the deepest decision a cascade may reach (the
	// posted event is depth 0).
	MaxCascadeDepth int `yaml:"max_cascade_depth" json:"max_cascade_depth"`
}

// DefaultThresholds returns the thresholds of flows.md.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Players: [3]PlayerThresholds{
			{TrainingGames: 50, MinGames: 50, WinRateRandom: 0.85, WinRateHeuristic: 0.65},
			{TrainingGames: 70, MinGames: 70, WinRateRandom: 0.55, WinRateHeuristic: 0.45},
			{TrainingGames: 100, MinGames: 100, WinRateRandom: 0.45, WinRateHeuristic: 0.35},
		},
		ChampionWinRate: 0.65, WilsonZ: 1.96, WilsonMin: 0.5, EloGain: 25,
		Strong: 0.80, ExplorationMultiplier: 0.8, Weak: 0.50, GamesMultiplier: 1.5,
		MaxTier: 3, AdvanceCooldown: 2 * time.Hour,
		RegressionGames: 50, Minor: 20, Moderate: 35, Severe: 50, Critical: 75,
		EloSignificant: 30, VelocityChange: 5,
		ClusterDegraded: 20, ClusterCritical: 40,
		MaxCascadeDepth: 8,
	}
}

// For returns the thresholds of a config with the given player count
// (counts outside 2–4 take the nearest).
func (t *Thresholds) For(players int) *PlayerThresholds {
	return &t.Players[min(max(players, 2), 4)-2]
}

// Validate checks that every threshold is usable; the error names the
// field and what would be accepted, and wraps ErrPolicyConfig.
func (t *Thresholds) Validate() error {
	bad := func(field, want string, got any) error {
		return fmt.Errorf("%w: %s = %v; want %s", ErrPolicyConfig, field, got, want)
	}
	rate := func(field string, v float64) error {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return bad(field, "a rate in [0, 1]", v)
		}
		return nil
	}
	positive := func(field string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return bad(field, "a finite number > 0", v)
		}
		return nil
	}
	for i, p := range t.Players {
		prefix := fmt.Sprintf("players.%dp.", i+2)
		if p.TrainingGames < 1 {
			return bad(prefix+"training_games", "an integer ≥ 1", p.TrainingGames)
		}
		if p.MinGames < 0 {
			return bad(prefix+"min_games", "an integer ≥ 0", p.MinGames)
		}
		if err := rate(prefix+"win_rate_random", p.WinRateRandom); err != nil {
			return err
		}
		if err := rate(prefix+"win_rate_heuristic", p.WinRateHeuristic); err != nil {
			return err
		}
	}
	for _, r := range []struct {
		f string
		v float64
	}{{"champion_win_rate", t.ChampionWinRate}, {"wilson_min", t.WilsonMin}, {"strong", t.Strong}, {"weak", t.Weak}} {
		if err := rate(r.f, r.v); err != nil {
			return err
		}
	}
	for _, r := range []struct {
		f string
		v float64
	}{{"wilson_z", t.WilsonZ}, {"exploration_multiplier", t.ExplorationMultiplier}, {"games_multiplier", t.GamesMultiplier},
		{"elo_significant", t.EloSignificant}, {"velocity_change", t.VelocityChange}, {"minor", t.Minor}} {
		if err := positive(r.f, r.v); err != nil {
			return err
		}
	}
	if math.IsNaN(t.EloGain) || math.IsInf(t.EloGain, 0) {
		return bad("elo_gain", "a finite number", t.EloGain)
	}
	if !(t.Minor <= t.Moderate && t.Moderate <= t.Severe && t.Severe <= t.Critical) || math.IsInf(t.Critical, 0) {
		return bad("minor/moderate/severe/critical", "finite drops with minor ≤ moderate ≤ severe ≤ critical",
			fmt.Sprintf("%v/%v/%v/%v", t.Minor, t.Moderate, t.Severe, t.Critical))
	}
	if t.Weak > t.Strong {
		return bad("weak", fmt.Sprintf("a rate ≤ strong (%v)", t.Strong), t.Weak)
	}
	if t.MaxTier < 0 || t.MaxTier > 3 {
		return bad("max_tier", "an integer 0–3 (curriculum tiers)", t.MaxTier)
	}
	if t.AdvanceCooldown < 0 {
		return bad("advance_cooldown", "a duration ≥ 0", t.AdvanceCooldown)
	}
	if t.RegressionGames < 0 {
		return bad("regression_games", "an integer ≥ 0", t.RegressionGames)
	}
	if t.ClusterDegraded < 1 || t.ClusterDegraded > t.ClusterCritical || t.ClusterCritical > 100 {
		return bad("cluster_degraded/cluster_critical", "percentages with 1 ≤ degraded ≤ critical ≤ 100",
			fmt.Sprintf("%d/%d", t.ClusterDegraded, t.ClusterCritical))
	}
	if t.MaxCascadeDepth < 1 || t.MaxCascadeDepth > 64 {
		return bad("max_cascade_depth", "an integer 1–64", t.MaxCascadeDepth)
	}
	return nil
}

// PolicyConfig says which policies run and with which thresholds.
type PolicyConfig struct {
	Enabled    PolicySet
	Thresholds Thresholds
}

// DefaultPolicyConfig has every policy on with the spec's thresholds.
func DefaultPolicyConfig() PolicyConfig {
	return PolicyConfig{Enabled: AllPolicies, Thresholds: DefaultThresholds()}
}

// Validate checks the thresholds (also when every policy is off: the
// cluster percentages still decide the health projection's status).
func (c *PolicyConfig) Validate() error { return c.Thresholds.Validate() }

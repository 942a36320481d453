package flows

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ringrift/ringriftd/event"
)

// Decision is an event a policy decided to append. The engine completes its
// envelope (id, time, causation, correlation) and journals it right after its
// cause.
type Decision struct {
	Policy    Policy
	Type      string
	ConfigKey string // "" for curriculum_rebalanced and p2p_cluster_*
	NodeID    string
	Payload   []byte // compact JSON object, keys in a fixed order
}

// Effects is what an accepted event did, as the policies need it: the
// machines' change, the cluster status before it, whether it changed a
// curriculum weight and the regression check it made.
type Effects struct {
	Change         Change
	ClusterBefore  string
	WeightsChanged bool
	Regression     RegressionCheck
}

// Recovery ladder (flows.md, recovery policy): attempt n takes ladder[n-1].
var ladder = []string{"restart_daemon", "restart_daemon", "failover_to_peer"}

// Decide runs the enabled policies, in flows.md's fixed order, on the state
// left by e (already applied to m, v and mem) and appends their decisions to
// out. It is pure: the same state and event give the same decisions.
func (c *PolicyConfig) Decide(m *Machines, mem *Memory, v View, e *event.Event, fx Effects, out []Decision) []Decision {
	if c.Enabled == 0 || fx.Change.Violation {
		return out
	}
	t := &c.Thresholds
	on := c.Enabled.Has
	if on(PolicyThreshold) {
		out = m.threshold(e, t, out)
	}
	if on(PolicyPromotion) {
		out = m.promotion(e, fx.Change, v, t, out)
	}
	if on(PolicyFeedback) {
		out = m.feedback(e, fx.Change, mem, v, t, out)
	}
	if on(PolicyRegression) {
		out = m.regression(e, fx.Regression, out)
	}
	if on(PolicyElo) {
		out = elo(e, fx.Change, mem, v, t, out)
	}
	if on(PolicyRecovery) {
		out = m.recovery(e, fx.Change, out)
	}
	if on(PolicyCluster) {
		out = m.clusterPolicy(fx, t, out)
	}
	if on(PolicyCurriculum) && fx.WeightsChanged && e.Type != "curriculum_rebalanced" {
		p := event.Object{}.Raw("weights", v.AppendWeights(nil)).Str("trigger", e.Type)
		out = append(out, Decision{Policy: PolicyCurriculum, Type: "curriculum_rebalanced", Payload: p.Bytes()})
	}
	return out
}

// ClusterStatus is the cluster status now, with the thresholds'
// percentages.
func (m *Machines) ClusterStatus(t *Thresholds) string {
	return ClusterStatus(m.nodeCount.known, m.nodeCount.failing, t.ClusterDegraded, t.ClusterCritical)
}

// threshold: a config in collecting, not paused for training, synced since
// training and with enough games since training reaches its threshold. An
// event without a config_key is for every config, in sorted order.
func (m *Machines) threshold(e *event.Event, t *Thresholds, out []Decision) []Decision {
	check := func(k string) {
		p := m.pipelines[k]
		if p == nil || p.State != Collecting || !p.SyncedSinceTraining {
			return
		}
		if p.GamesSinceTraining < t.For(event.Players(k)).TrainingGames || m.Blocked(k, ForTraining) {
			return
		}
		pl := event.Object{}.Int("games", p.GamesSinceTraining).Str("reason", "games_threshold")
		out = append(out, Decision{Policy: PolicyThreshold, Type: "training_threshold", ConfigKey: k, Payload: pl.Bytes()})
	}
	if e.ConfigKey != "" {
		check(e.ConfigKey)
		return out
	}
	for _, k := range m.keys {
		check(k)
	}
	return out
}

// result returns the iteration's results against opponent name.
func result(rs []event.Opponent, name string) (event.Opponent, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return event.Opponent{}, false
}

// promotion: stage 1 gates an evaluation_completed that moved the config to
// evaluated; stage 2 decides a promotion_candidate.
func (m *Machines) promotion(e *event.Event, ch Change, v View, t *Thresholds, out []Decision) []Decision {
	if ch.Machine != PipelineMachine || ch.Violation {
		return out
	}
	k := e.ConfigKey
	p := m.pipelines[k]
	switch {
	case ch.Event == "evaluation_completed" && ch.To == Evaluated:
		return m.promotionStage1(k, p, v, t, out)
	case ch.Event == "promotion_candidate" && ch.To == Candidate:
		return m.promotionStage2(k, p, v, t, out)
	}
	return out
}

// reject appends a promotion_rejected naming gate; actual and threshold
// are written when has is set.
func reject(out []Decision, k, model, gate, reason string, has bool, actual, threshold float64) []Decision {
	pl := event.Object{}.Str("model_path", model).Str("gate", gate).Str("reason", reason)
	if has {
		pl = pl.Num("actual", actual).Num("threshold", threshold)
	}
	return append(out, Decision{Policy: PolicyPromotion, Type: "promotion_rejected", ConfigKey: k, Payload: pl.Bytes()})
}

func (m *Machines) promotionStage1(k string, p *Pipeline, v View, t *Thresholds, out []Decision) []Decision {
	pt := t.For(event.Players(k))
	rnd, okR := result(p.Results, "random")
	heu, okH := result(p.Results, "heuristic")
	switch {
	case !okR || !okH:
		var missing []string
		if !okR {
			missing = append(missing, "random")
		}
		if !okH {
			missing = append(missing, "heuristic")
		}
		return reject(out, k, p.Model, "missing_baselines",
			fmt.Sprintf("missing_baselines: no results against %s", joinAnd(missing)), false, 0, 0)
	case min(rnd.Games, heu.Games) < pt.MinGames:
		low := rnd
		if heu.Games < rnd.Games {
			low = heu
		}
		return reject(out, k, p.Model, "min_games",
			fmt.Sprintf("min_games: %d games against %s, needs %d against each baseline", low.Games, low.Name, pt.MinGames),
			true, float64(low.Games), float64(pt.MinGames))
	case rnd.WinRate < pt.WinRateRandom:
		return reject(out, k, p.Model, "win_rate_random",
			fmt.Sprintf("win_rate_random: win rate %s against random, needs %s", fmtNum(rnd.WinRate), fmtNum(pt.WinRateRandom)),
			true, rnd.WinRate, pt.WinRateRandom)
	case heu.WinRate < pt.WinRateHeuristic:
		return reject(out, k, p.Model, "win_rate_heuristic",
			fmt.Sprintf("win_rate_heuristic: win rate %s against heuristic, needs %s", fmtNum(heu.WinRate), fmtNum(pt.WinRateHeuristic)),
			true, heu.WinRate, pt.WinRateHeuristic)
	}
	if held := m.PausedFor(k, ForPromotion); len(held) > 0 {
		return reject(out, k, p.Model, "promotion_hold",
			fmt.Sprintf("promotion_hold: promotions of %s are paused (%s)", k, joinAnd(held)), false, 0, 0)
	}
	pl := event.Object{}.Str("model_path", p.Model).Num("win_rate_vs_random", rnd.WinRate).Num("win_rate_vs_heuristic", heu.WinRate)
	if r, ok := v.Rating(k, p.Model); ok {
		pl = pl.Num("elo", r)
	}
	return append(out, Decision{Policy: PolicyPromotion, Type: "promotion_candidate", ConfigKey: k, Payload: pl.Bytes()})
}

func (m *Machines) promotionStage2(k string, p *Pipeline, v View, t *Thresholds, out []Decision) []Decision {
	if held := m.PausedFor(k, ForPromotion); len(held) > 0 {
		return reject(out, k, p.Model, "promotion_hold",
			fmt.Sprintf("promotion_hold: promotions of %s are paused (%s)", k, joinAnd(held)), false, 0, 0)
	}
	champion := p.Champion()
	elo, hasElo := v.Rating(k, p.Model)
	var champElo float64
	if champion != "" {
		var ok bool
		if champElo, ok = v.Rating(k, champion); !ok {
			champElo = 1500
		}
	}
	switch {
	case champion == "":
		var wins, games float64
		for _, r := range p.Results {
			wins += r.WinRate * float64(r.Games)
			games += float64(r.Games)
		}
		combined := 0.0
		if games > 0 {
			combined = wins / games
		}
		if combined < t.ChampionWinRate {
			return reject(out, k, p.Model, "champion",
				fmt.Sprintf("champion: combined win rate %s over all opponents, needs %s (no champion yet)", fmtNum(combined), fmtNum(t.ChampionWinRate)),
				true, combined, t.ChampionWinRate)
		}
	default:
		if r, ok := result(p.Results, "champion"); ok {
			lb := wilsonLower(r.WinRate, float64(r.Games), t.WilsonZ)
			if !(lb > t.WilsonMin) {
				return reject(out, k, p.Model, "champion",
					fmt.Sprintf("champion: Wilson lower bound %s of the win rate %s against the champion over %d games, needs more than %s",
						fmtNum(lb), fmtNum(r.WinRate), r.Games, fmtNum(t.WilsonMin)),
					true, lb, t.WilsonMin)
			}
		} else {
			gain := elo - champElo
			if !hasElo || gain < t.EloGain {
				return reject(out, k, p.Model, "champion",
					fmt.Sprintf("champion: Elo %s is %s over the champion's %s, needs %s", fmtNum(elo), fmtNum(gain), fmtNum(champElo), fmtNum(t.EloGain)),
					true, gain, t.EloGain)
			}
		}
	}
	out = append(out, Decision{Policy: PolicyPromotion, Type: "promotion_started", ConfigKey: k,
		Payload: event.Object{}.Str("model_path", p.Model).Bytes()})
	pl := event.Object{}.Str("model_path", p.Model)
	if champion != "" {
		pl = pl.Str("previous_model", champion)
	}
	if hasElo {
		pl = pl.Num("elo", elo)
		if champion != "" {
			pl = pl.Num("elo_gain", elo-champElo)
		}
	}
	return append(out, Decision{Policy: PolicyPromotion, Type: "model_promoted", ConfigKey: k, Payload: pl.Bytes()})
}

// wilsonLower is the Wilson score interval's lower bound of a win rate p
// over n games at z.
func wilsonLower(p, n, z float64) float64 {
	if n <= 0 {
		return 0
	}
	z2 := z * z
	return (p + z2/(2*n) - z*math.Sqrt(p*(1-p)/n+z2/(4*n*n))) / (1 + z2/n)
}

// feedback: on an iteration's evaluation_completed, strong and weak by the
// win rate against heuristic, and plateau by the Elo trend.
func (m *Machines) feedback(e *event.Event, ch Change, mem *Memory, v View, t *Thresholds, out []Decision) []Decision {
	if ch.Machine != PipelineMachine || ch.Event != "evaluation_completed" {
		return out
	}
	k := e.ConfigKey
	if heu, ok := result(m.pipelines[k].Results, "heuristic"); ok {
		switch {
		case heu.WinRate >= t.Strong:
			out = append(out, Decision{Policy: PolicyFeedback, Type: "hyperparameter_updated", ConfigKey: k,
				Payload: event.Object{}.Num("exploration_multiplier", t.ExplorationMultiplier).Str("reason", "strong").Bytes()})
		case heu.WinRate < t.Weak:
			out = append(out, Decision{Policy: PolicyFeedback, Type: "selfplay_target_updated", ConfigKey: k,
				Payload: event.Object{}.Num("games_multiplier", t.GamesMultiplier).Str("reason", "weak").Bytes()})
		}
	}
	if _, _, trend := v.Velocity(k); trend == "plateau" {
		tier := v.Tier(k)
		if tier < t.MaxTier && !mem.advancedWithin(k, e.Time, t.AdvanceCooldown) {
			out = append(out, Decision{Policy: PolicyFeedback, Type: "curriculum_advanced", ConfigKey: k,
				Payload: event.Object{}.Int("old_tier", int64(tier)).Int("new_tier", int64(tier+1)).Str("reason", "plateau").Bytes()})
		}
	}
	return out
}

// regression emits what a monitoring evaluation's check found.
func (m *Machines) regression(e *event.Event, c RegressionCheck, out []Decision) []Decision {
	if !c.Checked {
		return out
	}
	k := e.ConfigKey
	if c.Cleared {
		return append(out, Decision{Policy: PolicyRegression, Type: "regression_cleared", ConfigKey: k,
			Payload: event.Object{}.Str("model_path", c.Model).Bytes()})
	}
	if !c.Detected {
		return out
	}
	pl := event.Object{}.Str("model_path", c.Model).Num("elo_drop", c.Drop).Int("consecutive", int64(c.Consecutive)).Str("severity", c.Severity).Bytes()
	out = append(out,
		Decision{Policy: PolicyRegression, Type: "regression_detected", ConfigKey: k, Payload: pl},
		Decision{Policy: PolicyRegression, Type: "regression_" + c.Severity, ConfigKey: k, Payload: pl})
	if c.Severity == "critical" {
		if prev := m.pipelines[k].PreviousChampion(); prev != "" {
			out = append(out, Decision{Policy: PolicyRegression, Type: "promotion_rolled_back", ConfigKey: k,
				Payload: event.Object{}.Str("from_model", c.Model).Str("to_model", prev).Str("reason", "regression_critical").Bytes()})
		}
	}
	return out
}

// elo: on evaluation_completed, a significant move of the evaluated model's
// rating from its base, and a change of the config's velocity or trend.
func elo(e *event.Event, ch Change, mem *Memory, v View, t *Thresholds, out []Decision) []Decision {
	if e.Type != "evaluation_completed" || ch.Violation {
		return out
	}
	k := e.ConfigKey
	model, _ := e.Str("model_path")
	if r, ok := v.Rating(k, model); ok {
		base := mem.EloBase(k, model)
		if math.Abs(r-base) >= t.EloSignificant {
			out = append(out, Decision{Policy: PolicyElo, Type: "elo_significant_change", ConfigKey: k,
				Payload: event.Object{}.Str("participant", model).Num("old_elo", base).Num("new_elo", r).Num("delta", r-base).Bytes()})
		}
	}
	vel, valid, trend := v.Velocity(k)
	last := mem.lastVelocity(k)
	if trend != last.Trend || (valid && last.Valid && math.Abs(vel-last.V) >= t.VelocityChange) {
		pl := event.Object{}
		if valid {
			pl = pl.Num("velocity", vel)
		}
		if last.Valid {
			pl = pl.Num("previous_velocity", last.V)
		}
		out = append(out, Decision{Policy: PolicyElo, Type: "elo_velocity_changed", ConfigKey: k, Payload: pl.Str("trend", trend).Bytes()})
	}
	return out
}

// recovery walks a node's recovery ladder.
func (m *Machines) recovery(e *event.Event, ch Change, out []Decision) []Decision {
	if ch.Machine != RecoveryMachine || ch.Violation {
		return out
	}
	id := ch.Node
	initiate := func(attempt int) {
		out = append(out, Decision{Policy: PolicyRecovery, Type: "recovery_initiated", NodeID: id,
			Payload: event.Object{}.Str("action", ladder[attempt-1]).Int("attempt", int64(attempt)).Bytes()})
	}
	switch {
	case ch.Entered(Unhealthy) && (ch.From == Unknown || ch.From == Healthy || ch.From == Degraded):
		initiate(1)
	case ch.Entered(Offline) && ch.From != Recovering && ch.From != Escalated:
		initiate(len(ladder))
	case e.Type == "recovery_failed":
		n := m.nodes[id]
		if n.Attempts < len(ladder) {
			initiate(max(n.Attempts, 0) + 1)
		} else {
			out = append(out, Decision{Policy: PolicyRecovery, Type: "health_alert", NodeID: id,
				Payload: event.Object{}.Str("action", "escalate_to_operator").Int("attempts", int64(n.Attempts)).Bytes()})
		}
	case ch.Entered(Healthy) && ch.From != Unknown && ch.From != Degraded && e.Type != "node_recovered":
		out = append(out, Decision{Policy: PolicyRecovery, Type: "node_recovered", NodeID: id, Payload: []byte("{}")})
	}
	return out
}

// clusterPolicy emits the cluster status's entering critical and returning to
// healthy.
func (m *Machines) clusterPolicy(fx Effects, t *Thresholds, out []Decision) []Decision {
	if fx.Change.Machine != RecoveryMachine || fx.Change.Violation {
		return out
	}
	now := m.ClusterStatus(t)
	typ := ""
	switch {
	case now == ClusterCritical && fx.ClusterBefore != ClusterCritical:
		typ = "p2p_cluster_unhealthy"
	case now == ClusterHealthy && fx.ClusterBefore != ClusterHealthy:
		typ = "p2p_cluster_healthy"
	default:
		return out
	}
	pl := event.Object{}.Int("failing", int64(m.nodeCount.failing)).Int("total", int64(m.nodeCount.known))
	return append(out, Decision{Policy: PolicyCluster, Type: typ, Payload: pl.Bytes()})
}

// fmtNum writes a number for a human: at most 3 decimals.
func fmtNum(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64) }

// joinAnd joins names as "a", "a and b", "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

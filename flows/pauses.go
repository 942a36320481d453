package flows

import (
	"slices"
	"strings"

	"github.com/ringrift/ringriftd/event"
)

// Activity is what a pause blocks (flows.md, Pauses).
type Activity string

// Activities. "Training" is training_threshold (from collecting) and
// training_started; "promotion" is promotion_started and model_promoted.
const (
	ForTraining  Activity = "training"
	ForPromotion Activity = "promotion"
)

// blockedBy lists the reasons that block an activity, in the order of
// flows.md's table.
var blockedBy = map[Activity][]string{
	ForTraining:  {PauseQuality, PauseBackpressure, PauseRegression},
	ForPromotion: {PauseRegression, PausePromotionHold},
}

// clearedBy says what clears a reason, for refusal hints.
var clearedBy = map[string]string{
	PauseQuality:       "high_quality_data_available clears quality",
	PauseBackpressure:  "backpressure clears when the queue level falls below hard and the resource level below high (backpressure_released)",
	PauseRegression:    "regression_cleared, promotion_rolled_back or training_rollback_completed clears regression",
	PausePromotionHold: "regression_cleared or promotion_rolled_back clears promotion_hold",
}

// Paused returns the reasons config key is paused for, sorted: the union of
// its own reasons, the cluster-wide ones and backpressure (the config's
// scope or the cluster-wide one).
func (m *Machines) Paused(key string) []string {
	p := m.view(key)
	var out []string
	for r, on := range p.Paused {
		if on {
			out = append(out, r)
		}
	}
	for r, on := range m.cluster {
		if on && !p.Paused[r] {
			out = append(out, r)
		}
	}
	if m.backpressured(key) {
		out = append(out, PauseBackpressure)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PausedFor returns the reasons that block activity a for config key, in the
// order of flows.md's table; none means not paused for it.
func (m *Machines) PausedFor(key string, a Activity) []string {
	return m.pausedFor(key, m.view(key), a)
}

// Blocked reports whether anything blocks activity a for config key: what
// PausedFor answers, without building the list.
func (m *Machines) Blocked(key string, a Activity) bool {
	p := m.view(key)
	if len(p.Paused) == 0 && len(m.cluster) == 0 && m.backpressure == nil {
		return false
	}
	for _, r := range blockedBy[a] {
		if r == PauseBackpressure {
			if m.backpressured(key) {
				return true
			}
		} else if p.Paused[r] || m.cluster[r] {
			return true
		}
	}
	return false
}

// ClusterPaused returns the cluster-wide pause reasons, sorted.
func (m *Machines) ClusterPaused() []string {
	var out []string
	for r, on := range m.cluster {
		if on {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

func (m *Machines) pausedFor(key string, p *Pipeline, a Activity) []string {
	if len(p.Paused) == 0 && len(m.cluster) == 0 && m.backpressure == nil {
		return nil
	}
	var out []string
	for _, r := range blockedBy[a] {
		if r == PauseBackpressure {
			if m.backpressured(key) {
				out = append(out, r)
			}
			continue
		}
		if p.Paused[r] || m.cluster[r] {
			out = append(out, r)
		}
	}
	return out
}

// backpressured reports whether backpressure blocks training for key: its
// own scope or the cluster-wide one.
func (m *Machines) backpressured(key string) bool {
	return m.backpressure != nil && (m.backpressure.Blocks(key) || m.backpressure.Blocks(""))
}

// setPauses applies the reasons a rule sets and clears to one scope.
func (m *Machines) setPauses(scope map[string]bool, r rule) {
	if r.set != "" {
		scope[r.set] = true
	}
	for _, c := range r.clear {
		delete(scope, c)
	}
}

// pauseRefusal is the paused refusal: it names the config, the activity and
// the reasons, and hints at what clears each.
func (m *Machines) pauseRefusal(key string, p *Pipeline, a Activity, reasons []string) *event.Error {
	var hints []string
	cluster := false
	for _, r := range reasons {
		hints = append(hints, clearedBy[r])
		if m.cluster[r] && !p.Paused[r] {
			cluster = true
		}
	}
	if cluster {
		hints = append(hints, "cluster-wide reasons are cleared by the same events without a config_key")
	}
	return &event.Error{Code: event.CodePaused, Field: "config_key", Hint: strings.Join(hints, "; "),
		Message: key + " is paused for " + string(a) + " (" + strings.Join(reasons, ", ") + ")"}
}

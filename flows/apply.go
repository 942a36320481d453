package flows

import (
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/fsm"
)

// Change tells the policies what an accepted event did to the machines.
type Change struct {
	// Machine is the machine the event is a transition event of
	// (PipelineMachine, RecoveryMachine), "" for other events.
	Machine string
	// Config is the event's config_key; AllConfigs is set for sync_*
	// events without one, which apply to every config.
	Config     string
	AllConfigs bool
	// Node is the node_id of a recovery-machine event.
	Node string
	// Event is the fsm event fired, variant included
	// ("training_early_stopped/model"); "" when no transition fired
	// (other events, monitoring evaluations, violations).
	Event string
	// From and To are the key's state before and after the event: equal
	// when it did not change and for events that fired no transition (the
	// config's state), empty for events with neither key.
	From, To string
	// Outcome is the iteration that this event ended, nil if none.
	Outcome *Outcome
	// Monitoring marks a monitoring evaluation: an evaluation of the
	// champion that is not the iteration's model (no transition).
	Monitoring bool
	// Violation marks an event accepted in lenient mode that strict mode
	// would have refused with Refusal; only a Violations counter moved.
	Violation bool
	Refusal   *event.Error
}

// Changed reports whether the event changed the state of its machine's key.
func (c Change) Changed() bool { return c.From != c.To }

// Entered reports whether the event moved its key into state from another
// state (a self-transition, such as host_offline on an offline node, does
// not enter).
func (c Change) Entered(state string) bool { return c.To == state && c.From != state }

// kind is how the machines treat an event type.
type kind uint8

const (
	kindOther      kind = iota
	kindPipeline        // a transition event of the pipeline machine
	kindRecovery        // a transition event of the recovery machine
	kindGames           // games_since_training += games
	kindSync            // sync_started: applies to every config without a config_key
	kindSyncDone        // sync_completed
	kindSyncFailed      // sync_failed
	kindRolledBack      // promotion_rolled_back: the champion stack, clears pauses
	kindPause           // sets or clears pause reasons
)

// modelGuard is the model guard of a pipeline row.
type modelGuard uint8

const (
	noModelGuard   modelGuard = iota
	modelEquals               // model_path = model
	modelAbsentOrE            // model_path absent or = model
)

// rule is what the machines do with one event type.
type rule struct {
	kind kind
	// model is the model guard; evaluation marks the evaluation_* types a
	// monitoring evaluation can be; promotion the promotion types whose
	// model must be the iteration's.
	model      modelGuard
	evaluation bool
	// pause is the activity the type starts (its pause guard).
	pause Activity
	// set and clear are the pause reasons the type sets and clears.
	set   string
	clear []string
}

var rules = buildRules()

func buildRules() map[string]rule {
	r := map[string]rule{}
	for _, t := range PipelineDefinition().Transitions {
		r[fsm.Base(t.Event)] = rule{kind: kindPipeline}
	}
	for _, t := range RecoveryDefinition().Transitions {
		r[fsm.Base(t.Event)] = rule{kind: kindRecovery}
	}
	with := func(typ string, f func(*rule)) {
		x := r[typ]
		f(&x)
		r[typ] = x
	}
	for _, t := range []string{"evaluation_started", "evaluation_completed"} {
		with(t, func(x *rule) { x.model, x.evaluation = modelEquals, true })
	}
	for _, t := range []string{"evaluation_progress", "evaluation_failed"} {
		with(t, func(x *rule) { x.model, x.evaluation = modelAbsentOrE, true })
	}
	for _, t := range []string{"promotion_candidate", "promotion_rejected", "promotion_started", "model_promoted", "promotion_failed"} {
		with(t, func(x *rule) { x.model = modelEquals })
	}
	for _, t := range []string{"training_threshold", "training_started"} {
		with(t, func(x *rule) { x.pause = ForTraining })
	}
	for _, t := range []string{"promotion_started", "model_promoted"} {
		with(t, func(x *rule) { x.pause = ForPromotion })
	}
	with("training_rollback_completed", func(x *rule) { x.clear = []string{PauseRegression} })
	r["new_games"] = rule{kind: kindGames}
	r["selfplay_complete"] = rule{kind: kindGames}
	r["sync_started"] = rule{kind: kindSync}
	r["sync_completed"] = rule{kind: kindSyncDone}
	r["sync_failed"] = rule{kind: kindSyncFailed}
	r["promotion_rolled_back"] = rule{kind: kindRolledBack, clear: []string{PauseRegression, PausePromotionHold}}
	r["training_blocked_by_quality"] = rule{kind: kindPause, set: PauseQuality}
	r["high_quality_data_available"] = rule{kind: kindPause, clear: []string{PauseQuality}}
	r["regression_severe"] = rule{kind: kindPause, set: PauseRegression}
	r["regression_critical"] = rule{kind: kindPause, set: PauseRegression}
	r["regression_moderate"] = rule{kind: kindPause, set: PausePromotionHold}
	r["regression_cleared"] = rule{kind: kindPause, clear: []string{PauseRegression, PausePromotionHold}}
	return r
}

// Check reports whether Apply would accept e, changing nothing: nil, or the
// refusal (flow_violation, paused, or missing_field for a machine event
// without its key). In lenient mode only a missing key is refused.
func (m *Machines) Check(e *event.Event) *event.Error {
	var err *event.Error
	switch r := rules[e.Type]; r.kind {
	case kindPipeline:
		_, err = m.decidePipeline(e, r, m.view(e.ConfigKey), true)
	case kindRecovery:
		_, err = m.decideRecovery(e, true)
	}
	if err != nil && (m.enforcement == Strict || err.Code == event.CodeMissingField) {
		return err
	}
	return nil
}

// Apply folds an event into the machines. A refused event (strict mode)
// returns its refusal and changes nothing. In lenient mode a violation is
// accepted: Change.Violation is set and only the key's Violations counter
// moves. Events of no machine update counters and pauses (flows.md); any
// accepted event with a config_key moves that config's LastSeq and creates
// an extended config's pipeline.
func (m *Machines) Apply(e *event.Event) (Change, *event.Error) {
	switch r := rules[e.Type]; r.kind {
	case kindPipeline:
		return m.applyPipeline(e, r)
	case kindRecovery:
		return m.applyRecovery(e)
	default:
		return m.applyOther(e, r), nil
	}
}

// applyOther folds an event that is no machine's transition event.
func (m *Machines) applyOther(e *event.Event, r rule) Change {
	c := Change{Config: e.ConfigKey}
	if e.ConfigKey == "" {
		switch r.kind {
		case kindSync, kindSyncDone, kindSyncFailed:
			c.AllConfigs = true
			for _, k := range m.keys {
				m.count(m.pipelines[k], e, r)
			}
		case kindPause, kindRolledBack:
			m.setPauses(m.cluster, r)
		}
		return c
	}
	p := m.pipeline(e.ConfigKey)
	m.count(p, e, r)
	p.LastSeq = e.Seq
	c.From, c.To = p.State, p.State
	return c
}

// count applies the counter, champion and pause effects of a non-transition
// event to one config.
func (m *Machines) count(p *Pipeline, e *event.Event, r rule) {
	switch r.kind {
	case kindGames:
		n, _ := e.Int("games")
		p.GamesSinceTraining += n
	case kindSyncDone:
		p.SyncedSinceTraining = true
		p.Failures.Sync = 0
	case kindSyncFailed:
		p.Failures.Sync++
	case kindRolledBack:
		if to, ok := e.Str("to_model"); ok && to != "" {
			p.Champions = rollBack(p.Champions, to)
		}
		m.setPauses(p.Paused, r)
	case kindPause:
		m.setPauses(p.Paused, r)
	}
}

// rollBack returns the champion stack after a rollback to to: popped back to
// the topmost to, or with to pushed when it is not in the stack.
func rollBack(champions []string, to string) []string {
	for i := len(champions) - 1; i >= 0; i-- {
		if champions[i] == to {
			return champions[: i+1 : i+1] // a later push must not write into a reader's slice
		}
	}
	return append(champions, to)
}

package flows

import (
	"strconv"
	"strings"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/fsm"
)

// pipelinePlan is what an accepted pipeline transition event will do.
type pipelinePlan struct {
	event      string // the fsm event, variant included
	monitoring bool
	model      string // payload model_path, "" when absent
}

// decidePipeline checks a pipeline transition event against p, the config's
// pipeline, in the order of flows.md: a monitoring evaluation is accepted as
// such; then the state check, the model guard (both flow_violation) and the
// pause guard (paused). It changes nothing. With checkState false and no
// guard blocking, the state check is left to the caller: fsm's Apply makes
// it anyway, and Apply's fast path saves a look-up.
func (m *Machines) decidePipeline(e *event.Event, r rule, p *Pipeline, checkState bool) (pipelinePlan, *event.Error) {
	var pl pipelinePlan
	key := e.ConfigKey
	if key == "" {
		return pl, &event.Error{Code: event.CodeMissingField, Field: "config_key", Hint: "the config the event is about, e.g. hex8_2p",
			Message: e.Type + " needs a config_key"}
	}
	if r.model != noModelGuard || e.Type == "training_completed" || e.Type == "training_early_stopped" {
		pl.model, _ = e.Str("model_path")
	}
	if r.evaluation && pl.model != "" && pl.model == p.Champion() && pl.model != p.Model {
		pl.monitoring = true
		return pl, nil
	}
	// The guards are evaluated before the state check, which comes first
	// in the refusal: a refusal is built only once it is the one returned.
	g, reasons := m.pipelineGuards(e, r, p, pl.model)
	if g != guardPass || checkState {
		if !m.pipe.Can(key, e.Type) {
			return pl, pipelineTexts.refusal(e.Type, key, p.State)
		}
		if g != guardPass {
			return pl, m.guardRefusal(g, e, r, p, pl.model, reasons)
		}
	}
	pl.event = e.Type
	switch e.Type {
	case "training_early_stopped":
		pl.event = evEarlyStoppedNoModel
		if pl.model != "" {
			pl.event = evEarlyStoppedModel
		}
	case "evaluation_failed":
		pl.event = evEvalFailedRetry
		if p.Failures.Evaluation+1 >= maxEvaluationFailures {
			pl.event = evEvalFailedAbandon
		}
	}
	return pl, nil
}

// guard is the outcome of a transition event's guards.
type guard uint8

const (
	guardPass  guard = iota
	guardModel       // the model guard blocks
	guardPause       // the pause guard blocks
)

// pipelineGuards evaluates the model guard, then the pause guard, of a
// transition event; for a pause, it returns the reasons.
func (m *Machines) pipelineGuards(e *event.Event, r rule, p *Pipeline, model string) (guard, []string) {
	switch r.model {
	case modelEquals:
		if model == "" || model != p.Model {
			return guardModel, nil
		}
	case modelAbsentOrE:
		if model != "" && model != p.Model {
			return guardModel, nil
		}
	}
	// training_threshold in training_ready is a no-op without a guard.
	if r.pause != "" && (e.Type != "training_threshold" || p.State == Collecting) {
		if reasons := m.pausedFor(e.ConfigKey, p, r.pause); len(reasons) > 0 {
			return guardPause, reasons
		}
	}
	return guardPass, nil
}

// guardRefusal is the refusal of a guard that blocks (pipelineGuards).
func (m *Machines) guardRefusal(g guard, e *event.Event, r rule, p *Pipeline, model string, reasons []string) *event.Error {
	if g == guardModel {
		return modelRefusal(e.Type, e.ConfigKey, model, p, r.evaluation)
	}
	return m.pauseRefusal(e.ConfigKey, p, r.pause, reasons)
}

// applyPipeline folds a pipeline transition event.
func (m *Machines) applyPipeline(e *event.Event, r rule) (Change, *event.Error) {
	key := e.ConfigKey
	p, exists := m.pipelines[key]
	if !exists {
		p = newPipeline()
	}
	pl, err := m.decidePipeline(e, r, p, false)
	var step fsm.Step
	if err == nil && !pl.monitoring {
		var ok bool
		if step, ok = m.pipe.TryApply(key, pl.event, e.Seq, e.Time); !ok {
			err = pipelineTexts.refusal(e.Type, key, p.State)
		}
	}
	if err != nil {
		if m.enforcement == Strict || err.Code == event.CodeMissingField {
			return Change{}, err
		}
		p := m.pipeline(key)
		p.Violations++
		return Change{Machine: PipelineMachine, Config: key, From: p.State, To: p.State, Violation: true, Refusal: err}, nil
	}
	if !exists {
		p = m.pipeline(key)
	}
	if pl.monitoring {
		p.LastSeq = e.Seq
		return Change{Machine: PipelineMachine, Config: key, From: p.State, To: p.State, Monitoring: true}, nil
	}
	c := Change{Machine: PipelineMachine, Config: key, Event: pl.event, From: step.From, To: step.To}
	switch pl.event {
	case "training_started":
		p.SyncedSinceTraining = false
	case "training_completed", evEarlyStoppedModel:
		p.Model = pl.model
		p.GamesSinceTraining = 0
		p.Failures.Training = 0
	case "training_failed":
		if step.From == Training {
			p.Failures.Training++
		}
	case "training_rollback_completed":
		m.setPauses(p.Paused, r)
	case "evaluation_completed":
		p.Results = e.Opponents()
		p.Failures.Evaluation = 0
	case evEvalFailedRetry:
		p.Failures.Evaluation++
	case evEvalFailedAbandon:
		c.Outcome = endIteration(p, OutcomeAbandoned, "")
	case "promotion_rejected":
		gate, _ := e.Str("gate")
		c.Outcome = endIteration(p, OutcomeRejected, gate)
	case "model_promoted":
		p.Champions = append(p.Champions, p.Model)
		c.Outcome = endIteration(p, OutcomePromoted, "")
	case "promotion_failed":
		c.Outcome = endIteration(p, OutcomeFailed, "")
	}
	p.State = step.To
	if step.Changed() {
		p.EnteredAt = e.Time
	}
	p.LastSeq = e.Seq
	return c, nil
}

// endIteration ends the config's iteration with outcome: iteration++,
// last_outcome, model := null, failures.evaluation := 0 and the results
// forgotten.
func endIteration(p *Pipeline, outcome, gate string) *Outcome {
	o := &Outcome{Iteration: p.Iteration, Outcome: outcome, Model: p.Model}
	if outcome == OutcomeRejected {
		o.Gate = gate
	}
	p.LastOutcome = o
	p.Iteration++
	p.Model = ""
	p.Failures.Evaluation = 0
	p.Results = nil
	return o
}

// stateTexts are the texts of one machine's state refusals, joined once:
// the refusals of reordered or replayed traffic are frequent.
type stateTexts struct {
	mach *fsm.Machine
	all  []string // the machine's states, in definition order
	node bool     // the recovery machine: the key is a node
	// hints[typ] is "typ is accepted in state s1, s2" for every base name
	// of the definition; accepts[state] the events the state accepts,
	// joined.
	hints   map[string]string
	accepts map[string]string
}

var (
	pipelineTexts = newStateTexts(pipelineMachine, pipelineStates)
	recoveryTexts = newStateTexts(recoveryMachine, recoveryStates)
)

func newStateTexts(mach *fsm.Machine, all []string) *stateTexts {
	t := &stateTexts{mach: mach, all: all, node: mach.Name() == RecoveryMachine,
		hints: map[string]string{}, accepts: map[string]string{}}
	for _, s := range all {
		t.accepts[s] = strings.Join(mach.Accepts(s), ", ")
	}
	for _, tr := range mach.Definition().Transitions {
		typ := fsm.Base(tr.Event)
		t.hints[typ] = t.hint(typ)
	}
	return t
}

// hint is the refusal's hint for typ: the states that would accept it.
func (t *stateTexts) hint(typ string) string {
	var in []string
	for _, s := range t.all {
		if t.mach.Allows(s, typ) {
			in = append(in, s)
		}
	}
	return typ + " is accepted in state " + strings.Join(in, ", ")
}

// refusal is the flow_violation of an event the key's state does not
// allow: it names the key, the state and the events the state accepts, and
// hints at the states that would accept the event.
func (t *stateTexts) refusal(typ, key, state string) *event.Error {
	hint, ok := t.hints[typ]
	if !ok {
		hint = t.hint(typ)
	}
	accepts, ok := t.accepts[state]
	if !ok {
		accepts = strings.Join(t.mach.Accepts(state), ", ")
	}
	who := key
	if t.node {
		who = "node " + key
	}
	return &event.Error{Code: event.CodeFlowViolation, Field: "type", Hint: hint,
		Message: typ + " is not allowed for " + who + " in state " + state + "; it accepts " + accepts}
}

// modelName is a model in a refusal: quoted, or none.
func modelName(s string) string {
	if s == "" {
		return "none"
	}
	return strconv.Quote(s)
}

// modelRefusal is the flow_violation of the model guard: an evaluation or
// promotion event for a model that is not the iteration's (for evaluations:
// nor the champion), the phantom events of the old system.
func modelRefusal(typ, key, model string, p *Pipeline, evaluation bool) *event.Error {
	cur := modelName(p.Model)
	if model == "" {
		return &event.Error{Code: event.CodeFlowViolation, Field: "payload.model_path",
			Hint:    "name the iteration's model (" + cur + ") in payload.model_path",
			Message: typ + " for " + key + " has no model_path; in state " + p.State + " it must name the iteration's model " + cur}
	}
	if evaluation {
		champ := modelName(p.Champion())
		return &event.Error{Code: event.CodeFlowViolation, Field: "payload.model_path",
			Hint: "evaluate the iteration's model (" + cur + ") or the champion (" + champ +
				", a monitoring evaluation); an evaluator that re-rates older models reports elo_updated",
			Message: typ + " for " + key + " names model " + strconv.Quote(model) +
				", which is neither the iteration's model (" + cur + ") nor the champion (" + champ + ")"}
	}
	return &event.Error{Code: event.CodeFlowViolation, Field: "payload.model_path",
		Hint:    "promotion events name the iteration's model (" + cur + ")",
		Message: typ + " for " + key + " names model " + strconv.Quote(model) + ", not the iteration's model (" + cur + ")"}
}

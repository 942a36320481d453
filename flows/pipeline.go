package flows

import (
	"fmt"
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
		return pl, event.Errorf(event.CodeMissingField, "config_key", "the config the event is about, e.g. hex8_2p",
			"%s needs a config_key", e.Type)
	}
	if r.model != noModelGuard || e.Type == "training_completed" || e.Type == "training_early_stopped" {
		pl.model, _ = e.Str("model_path")
	}
	if r.evaluation && pl.model != "" && pl.model == p.Champion() && pl.model != p.Model {
		pl.monitoring = true
		return pl, nil
	}
	gerr := m.pipelineGuards(e, r, p, pl.model)
	if gerr != nil || checkState {
		if !m.pipe.Can(key, e.Type) {
			return pl, stateRefusal(m.pipe, e.Type, key, p.State, pipelineStates)
		}
		if gerr != nil {
			return pl, gerr
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

// pipelineGuards evaluates the model guard, then the pause guard, of a
// transition event whose state check passes.
func (m *Machines) pipelineGuards(e *event.Event, r rule, p *Pipeline, model string) *event.Error {
	key := e.ConfigKey
	switch r.model {
	case modelEquals:
		if model == "" || model != p.Model {
			return modelRefusal(e.Type, key, model, p, r.evaluation)
		}
	case modelAbsentOrE:
		if model != "" && model != p.Model {
			return modelRefusal(e.Type, key, model, p, r.evaluation)
		}
	}
	// training_threshold in training_ready is a no-op without a guard.
	if r.pause != "" && (e.Type != "training_threshold" || p.State == Collecting) {
		if reasons := m.pausedFor(key, p, r.pause); len(reasons) > 0 {
			return m.pauseRefusal(key, p, r.pause, reasons)
		}
	}
	return nil
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
		var ferr error
		if step, ferr = m.pipe.Apply(key, pl.event, e.Seq, e.Time); ferr != nil {
			err = stateRefusal(m.pipe, e.Type, key, p.State, pipelineStates)
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

// stateRefusal is the flow_violation of an event the key's state does not
// allow: it names the key, the state and the events the state accepts, and
// hints at the states that would accept the event.
func stateRefusal(mach *fsm.Machine, typ, key, state string, all []string) *event.Error {
	var in []string
	for _, s := range all {
		if mach.Allows(s, typ) {
			in = append(in, s)
		}
	}
	who := key
	if mach.Name() == RecoveryMachine {
		who = "node " + key
	}
	return event.Errorf(event.CodeFlowViolation, "type",
		fmt.Sprintf("%s is accepted in state %s", typ, strings.Join(in, ", ")),
		"%s is not allowed for %s in state %s; it accepts %s", typ, who, state, strings.Join(mach.Accepts(state), ", "))
}

// modelRefusal is the flow_violation of the model guard: an evaluation or
// promotion event for a model that is not the iteration's (for evaluations:
// nor the champion), the phantom events of the old system.
func modelRefusal(typ, key, model string, p *Pipeline, evaluation bool) *event.Error {
	name := func(s string) string {
		if s == "" {
			return "none"
		}
		return fmt.Sprintf("%q", s)
	}
	if model == "" {
		return event.Errorf(event.CodeFlowViolation, "payload.model_path",
			fmt.Sprintf("name the iteration's model (%s) in payload.model_path", name(p.Model)),
			"%s for %s has no model_path; in state %s it must name the iteration's model %s", typ, key, p.State, name(p.Model))
	}
	if evaluation {
		return event.Errorf(event.CodeFlowViolation, "payload.model_path",
			fmt.Sprintf("evaluate the iteration's model (%s) or the champion (%s, a monitoring evaluation); an evaluator that re-rates older models reports elo_updated",
				name(p.Model), name(p.Champion())),
			"%s for %s names model %q, which is neither the iteration's model (%s) nor the champion (%s)",
			typ, key, model, name(p.Model), name(p.Champion()))
	}
	return event.Errorf(event.CodeFlowViolation, "payload.model_path",
		fmt.Sprintf("promotion events name the iteration's model (%s)", name(p.Model)),
		"%s for %s names model %q, not the iteration's model (%s)", typ, key, model, name(p.Model))
}

package flows

import "github.com/ringrift/ringriftd/fsm"

// Machine names, as Change.Machine and the definitions name them.
const (
	PipelineMachine = "pipeline"
	RecoveryMachine = "recovery"
)

// Conditional destinations of the tables, as fsm event variants: the flows
// layer evaluates the guard and fires one of them.
const (
	evEarlyStoppedModel   = "training_early_stopped/model"
	evEarlyStoppedNoModel = "training_early_stopped/no_model"
	evEvalFailedRetry     = "evaluation_failed/retry"
	evEvalFailedAbandon   = "evaluation_failed/abandon"
	evCheckFailedDegraded = "health_check_failed/degraded"
	evCheckFailedUnhealth = "health_check_failed/unhealthy"
	evCheckFailedOffline  = "health_check_failed/offline"
	evCheckFailedStay     = "health_check_failed/stay"
)

// maxEvaluationFailures is the consecutive evaluation failure that abandons
// the iteration (flows.md: the 3rd).
const maxEvaluationFailures = 3

var (
	pipelineStates = []string{Collecting, TrainingReady, Training, RollingBack, Trained, Evaluating, Evaluated, Candidate, Promoting}
	recoveryStates = []string{Unknown, Healthy, Degraded, Unhealthy, Recovering, Offline, Escalated}
)

func states(s ...string) []string { return s }

// PipelineDefinition returns the pipeline machine of flows.md, one row per
// (event, destination) of its table. Guards are evaluated by Machines; the
// labels name them.
func PipelineDefinition() fsm.Definition {
	return fsm.Definition{
		Name:    PipelineMachine,
		Initial: Collecting,
		States:  append([]string(nil), pipelineStates...),
		Transitions: []fsm.Transition{
			{Event: "training_threshold", From: states(Collecting), To: TrainingReady, Label: "training_threshold [not paused for training]"},
			{Event: "training_started", From: states(Collecting, TrainingReady), To: Training, Label: "training_started [not paused for training]"},
			{Event: "training_threshold", From: states(TrainingReady), To: TrainingReady, Label: "training_threshold (no-op)"},
			{Event: "training_progress", From: states(Training), To: Training},
			{Event: "training_completed", From: states(Training), To: Trained},
			{Event: evEarlyStoppedModel, From: states(Training), To: Trained, Label: "training_early_stopped [model_path]"},
			{Event: evEarlyStoppedNoModel, From: states(Training), To: Collecting, Label: "training_early_stopped [no model_path]"},
			{Event: "training_failed", From: states(Training), To: Collecting},
			{Event: "training_rollback_needed", From: states(Training), To: RollingBack},
			{Event: "training_rollback_completed", From: states(RollingBack), To: Collecting},
			{Event: "training_failed", From: states(RollingBack), To: Collecting},
			{Event: "evaluation_started", From: states(Trained), To: Evaluating, Label: "evaluation_started [model_path = model]"},
			{Event: "evaluation_progress", From: states(Evaluating), To: Evaluating, Label: "evaluation_progress [model_path absent or = model]"},
			{Event: "evaluation_completed", From: states(Evaluating), To: Evaluated, Label: "evaluation_completed [model_path = model]"},
			{Event: evEvalFailedRetry, From: states(Evaluating), To: Trained, Label: "evaluation_failed [model_path absent or = model]"},
			{Event: evEvalFailedAbandon, From: states(Evaluating), To: Collecting, Label: "evaluation_failed [3rd consecutive] (abandoned)"},
			{Event: "evaluation_started", From: states(Evaluated), To: Evaluating, Label: "evaluation_started [model_path = model] (re-evaluation)"},
			{Event: "promotion_candidate", From: states(Evaluated), To: Candidate, Label: "promotion_candidate [model_path = model]"},
			{Event: "promotion_rejected", From: states(Evaluating, Evaluated, Candidate, Promoting), To: Collecting, Label: "promotion_rejected [model_path = model] (rejected)"},
			{Event: "promotion_started", From: states(Candidate), To: Promoting, Label: "promotion_started [model_path = model, not paused for promotion]"},
			{Event: "model_promoted", From: states(Candidate, Promoting), To: Collecting, Label: "model_promoted [model_path = model, not paused for promotion] (promoted)"},
			{Event: "promotion_failed", From: states(Candidate, Promoting), To: Collecting, Label: "promotion_failed [model_path = model] (failed)"},
		},
	}
}

// RecoveryDefinition returns the recovery machine of flows.md. "any" rows
// list every state; health_check_failed has one variant per destination.
func RecoveryDefinition() fsm.Definition {
	all := append([]string(nil), recoveryStates...)
	counting := states(Unknown, Healthy, Degraded, Unhealthy)
	return fsm.Definition{
		Name:    RecoveryMachine,
		Initial: Unknown,
		States:  append([]string(nil), recoveryStates...),
		Transitions: []fsm.Transition{
			{Event: evCheckFailedDegraded, From: counting, To: Degraded, Label: "health_check_failed [failures 1-2]"},
			{Event: evCheckFailedUnhealth, From: counting, To: Unhealthy, Label: "health_check_failed [failures 3-4]"},
			{Event: evCheckFailedOffline, From: counting, To: Offline, Label: "health_check_failed [failures >= 5]"},
			{Event: evCheckFailedStay, From: states(Recovering), To: Recovering, Label: "health_check_failed (failures++)"},
			{Event: evCheckFailedStay, From: states(Offline), To: Offline, Label: "health_check_failed (failures++)"},
			{Event: evCheckFailedStay, From: states(Escalated), To: Escalated, Label: "health_check_failed (failures++)"},
			{Event: "health_check_passed", From: all, To: Healthy},
			{Event: "node_recovered", From: all, To: Healthy},
			{Event: "host_online", From: all, To: Healthy},
			{Event: "node_unhealthy", From: counting, To: Unhealthy},
			{Event: "host_offline", From: all, To: Offline},
			{Event: "recovery_initiated", From: states(Unhealthy, Offline, Escalated, Recovering), To: Recovering},
			{Event: "recovery_completed", From: states(Recovering), To: Healthy},
			{Event: "recovery_failed", From: states(Recovering), To: Unhealthy},
			{Event: "health_alert", From: states(Unhealthy), To: Escalated},
		},
	}
}

// The machines, validated once; Machines clones them.
var (
	pipelineMachine = fsm.MustNew(PipelineDefinition())
	recoveryMachine = fsm.MustNew(RecoveryDefinition())
)

// PipelineDiagram returns the pipeline machine as a Mermaid stateDiagram-v2.
func PipelineDiagram() string { return pipelineMachine.Mermaid() }

// RecoveryDiagram returns the recovery machine as a Mermaid stateDiagram-v2.
func RecoveryDiagram() string { return recoveryMachine.Mermaid() }

// Machine looks a machine up by name (PipelineMachine or RecoveryMachine):
// its definition and its Mermaid diagram; ok is false for any other name.
func Machine(name string) (def fsm.Definition, diagram string, ok bool) {
	switch name {
	case PipelineMachine:
		return PipelineDefinition(), PipelineDiagram(), true
	case RecoveryMachine:
		return RecoveryDefinition(), RecoveryDiagram(), true
	}
	return fsm.Definition{}, "", false
}

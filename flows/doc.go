// Package flows defines ringriftd's documented flows as data: the pipeline
// machine (one per config) and the recovery machine (one per node) of
// docs/spec/flows.md, with their guards, counters, pauses and enforcement modes.
//
// The package is pure: no I/O and no clock. Time comes from the events.
//
// # Machines
//
// Machines is a fold over accepted events: Apply takes an event, refuses it
// (strict mode: flow_violation or paused, and nothing changes) or applies it
// and returns a Change that tells the policies what happened (the
// transition, an ended iteration, a monitoring evaluation, a lenient
// violation). Check answers the same question without changing anything.
// Read access (Pipeline, Node, Paused, PausedFor, Explain, History) returns
// the live state; Clone, MarshalJSON and UnmarshalJSON copy and checkpoint
// all of it.
//
// The definitions (PipelineDefinition, RecoveryDefinition) are fsm
// definitions; a row whose destination depends on a guard is one fsm event
// per destination ("training_early_stopped/model", "/no_model";
// "evaluation_failed/retry", "/abandon"; "health_check_failed/degraded",
// "/unhealthy", "/offline", "/stay"), and Machines picks the variant.
//
// # Decisions where flows.md is silent
//
//   - Check and Apply in lenient mode accept violations; only a machine
//     event without its key (config_key, node_id) is always refused
//     (missing_field), as there is no key to count the violation on.
//   - An event without a config_key moves no config's LastSeq, also the
//     sync_* events that apply to every config.
//   - A pause event without a config_key sets or clears the cluster-wide
//     scope only, and one with a config_key that config's scope only.
//   - promotion_rolled_back without a config_key clears cluster-wide pauses
//     and changes no champion.
//   - An iteration that ends forgets its Results with its model.
//   - Refusal messages list the reasons of a pause in the order of flows.md's
//     table (quality, backpressure, regression, promotion_hold); Paused
//     returns them sorted.
//   - Histories record every accepted transition event, self-transitions
//     included, under its fsm name (variant included).
package flows

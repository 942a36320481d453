// Package fsm runs keyed state machines: one machine per key (a config, a
// node), all sharing one Definition, driven by event names.
//
// A Definition is data: states, an initial state and transitions (an event
// name, the states it may fire from, the state it goes to, a label for
// diagrams). New validates it and builds it with github.com/looplab/fsm,
// which stays the reference engine: the transition table every Apply uses is
// derived from looplab's answers (one looplab Event call per state and event,
// once, at New), each key owns a looplab FSM kept in the key's state with
// SetState, and looplab's own error model applies (a self-transition, for
// which looplab answers NoTransitionError, is a success). The table exists
// because looplab's Event costs several hundred nanoseconds (a context, a
// mutex pair and eight callback look-ups per call), too slow for a replay of
// a million events per second; a test checks the table against looplab for
// every state and event. No callbacks are registered, so nothing with a side
// effect ever runs inside looplab.
//
// A conditional destination (one event, several target states chosen by a
// guard) is modelled as distinct event names sharing a base:
// "training_early_stopped/model" and "training_early_stopped/no_model". The
// caller picks the variant; explanations and the accepted-events lists name
// the base ("training_early_stopped").
//
// Each key keeps a bounded history of the transitions applied to it, for
// explanations; Clone, Export and Import make the complete state copyable
// and checkpointable.
//
// Contract: deterministic, no clock, no I/O; time and sequence numbers come
// from the caller (the events). A Machine is not safe for concurrent use: it
// has a single writer, the caller serialises access.
package fsm

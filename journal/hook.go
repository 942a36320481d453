package journal

import "github.com/ringrift/ringriftd/event"

// Hook lets the layers above the journal (state machines, policies) take part in
// the sequencer's one consistent step: it sees every event that passed
// validation and deduplication, in journal order, before the commit, and may
// refuse it or add decisions that are journaled right after it.
//
// Contract: the hook is called from the sequencer only, one transaction at a
// time, never concurrently. It must be deterministic (no clock, no I/O): the same
// journal replayed through it gives the same verdicts and the same decisions.
//
// Its methods use only the event package's types, so that a pure package
// (no journal import) can implement it.
type Hook interface {
	// Begin opens the transaction of one append. atomic says the append is
	// all or nothing (a refusal rolls it back); any append is rolled back
	// when a read error keeps it from landing.
	Begin(atomic bool)
	// Admit checks e against the state left by every event admitted before
	// it (earlier appends and earlier events of this append). Accepted, e's
	// effects are applied and the decisions it caused are returned, complete
	// envelopes (id, time, source, causation) in the order they must follow
	// e; the journal assigns their seqs. Refused, the state is left exactly as
	// it was and the refusal says why (flow_violation, paused,
	// cascade_too_deep).
	//
	// e has its id, time and seq assigned (the seq it takes if admitted). The
	// decisions take the seqs that follow, in the order returned.
	Admit(e *event.Event) ([]event.Event, *event.Error)
	// Commit keeps what was admitted since Begin. Rollback undoes every Admit
	// since Begin; the journal calls it when an atomic append is refused, or
	// when a read error in the middle of an append (atomic or not) makes it
	// not land. Every Begin is followed by exactly one Commit or Rollback, so
	// a hook may hold a lock between them.
	Commit()
	Rollback()
}

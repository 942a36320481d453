package engine

import (
	"bytes"
	"strings"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// Difference is a cause whose journaled decisions differ from those today's
// policies take on the same state.
type Difference struct {
	Cause    event.Event
	Expected []event.Event // what today's policies decide
	Found    []event.Event // what the journal holds
}

// Verifier re-runs the policies over a journal (replay verify): it folds
// every journaled event, decisions included, exactly as replay does, and for
// each event compares the decisions the journal holds for it (its
// causation_id) with those today's policies take on the state the journal
// says it met. Comparing cause by cause against the journal's own state, a
// difference does not spill over into the causes after it.
type Verifier struct {
	g *Engine
	// pending are the causes of the cascade being read: a cascade is
	// journaled whole right after its posted event, so the next posted event
	// completes them.
	pending []*expectation
	byID    map[string]*expectation
}

type expectation struct {
	cause    event.Event
	expected []event.Event
	found    []event.Event
}

// NewVerifier returns a verifier with the engine options o (its policies and
// thresholds are "today's").
func NewVerifier(o Options) *Verifier {
	return &Verifier{g: New(o), byID: map[string]*expectation{}}
}

// Engine is the verifier's fold: after the last event, the journal's state.
func (v *Verifier) Engine() *Engine { return v.g }

// IsDecision reports whether e is a policy decision: its source is
// ringriftd/<policy> for a known policy.
func IsDecision(e *event.Event) bool {
	name, ok := strings.CutPrefix(e.Source, event.DecisionSourcePrefix)
	if !ok {
		return false
	}
	_, err := flows.PolicyByName(name)
	return err == nil
}

// Fold takes the next journaled event and returns the differences of the
// causes it completed.
func (v *Verifier) Fold(e *event.Event) []Difference {
	var diffs []Difference
	decision := IsDecision(e)
	if decision {
		if x, ok := v.byID[e.CausationID]; ok {
			x.found = append(x.found, *e)
		} else {
			decision = false // its cause is not in this cascade: judged on its own below
			diffs = append(diffs, Difference{Cause: event.Event{ID: e.ID, Type: "(no cause)", CausationID: e.CausationID}, Found: []event.Event{*e}})
		}
	}
	if !decision {
		diffs = append(diffs, v.flush()...)
	}
	g := v.g
	fx := g.fold(e)
	x := &expectation{cause: *e}
	if g.opts.Policies.Enabled != 0 && !fx.Change.Violation {
		ds := g.opts.Policies.Decide(g.machines, g.memory, view{g}, e, fx, nil)
		for i, d := range ds {
			de := envelope(e, i, d)
			if err := g.opts.Validator.ValidateDecision(&de); err != nil {
				de.Type += " (invalid: " + err.Message + ")"
			}
			x.expected = append(x.expected, de)
		}
	}
	v.pending = append(v.pending, x)
	v.byID[e.ID.String()] = x
	return diffs
}

// Close returns the differences of the last cascade.
func (v *Verifier) Close() []Difference { return v.flush() }

func (v *Verifier) flush() []Difference {
	var diffs []Difference
	for _, x := range v.pending {
		if !sameDecisions(x.expected, x.found) {
			diffs = append(diffs, Difference{Cause: x.cause, Expected: x.expected, Found: x.found})
		}
	}
	clear(v.byID)
	v.pending = v.pending[:0]
	return diffs
}

func sameDecisions(a, b []event.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.ID != y.ID || x.Type != y.Type || x.ConfigKey != y.ConfigKey || x.NodeID != y.NodeID ||
			x.Source != y.Source || !x.Time.Equal(y.Time) || x.CausationID != y.CausationID ||
			x.CorrelationID != y.CorrelationID || !bytes.Equal(x.Payload, y.Payload) {
			return false
		}
	}
	return true
}

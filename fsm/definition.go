package fsm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	lfsm "github.com/looplab/fsm"
)

// VariantSep separates an event's base name from the variant that picks one
// of its conditional destinations: "evaluation_failed/abandon".
const VariantSep = "/"

// Base returns the event name without its variant: Base("a/b") is "a".
func Base(event string) string {
	if i := strings.Index(event, VariantSep); i >= 0 {
		return event[:i]
	}
	return event
}

// Definition is a state machine as data.
type Definition struct {
	// Name names the machine in errors and explanations ("pipeline").
	Name string
	// Initial is the state of a key before its first event.
	Initial string
	// States lists every state once; diagrams list them in this order.
	States []string
	// Transitions are the rows of the machine's table.
	Transitions []Transition
}

// Transition is one row: Event fired in any state of From goes to To. An
// (Event, From state) pair appears at most once in a Definition.
type Transition struct {
	// Event is the name Apply takes: a base name, or base/variant for one
	// of several conditional destinations of the same base.
	Event string
	From  []string
	To    string
	// Label is the diagram text of the row; Event when empty.
	Label string
}

// label is the row's diagram text.
func (t Transition) label() string {
	if t.Label != "" {
		return t.Label
	}
	return t.Event
}

// LooplabEvents returns the definition in looplab's form, one EventDesc per
// transition, in definition order.
func (d Definition) LooplabEvents() lfsm.Events {
	evs := make(lfsm.Events, 0, len(d.Transitions))
	for _, t := range d.Transitions {
		evs = append(evs, lfsm.EventDesc{Name: t.Event, Src: slices.Clone(t.From), Dst: t.To})
	}
	return evs
}

// clone returns a deep copy of d.
func (d Definition) clone() Definition {
	c := Definition{Name: d.Name, Initial: d.Initial, States: slices.Clone(d.States)}
	for _, t := range d.Transitions {
		t.From = slices.Clone(t.From)
		c.Transitions = append(c.Transitions, t)
	}
	return c
}

// validName reports whether s is usable as a state or event name: non-empty
// letters, digits and underscores (so that it is a Mermaid identifier), plus
// at most one VariantSep for events.
func validName(s string, variant bool) bool {
	if s == "" {
		return false
	}
	seps := 0
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case variant && string(c) == VariantSep && i > 0 && i < len(s)-1:
			seps++
		default:
			return false
		}
	}
	return seps <= 1
}

// Validate checks a definition: a name, unique well-formed states, an initial
// state among them, and transitions between known states with no (event,
// from) pair twice. Every error wraps ErrDefinition.
func (d Definition) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrDefinition, d.Name, fmt.Sprintf(format, args...))
	}
	if d.Name == "" {
		return fmt.Errorf("%w: the machine needs a name", ErrDefinition)
	}
	if len(d.States) == 0 {
		return bad("no states")
	}
	if len(d.States) > maxStates {
		return bad("%d states; at most %d", len(d.States), maxStates)
	}
	known := map[string]bool{}
	for _, s := range d.States {
		if !validName(s, false) {
			return bad("state %q: want letters, digits and underscores", s)
		}
		if known[s] {
			return bad("state %s listed twice", s)
		}
		known[s] = true
	}
	if !known[d.Initial] {
		return bad("initial state %q is not a state", d.Initial)
	}
	if len(d.Transitions) == 0 {
		return bad("no transitions")
	}
	type pair struct{ event, from string }
	seen := map[pair]bool{}
	for i, t := range d.Transitions {
		if !validName(t.Event, true) {
			return bad("transition %d: event %q: want letters, digits and underscores, optionally base%svariant", i, t.Event, VariantSep)
		}
		if len(t.From) == 0 {
			return bad("transition %d (%s): no from-state", i, t.Event)
		}
		if !known[t.To] {
			return bad("transition %d (%s): to-state %q is not a state", i, t.Event, t.To)
		}
		if strings.ContainsAny(t.Label, ":;\n") {
			return bad("transition %d (%s): label %q: no colon, semicolon or newline", i, t.Event, t.Label)
		}
		for _, f := range t.From {
			if !known[f] {
				return bad("transition %d (%s): from-state %q is not a state", i, t.Event, f)
			}
			p := pair{t.Event, f}
			if seen[p] {
				return bad("transition %d: %s from %s is defined twice", i, t.Event, f)
			}
			seen[p] = true
		}
	}
	for p := range seen {
		if base := Base(p.event); base != p.event && seen[pair{base, p.from}] {
			return bad("%s from %s is defined both plain and as variant %s", base, p.from, p.event)
		}
	}
	return nil
}

// maxStates bounds the states of a definition so that a state index fits in
// the transition table's cells.
const maxStates = 250

// spec is a validated definition compiled into a transition table. It is
// immutable and shared by a Machine and its clones.
type spec struct {
	def     Definition
	initial uint8
	stateID map[string]uint8
	eventID map[string]int
	events  []string // by id, sorted
	// next[event][state] is the destination state index + 1; 0 = not
	// allowed. Derived from looplab's answers.
	next [][]uint8
	// accepts[state] are the base names of the events allowed in a state,
	// sorted and unique.
	accepts [][]string
	// variants maps a base name to the event ids that share it.
	variants map[string][]int
	// looplab is the definition in looplab's form, for the keys' FSMs.
	looplab lfsm.Events
}

// compile validates def and derives its transition table from looplab.
func compile(def Definition) (*spec, error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	def = def.clone()
	s := &spec{def: def, stateID: map[string]uint8{}, eventID: map[string]int{}, variants: map[string][]int{}}
	for i, st := range def.States {
		s.stateID[st] = uint8(i)
	}
	s.initial = s.stateID[def.Initial]
	for _, t := range def.Transitions {
		if _, ok := s.eventID[t.Event]; !ok {
			s.eventID[t.Event] = 0
			s.events = append(s.events, t.Event)
		}
	}
	slices.Sort(s.events)
	for i, ev := range s.events {
		s.eventID[ev] = i
		s.variants[Base(ev)] = append(s.variants[Base(ev)], i)
	}
	// Ask looplab, the reference engine, where each event leads from each
	// state.
	s.looplab = def.LooplabEvents()
	ref := lfsm.NewFSM(def.Initial, s.looplab, nil)
	s.next = make([][]uint8, len(s.events))
	acc := make([]map[string]bool, len(def.States))
	for i := range acc {
		acc[i] = map[string]bool{}
	}
	for ei, ev := range s.events {
		s.next[ei] = make([]uint8, len(def.States))
		for si, st := range def.States {
			ref.SetState(st)
			err := ref.Event(context.Background(), ev)
			var noTransition lfsm.NoTransitionError
			var invalid lfsm.InvalidEventError
			switch {
			case err == nil || errors.As(err, &noTransition):
				dst, ok := s.stateID[ref.Current()]
				if !ok {
					return nil, fmt.Errorf("%w: %s: looplab moved %s from %s to unknown state %q", ErrDefinition, def.Name, ev, st, ref.Current())
				}
				s.next[ei][si] = dst + 1
				acc[si][Base(ev)] = true
			case errors.As(err, &invalid):
			default:
				return nil, fmt.Errorf("%w: %s: looplab refused %s from %s: %w", ErrDefinition, def.Name, ev, st, err)
			}
		}
	}
	s.accepts = make([][]string, len(def.States))
	for si := range def.States {
		for ev := range acc[si] {
			s.accepts[si] = append(s.accepts[si], ev)
		}
		slices.Sort(s.accepts[si])
	}
	return s, nil
}

// allows reports whether event (a full name, or a base name standing for
// any of its variants) is allowed in state si.
func (s *spec) allows(si uint8, event string) bool {
	if ei, ok := s.eventID[event]; ok {
		return s.next[ei][si] != 0
	}
	for _, ei := range s.variants[event] {
		if s.next[ei][si] != 0 {
			return true
		}
	}
	return false
}

// known reports whether event names an event of the definition, as a full
// name or as a base.
func (s *spec) known(event string) bool {
	if _, ok := s.eventID[event]; ok {
		return true
	}
	_, ok := s.variants[event]
	return ok
}

// Mermaid returns the definition as a Mermaid stateDiagram-v2: the initial
// state, then one line per (transition, from-state) in definition order.
// The text depends on the definition only.
func (d Definition) Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	fmt.Fprintf(&b, "    [*] --> %s\n", d.Initial)
	for _, t := range d.Transitions {
		for _, f := range t.From {
			fmt.Fprintf(&b, "    %s --> %s: %s\n", f, t.To, t.label())
		}
	}
	return b.String()
}

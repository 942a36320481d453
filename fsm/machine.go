package fsm

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	lfsm "github.com/looplab/fsm"
)

// DefaultHistoryLimit is a history limit suited to a live daemon: enough to
// explain the recent life of a key, small enough for a large replay.
const DefaultHistoryLimit = 64

// Machine is a set of keyed machines over one Definition: each key has its
// own state, created lazily at the initial state on the key's first
// transition, and its own bounded transition history.
type Machine struct {
	spec  *spec
	keys  map[string]*instance
	limit int
}

// instance is the machine of one key.
type instance struct {
	state uint8
	// lf is the key's looplab FSM, kept in state by SetState. nil until
	// the key's first transition (and in a clone, until its first state
	// change): it is then created at the key's current state.
	lf   *lfsm.FSM
	hist ring
}

// Step is one applied transition.
type Step struct {
	Key   string
	Event string // the full event name, variant included
	From  string
	To    string
}

// Changed reports whether the transition changed the key's state.
func (s Step) Changed() bool { return s.From != s.To }

// Record is one entry of a key's transition history. In JSON its time is
// unix milliseconds (time_ms), the journal's own precision, so that any time
// an event can carry encodes (encoding/json refuses years past 9999).
type Record struct {
	Seq   uint64
	Event string
	From  string
	To    string
	Time  time.Time
}

type recordJSON struct {
	Seq    uint64 `json:"seq"`
	Event  string `json:"event"`
	From   string `json:"from"`
	To     string `json:"to"`
	TimeMS int64  `json:"time_ms"`
}

// MarshalJSON writes the record with its time in unix milliseconds.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{r.Seq, r.Event, r.From, r.To, r.Time.UnixMilli()})
}

// UnmarshalJSON reads what MarshalJSON wrote; the time is in UTC.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Record{j.Seq, j.Event, j.From, j.To, time.UnixMilli(j.TimeMS).UTC()}
	return nil
}

// Explanation is what a key's machine accepts in its current state.
type Explanation struct {
	Machine string   `json:"machine"`
	Key     string   `json:"key"`
	State   string   `json:"state"`
	Accepts []string `json:"accepts"` // base names, sorted
}

// New validates def and returns its keyed machines, with no key yet and
// DefaultHistoryLimit.
func New(def Definition) (*Machine, error) {
	s, err := compile(def)
	if err != nil {
		return nil, err
	}
	return &Machine{spec: s, keys: map[string]*instance{}, limit: DefaultHistoryLimit}, nil
}

// MustNew is New for definitions known to be valid; it panics otherwise.
func MustNew(def Definition) *Machine {
	m, err := New(def)
	if err != nil {
		panic(err)
	}
	return m
}

// Definition returns a copy of the machine's definition.
func (m *Machine) Definition() Definition { return m.spec.def.clone() }

// Name returns the definition's name.
func (m *Machine) Name() string { return m.spec.def.Name }

// Mermaid returns the definition's Mermaid diagram.
func (m *Machine) Mermaid() string { return m.spec.def.Mermaid() }

// HistoryLimit returns how many history records each key keeps.
func (m *Machine) HistoryLimit() int { return m.limit }

// SetHistoryLimit sets how many records each key keeps: the last n; 0 keeps
// none, a negative n keeps all. Existing histories are trimmed.
func (m *Machine) SetHistoryLimit(n int) {
	m.limit = n
	for _, in := range m.keys {
		in.hist.trim(n)
	}
}

// State returns the state of key: the initial state for a key with no
// transition yet.
func (m *Machine) State(key string) string {
	return m.spec.def.States[m.stateOf(key)]
}

func (m *Machine) stateOf(key string) uint8 {
	if in, ok := m.keys[key]; ok {
		return in.state
	}
	return m.spec.initial
}

// Keys returns the keys that had a transition, sorted.
func (m *Machine) Keys() []string {
	out := make([]string, 0, len(m.keys))
	for k := range m.keys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Next returns where event leads from state, and whether it is allowed
// there. event is a full name (variant included).
func (m *Machine) Next(state, event string) (string, bool) {
	si, ok := m.spec.stateID[state]
	ei, oke := m.spec.eventID[event]
	if !ok || !oke {
		return "", false
	}
	d := m.spec.next[ei][si]
	if d == 0 {
		return "", false
	}
	return m.spec.def.States[d-1], true
}

// Known reports whether event (a full name or a base name) is an event of the
// definition.
func (m *Machine) Known(event string) bool { return m.spec.known(event) }

// Allows reports whether state allows event (a full name, or a base name
// standing for any of its variants).
func (m *Machine) Allows(state, event string) bool {
	si, ok := m.spec.stateID[state]
	return ok && m.spec.allows(si, event)
}

// Can reports whether key's current state allows event (a full name, or a
// base name standing for any of its variants).
func (m *Machine) Can(key, event string) bool {
	return m.spec.allows(m.stateOf(key), event)
}

// Accepts returns the base names of the events state allows, sorted.
func (m *Machine) Accepts(state string) []string {
	si, ok := m.spec.stateID[state]
	if !ok {
		return nil
	}
	return slices.Clone(m.spec.accepts[si])
}

// Explain returns key's state and the events it accepts.
func (m *Machine) Explain(key string) Explanation {
	si := m.stateOf(key)
	return Explanation{Machine: m.spec.def.Name, Key: key, State: m.spec.def.States[si], Accepts: slices.Clone(m.spec.accepts[si])}
}

// WhyNot returns nil when key's state allows event, else why not: an error
// wrapping ErrUnknownEvent, or a *NotAllowedError.
func (m *Machine) WhyNot(key, event string) error {
	if !m.spec.known(event) {
		return fmt.Errorf("%w: %s has no event %q", ErrUnknownEvent, m.spec.def.Name, event)
	}
	si := m.stateOf(key)
	if m.spec.allows(si, event) {
		return nil
	}
	return &NotAllowedError{
		Machine: m.spec.def.Name, Key: key, Event: Base(event),
		State: m.spec.def.States[si], Accepts: slices.Clone(m.spec.accepts[si]),
	}
}

// Apply fires event (a full name, variant included) on key's machine, with
// the sequence number and time of the event that caused it, and records the
// transition in the key's history. A self-transition is a success (looplab
// answers NoTransitionError for it) and leaves the state as it was. A refused
// event changes nothing and returns a *NotAllowedError; an event outside the
// definition an error wrapping ErrUnknownEvent.
func (m *Machine) Apply(key, event string, seq uint64, t time.Time) (Step, error) {
	st, ok := m.TryApply(key, event, seq, t)
	if ok {
		return st, nil
	}
	if _, known := m.spec.eventID[event]; !known {
		return Step{}, fmt.Errorf("%w: %s has no event %q", ErrUnknownEvent, m.spec.def.Name, event)
	}
	return Step{}, m.WhyNot(key, event)
}

// TryApply is Apply without building the error: false (and nothing
// changed) when event is not a full event name of the definition or key's
// state does not allow it. Callers that refuse in their own words save
// Apply's error.
func (m *Machine) TryApply(key, event string, seq uint64, t time.Time) (Step, bool) {
	ei, ok := m.spec.eventID[event]
	if !ok {
		return Step{}, false
	}
	in := m.keys[key]
	si := m.spec.initial
	if in != nil {
		si = in.state
	}
	d := m.spec.next[ei][si]
	if d == 0 {
		return Step{}, false
	}
	if in == nil {
		in = &instance{state: si, lf: lfsm.NewFSM(m.spec.def.Initial, m.spec.looplab, nil)}
		m.keys[key] = in
	}
	to := d - 1
	if to != si {
		in.state = to
		if in.lf == nil {
			in.lf = lfsm.NewFSM(m.spec.def.States[to], m.spec.looplab, nil)
		} else {
			in.lf.SetState(m.spec.def.States[to])
		}
	}
	st := Step{Key: key, Event: event, From: m.spec.def.States[si], To: m.spec.def.States[to]}
	if m.limit != 0 {
		in.hist.add(Record{Seq: seq, Event: event, From: st.From, To: st.To, Time: t}, m.limit)
	}
	return st, true
}

// History returns the recorded transitions of key, oldest first.
func (m *Machine) History(key string) []Record {
	in, ok := m.keys[key]
	if !ok {
		return nil
	}
	return in.hist.list()
}

// Clone returns an independent deep copy: applying events to one never
// changes the other. The clone's looplab FSMs are created on their key's
// next state change.
func (m *Machine) Clone() *Machine {
	c := &Machine{spec: m.spec, keys: make(map[string]*instance, len(m.keys)), limit: m.limit}
	for k, in := range m.keys {
		c.keys[k] = &instance{state: in.state, hist: in.hist.clone()}
	}
	return c
}

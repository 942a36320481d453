package fsm

import (
	"fmt"
	"slices"
)

// ring is a key's bounded history. While it holds fewer records than the
// limit it is in order from buf[0]; once full, buf[start] is the oldest.
// After a Clone the original and the copy share buf (shared is set on both)
// until one of them adds a record: that one copies first.
type ring struct {
	buf    []Record
	start  int
	shared bool
}

func (r *ring) add(rec Record, limit int) {
	if r.shared {
		r.buf, r.start, r.shared = r.list(), 0, false
	}
	if limit < 0 || len(r.buf) < limit {
		r.buf = append(r.buf, rec)
		return
	}
	r.buf[r.start] = rec
	r.start = (r.start + 1) % len(r.buf)
}

// list returns the records oldest first, as a new slice.
func (r *ring) list() []Record {
	if len(r.buf) == 0 {
		return nil
	}
	out := make([]Record, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// trim keeps the last n records (all for n < 0) and puts them in order.
func (r *ring) trim(n int) {
	l := r.list()
	if n >= 0 && len(l) > n {
		l = l[len(l)-n:]
	}
	if len(l) == 0 {
		l = nil
	}
	r.buf, r.start, r.shared = l, 0, false
}

// clone returns a copy sharing r's records until either adds one.
func (r *ring) clone() ring {
	if r.buf == nil {
		return ring{}
	}
	r.shared = true
	return ring{buf: r.buf, start: r.start, shared: true}
}

// KeyState is the exported state of one key: its state and its history,
// oldest first.
type KeyState struct {
	State   string   `json:"state"`
	History []Record `json:"history,omitempty"`
}

// Export returns the state of every key that had a transition. Encoded with
// encoding/json it is deterministic (map keys sorted).
func (m *Machine) Export() map[string]KeyState {
	out := make(map[string]KeyState, len(m.keys))
	for k, in := range m.keys {
		out[k] = KeyState{State: m.spec.def.States[in.state], History: in.hist.list()}
	}
	return out
}

// Import replaces the state of every key with states, as Export returned it.
// Histories longer than the machine's limit keep their last records. An
// error (wrapping ErrState) leaves the machine unchanged.
func (m *Machine) Import(states map[string]KeyState) error {
	keys := make(map[string]*instance, len(states))
	for k, ks := range states {
		si, ok := m.spec.stateID[ks.State]
		if !ok {
			return fmt.Errorf("%w: %s: key %q: unknown state %q", ErrState, m.spec.def.Name, k, ks.State)
		}
		for i, r := range ks.History {
			_, okf := m.spec.stateID[r.From]
			_, okt := m.spec.stateID[r.To]
			if !okf || !okt || !m.spec.known(r.Event) {
				return fmt.Errorf("%w: %s: key %q: history record %d (%s from %q to %q) does not fit the definition",
					ErrState, m.spec.def.Name, k, i, r.Event, r.From, r.To)
			}
		}
		in := &instance{state: si, hist: ring{buf: slices.Clone(ks.History)}}
		in.hist.trim(m.limit)
		keys[k] = in
	}
	m.keys = keys
	return nil
}

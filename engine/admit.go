package engine

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// maxDecisionsPerCause is the most decisions one cause may have: a derived
// id numbers them in one byte (journal.md).
const maxDecisionsPerCause = 256

// rebaseEvents is how many events the undo log holds before the next
// transaction takes a new base (a clone of the whole state). A clone after
// a 1M-event journal costs about 0.5 ms, so this keeps it near 30 ns per
// event, and restoring refolds at most this many events.
const rebaseEvents = 16384

// Begin opens the transaction of one append (journal.Hook).
func (g *Engine) Begin(atomic bool) {
	if len(g.undo.log) >= rebaseEvents && !g.undo.pinned {
		g.undo.drop()
	}
	g.undo.ensureBase(g)
	g.undo.begin = len(g.undo.log)
}

// Admit checks and applies one event, then runs the policies on it and on
// their decisions, breadth first (journal.Hook). Refused — by the machines,
// or because the cascade went deeper than MaxCascadeDepth — nothing
// changes. Accepted, the decisions are returned in journal order with their
// envelopes complete.
func (g *Engine) Admit(e *event.Event) ([]event.Event, *event.Error) {
	g.undo.ensureBase(g)
	mark := len(g.undo.log)
	fx, err := g.apply(e)
	if err != nil {
		return nil, err
	}
	g.undo.record(e)
	if g.opts.Policies.Enabled == 0 || fx.Change.Violation {
		return nil, nil
	}
	out, err := g.cascade(e, fx)
	if err != nil {
		g.restore(mark)
		return nil, err
	}
	return out, nil
}

// Commit keeps what was admitted (journal.Hook).
func (g *Engine) Commit() { g.undo.begin = len(g.undo.log) }

// Rollback restores the state of the atomic append's Begin (journal.Hook).
func (g *Engine) Rollback() { g.restore(g.undo.begin) }

// cascade applies the decisions of root and of each decision in turn,
// breadth first, and returns them in that order (the journal's).
func (g *Engine) cascade(root *event.Event, fx flows.Effects) ([]event.Event, *event.Error) {
	var out []event.Event
	var parent, depth []int // per decision: index of its cause in out (-1: root), depth
	maxDepth := g.opts.Policies.Thresholds.MaxCascadeDepth
	cause, causeAt, causeDepth := root, -1, 0
	for next := 0; ; next++ {
		g.decisions = g.opts.Policies.Decide(g.machines, g.memory, view{g}, cause, fx, g.decisions[:0])
		if len(g.decisions) > maxDecisionsPerCause {
			return nil, event.Errorf(event.CodeCascadeTooDeep, "", "fewer decisions per event",
				"%s would cause %d decisions; at most %d", cause.Type, len(g.decisions), maxDecisionsPerCause)
		}
		c := *cause // out may grow into a new array below
		for i, d := range g.decisions {
			if causeDepth+1 > maxDepth {
				return nil, tooDeep(root, out, parent, causeAt, d.Type, maxDepth)
			}
			out = append(out, envelope(&c, i, d))
			parent, depth = append(parent, causeAt), append(depth, causeDepth+1)
		}
		if next == len(out) {
			return out, nil
		}
		d := &out[next]
		d.Seq = root.Seq + uint64(next) + 1
		if verr := g.opts.Validator.ValidateDecision(d); verr != nil {
			return nil, decisionRefused(d, verr)
		}
		var err *event.Error
		if fx, err = g.apply(d); err != nil {
			return nil, decisionRefused(d, err)
		}
		g.undo.record(d)
		cause, causeAt, causeDepth = d, next, depth[next]
	}
}

// envelope completes the i-th decision of cause (flows.md, Policies): the
// derived id, the policy's source, the cause's time, causation and
// correlation.
func envelope(cause *event.Event, i int, d flows.Decision) event.Event {
	return event.Event{
		ID: derivedID(cause.ID, cause.Time.UnixMilli(), i), Type: d.Type, ConfigKey: d.ConfigKey, NodeID: d.NodeID,
		Source: event.DecisionSourcePrefix + d.Policy.String(), Time: cause.Time,
		CausationID: cause.ID.String(), CorrelationID: cause.CorrelationID, Payload: d.Payload,
	}
}

// derivedID is a decision's id (journal.md): the cause's time in ms and the
// first 10 bytes of SHA-256 over the cause's id and the decision's
// position among the cause's decisions.
func derivedID(cause ulid.ULID, ms int64, pos int) ulid.ULID {
	var in [17]byte
	copy(in[:], cause[:])
	in[16] = byte(pos)
	sum := sha256.Sum256(in[:])
	var id ulid.ULID
	_ = id.SetTime(uint64(ms)) // a journaled time is within ULID's range
	copy(id[6:], sum[:10])
	return id
}

// tooDeep is the cascade_too_deep refusal, naming the chain from the posted
// event to the decision that went too deep.
func tooDeep(root *event.Event, out []event.Event, parent []int, at int, typ string, maxDepth int) *event.Error {
	chain := []string{typ}
	for i := at; i >= 0; i = parent[i] {
		chain = append(chain, out[i].Type)
	}
	chain = append(chain, root.Type)
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return event.Errorf(event.CodeCascadeTooDeep, "type",
		fmt.Sprintf("a cascade of at most %d decisions deep", maxDepth),
		"the decisions of %s cascade deeper than %d: %s", root.Type, maxDepth, strings.Join(chain, " → "))
}

// decisionRefused reports a decision that validation or the machines
// refused: a policy bug, which refuses its cause rather than journal an
// inconsistent cascade.
func decisionRefused(d *event.Event, err *event.Error) *event.Error {
	r := *err
	r.Message = fmt.Sprintf("decision %s of %s was refused: %s", d.Type, d.Source, err.Message)
	return &r
}

// view adapts the projections to what the policies read.
type view struct{ g *Engine }

func (v view) Rating(config, participant string) (float64, bool) {
	return v.g.elo.Rating(config, participant)
}
func (v view) ChampionElo(config string) (float64, bool) { return v.g.elo.ChampionElo(config) }
func (v view) Velocity(config string) (float64, bool, string) {
	vel := v.g.elo.Velocity(config)
	return vel.Value, vel.Valid, vel.Trend
}
func (v view) Tier(config string) int        { return v.g.curriculum.Tier(config) }
func (v view) AppendWeights(b []byte) []byte { return v.g.curriculum.AppendWeightsJSON(b) }

// undo restores the state before a refused Admit or a rolled-back atomic
// append without cloning the state for each: it keeps a base (a clone) and
// the events applied since, and restores by refolding them. The log copies
// the events (payloads into an arena): the caller may reuse its buffers.
type undo struct {
	base  *Engine
	log   []event.Event
	arena []byte
	begin int // len(log) at the transaction's Begin
	// pinned: a Savepoint was taken; Begin does not rebase the log (which
	// would lose it) until the next Savepoint moves it.
	pinned bool
}

func (u *undo) drop() {
	u.base, u.log, u.arena, u.begin, u.pinned = nil, u.log[:0], u.arena[:0], 0, false
}

func (u *undo) ensureBase(g *Engine) {
	if u.base == nil {
		u.base = g.Clone()
		u.log, u.arena, u.begin = u.log[:0], u.arena[:0], 0
	}
}

func (u *undo) record(e *event.Event) {
	c := *e
	start := len(u.arena)
	u.arena = append(u.arena, e.Payload...)
	c.Payload = u.arena[start:len(u.arena):len(u.arena)]
	u.log = append(u.log, c)
}

// restore sets the state to the base with the first mark logged events
// refolded: the state before the event logged at mark.
func (g *Engine) restore(mark int) {
	u := &g.undo
	r := u.base.Clone()
	r.machines.SetEnforcement(flows.Lenient) // every logged event was accepted
	for i := range u.log[:mark] {
		_, _ = r.apply(&u.log[i])
	}
	r.machines.SetEnforcement(g.opts.Enforcement)
	g.machines, g.elo, g.curriculum, g.health, g.memory = r.machines, r.elo, r.curriculum, r.health, r.memory
	g.machines.SetBackpressure(g.health)
	u.log = u.log[:mark]
	u.begin = min(u.begin, mark)
}

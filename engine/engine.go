// Package engine composes the state machines (flows) and the projections into
// the one deterministic fold ringriftd runs inside the journal's sequencer:
// it checks each event against the machines, applies it to the machines and
// the four projections, and (with the policies) returns the decisions it
// causes. The same code folds a journal on replay, so replay equals live.
//
// The package is pure: no I/O and no clock. It implements journal.Hook
// without importing the journal (the hook's methods use event types only).
package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/projections"
)

// CheckpointVersion is the format version of MarshalCheckpoint's data. A
// checkpoint of another version is ignored and the state rebuilt.
const CheckpointVersion = 1

// ErrCheckpoint is returned for checkpoint data that does not decode.
var ErrCheckpoint = errors.New("engine: invalid checkpoint")

// Options configure an Engine.
type Options struct {
	// Enforcement is strict (refuse flow violations) or lenient (journal
	// them, count them, fold nothing else).
	Enforcement flows.Enforcement
	// HistoryLimit is how many transitions each key's history keeps (see
	// flows.Options).
	HistoryLimit int
}

// Engine is the fold of machines and projections. Not safe for concurrent
// use: the journal's sequencer is its single writer; readers take a Clone or
// render JSON under the owner's lock.
type Engine struct {
	opts       Options
	machines   *flows.Machines
	elo        *projections.Elo
	curriculum *projections.Curriculum
	health     *projections.Health

	// snap is the state at Begin of an atomic append, restored by Rollback.
	snap *Engine
}

// New returns an engine in the initial state: the twelve canonical configs,
// no node.
func New(o Options) *Engine {
	g := &Engine{opts: o}
	g.reset()
	return g
}

func (g *Engine) reset() {
	g.health = projections.NewHealth()
	g.machines = flows.New(flows.Options{Enforcement: g.opts.Enforcement, Backpressure: g.health, HistoryLimit: g.opts.HistoryLimit})
	g.elo = projections.NewElo()
	g.curriculum = projections.NewCurriculum()
}

// Begin opens the transaction of one append (journal.Hook).
func (g *Engine) Begin(atomic bool) {
	g.snap = nil
	if atomic {
		g.snap = g.Clone()
	}
}

// Admit checks and applies one event (journal.Hook): refused, nothing
// changes; accepted, its decisions (none until the policies land) follow.
func (g *Engine) Admit(e *event.Event) ([]event.Event, *event.Error) {
	if _, err := g.apply(e); err != nil {
		return nil, err
	}
	return nil, nil
}

// Commit keeps what was admitted (journal.Hook).
func (g *Engine) Commit() { g.snap = nil }

// Rollback restores the state of the atomic append's Begin (journal.Hook).
func (g *Engine) Rollback() {
	if g.snap == nil {
		return
	}
	s := g.snap
	g.machines, g.elo, g.curriculum, g.health = s.machines, s.elo, s.curriculum, s.health
	g.machines.SetBackpressure(g.health)
	g.snap = nil
}

// apply runs one event through the machines, then the projections. A strict
// refusal changes nothing; a lenient violation moves only its counter.
func (g *Engine) apply(e *event.Event) (flows.Change, *event.Error) {
	ch, err := g.machines.Apply(e)
	if err != nil {
		return ch, err
	}
	if ch.Violation {
		return ch, nil
	}
	g.elo.Apply(e)
	g.curriculum.Apply(e)
	g.health.Apply(e)
	return ch, nil
}

// Fold applies a journaled event on replay. It was accepted when it was
// journaled, so it is never refused here: an event that the machines would
// refuse now (journaled in lenient mode) counts as a violation, as it did
// live.
func (g *Engine) Fold(e *event.Event) {
	if g.opts.Enforcement == flows.Lenient {
		_, _ = g.apply(e)
		return
	}
	g.machines.SetEnforcement(flows.Lenient)
	_, _ = g.apply(e)
	g.machines.SetEnforcement(flows.Strict)
}

// Check reports whether e would be accepted now, changing nothing.
func (g *Engine) Check(e *event.Event) *event.Error { return g.machines.Check(e) }

// Clone returns an independent copy of the state.
func (g *Engine) Clone() *Engine {
	c := &Engine{opts: g.opts, elo: g.elo.Clone(), curriculum: g.curriculum.Clone(), health: g.health.Clone()}
	c.machines = g.machines.Clone()
	c.machines.SetBackpressure(c.health)
	return c
}

// Machines returns the live machines: read-only for callers.
func (g *Engine) Machines() *flows.Machines { return g.machines }

// Elo returns the live Elo projection: read-only for callers.
func (g *Engine) Elo() *projections.Elo { return g.elo }

// Curriculum returns the live curriculum projection: read-only for callers.
func (g *Engine) Curriculum() *projections.Curriculum { return g.curriculum }

// Health returns the live health projection: read-only for callers.
func (g *Engine) Health() *projections.Health { return g.health }

// Projection names, as the API and fixtures use them.
var Projections = []string{"pipelines", "elo", "curriculum", "health"}

// ProjectionJSON renders one projection of projections.md by name.
func (g *Engine) ProjectionJSON(name string) ([]byte, bool) {
	switch name {
	case "pipelines":
		m := g.machines
		return projections.PipelinesJSON(m.PipelineKeys(), m.Pipeline, m.Paused), true
	case "elo":
		return projections.EloJSON(g.elo), true
	case "curriculum":
		return projections.CurriculumJSON(g.curriculum), true
	case "health":
		m := g.machines
		return projections.HealthJSON(g.health, m.NodeKeys(), m.Node), true
	}
	return nil, false
}

type checkpoint struct {
	Machines   json.RawMessage `json:"machines"`
	Elo        json.RawMessage `json:"elo"`
	Curriculum json.RawMessage `json:"curriculum"`
	Health     json.RawMessage `json:"health"`
}

// MarshalCheckpoint encodes the complete state (CheckpointVersion).
func (g *Engine) MarshalCheckpoint() ([]byte, error) {
	var cp checkpoint
	var err error
	if cp.Machines, err = g.machines.MarshalJSON(); err != nil {
		return nil, fmt.Errorf("engine: checkpoint machines: %w", err)
	}
	if cp.Elo, err = g.elo.MarshalJSON(); err != nil {
		return nil, fmt.Errorf("engine: checkpoint elo: %w", err)
	}
	if cp.Curriculum, err = g.curriculum.MarshalJSON(); err != nil {
		return nil, fmt.Errorf("engine: checkpoint curriculum: %w", err)
	}
	if cp.Health, err = g.health.MarshalJSON(); err != nil {
		return nil, fmt.Errorf("engine: checkpoint health: %w", err)
	}
	return json.Marshal(cp)
}

// UnmarshalCheckpoint replaces the state with a checkpoint's. On error the
// engine is reset to the initial state (rebuild from the start).
func (g *Engine) UnmarshalCheckpoint(data []byte) error {
	var cp checkpoint
	err := json.Unmarshal(data, &cp)
	if err == nil {
		g.reset()
		err = errors.Join(g.machines.UnmarshalJSON(cp.Machines), g.elo.UnmarshalJSON(cp.Elo),
			g.curriculum.UnmarshalJSON(cp.Curriculum), g.health.UnmarshalJSON(cp.Health))
	}
	if err != nil {
		g.reset()
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	g.machines.SetBackpressure(g.health)
	return nil
}

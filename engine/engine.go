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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/projections"
)

// CheckpointVersion is the format version of MarshalCheckpoint's data. A
// checkpoint of another version is ignored and the state rebuilt.
// Version 2 added the policies' memory; version 3 writes times as unix
// milliseconds, so that any time a journal holds encodes; version 4 adds
// the Elo history; version 5 the thresholds the state was folded with.
const CheckpointVersion = 5

// ErrThresholdsChanged is returned (wrapping ErrCheckpoint) for a checkpoint
// folded with other thresholds than the engine's: part of the state (the
// regression memory, the cluster status) depends on them, so the state must
// be refolded from the first event, never mixed.
var ErrThresholdsChanged = fmt.Errorf("%w: folded with other thresholds", ErrCheckpoint)

// Options configure an Engine.
type Options struct {
	// Enforcement is strict (refuse flow violations) or lenient (journal
	// them, count them, fold nothing else).
	Enforcement flows.Enforcement
	// HistoryLimit is how many transitions each key's history keeps (see
	// flows.Options).
	HistoryLimit int
	// Policies says which policies decide and with which thresholds. The
	// zero value has every policy off and the default thresholds (zero
	// Thresholds mean flows.DefaultThresholds).
	Policies flows.PolicyConfig
	// Validator checks decisions like input (nil: event.DefaultValidator).
	Validator *event.Validator
}

// withDefaults fills the zero thresholds and validator.
func (o Options) withDefaults() Options {
	if o.Policies.Thresholds == (flows.Thresholds{}) {
		o.Policies.Thresholds = flows.DefaultThresholds()
	}
	if o.Validator == nil {
		o.Validator = event.DefaultValidator
	}
	return o
}

// Validate checks the options; the errors name the field.
func (o Options) Validate() error {
	o = o.withDefaults()
	if err := (flows.Options{Enforcement: o.Enforcement}).Validate(); err != nil {
		return err
	}
	return o.Policies.Validate()
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
	memory     *flows.Memory

	undo      undo             // how to restore the state before an Admit or a Begin
	decisions []flows.Decision // scratch for the policies' output
}

// New returns an engine in the initial state: the twelve canonical configs,
// no node. It panics on options that fail Validate (a wiring error: the
// daemon validates its configuration first).
func New(o Options) *Engine {
	if err := o.Validate(); err != nil {
		panic(err)
	}
	g := &Engine{opts: o.withDefaults()}
	g.reset()
	return g
}

func (g *Engine) reset() {
	g.health = projections.NewHealth()
	g.machines = flows.New(flows.Options{Enforcement: g.opts.Enforcement, Backpressure: g.health, HistoryLimit: g.opts.HistoryLimit})
	g.elo = projections.NewElo()
	g.curriculum = projections.NewCurriculum()
	g.memory = flows.NewMemory()
	g.undo.drop()
}

// apply runs one event through the machines, then the projections and the
// policies' memory, and says what it did. A strict refusal changes nothing;
// a lenient violation moves only its counter.
func (g *Engine) apply(e *event.Event) (flows.Effects, *event.Error) {
	fx := flows.Effects{ClusterBefore: g.machines.ClusterStatus(&g.opts.Policies.Thresholds)}
	ch, err := g.machines.Apply(e)
	fx.Change = ch
	if err != nil || ch.Violation {
		return fx, err
	}
	g.elo.Apply(e)
	fx.WeightsChanged = g.curriculum.Apply(e)
	g.health.Apply(e)
	g.memory.Fold(e)
	fx.Regression = g.machines.FoldRegression(e, ch, view{g}, &g.opts.Policies.Thresholds)
	return fx, nil
}

// Fold applies a journaled event on replay. It was accepted when it was
// journaled, so it is never refused here: an event that the machines would
// refuse now (journaled in lenient mode) counts as a violation, as it did
// live.
func (g *Engine) Fold(e *event.Event) { g.fold(e) }

// fold applies a journaled event, never refusing it, and says what it did.
func (g *Engine) fold(e *event.Event) flows.Effects {
	g.undo.drop()
	if g.opts.Enforcement == flows.Lenient {
		fx, _ := g.apply(e)
		return fx
	}
	g.machines.SetEnforcement(flows.Lenient)
	fx, _ := g.apply(e)
	g.machines.SetEnforcement(flows.Strict)
	return fx
}

// Check reports whether e would be accepted now, changing nothing.
func (g *Engine) Check(e *event.Event) *event.Error { return g.machines.Check(e) }

// Clone returns an independent copy of the state.
func (g *Engine) Clone() *Engine {
	c := &Engine{opts: g.opts, elo: g.elo.Clone(), curriculum: g.curriculum.Clone(), health: g.health.Clone(),
		memory: g.memory.Clone()}
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

// Projection is one projection of projections.md.
type Projection uint8

// The projections, in the order the API lists them.
const (
	Pipelines Projection = iota + 1
	Elo
	Curriculum
	Health
)

// Projections are all the projections.
var Projections = []Projection{Pipelines, Elo, Curriculum, Health}

// String is the projection's name, as the API paths and fixtures use it.
func (p Projection) String() string {
	switch p {
	case Pipelines:
		return "pipelines"
	case Elo:
		return "elo"
	case Curriculum:
		return "curriculum"
	case Health:
		return "health"
	}
	return fmt.Sprintf("Projection(%d)", uint8(p))
}

// ParseProjection returns the projection called name.
func ParseProjection(name string) (Projection, bool) {
	for _, p := range Projections {
		if p.String() == name {
			return p, true
		}
	}
	return 0, false
}

// JSON renders the projection as projections.md shapes it (decode it into
// the projections package's views: projections.PipelinesView, EloView,
// CurriculumView, HealthView). It panics on a Projection that is not one
// of the constants.
func (g *Engine) JSON(p Projection) []byte {
	m := g.machines
	switch p {
	case Pipelines:
		return projections.PipelinesJSON(m.PipelineKeys(), m.Pipeline, m.Paused)
	case Elo:
		return projections.EloJSON(g.elo)
	case Curriculum:
		return projections.CurriculumJSON(g.curriculum)
	case Health:
		return projections.HealthJSON(g.health, m.ClusterStatus(&g.opts.Policies.Thresholds), m.NodeKeys(), m.Node)
	}
	panic("engine: no projection " + p.String())
}

type checkpoint struct {
	Machines   json.RawMessage `json:"machines"`
	Elo        json.RawMessage `json:"elo"`
	Curriculum json.RawMessage `json:"curriculum"`
	Health     json.RawMessage `json:"health"`
	Memory     json.RawMessage `json:"memory"`
	// Thresholds fingerprints the thresholds the state was folded with
	// (ThresholdsHash).
	Thresholds string `json:"thresholds"`
}

// ThresholdsHash fingerprints a set of thresholds: the first 16 bytes of
// SHA-256 over their JSON, in hex. Two sets hash alike only if every value
// is the same.
func ThresholdsHash(t flows.Thresholds) string {
	b, _ := json.Marshal(t) // a struct of numbers: never fails
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// MarshalCheckpoint encodes the complete state (CheckpointVersion).
func (g *Engine) MarshalCheckpoint() ([]byte, error) {
	cp := checkpoint{Thresholds: ThresholdsHash(g.opts.Policies.Thresholds)}
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
	if cp.Memory, err = g.memory.MarshalJSON(); err != nil {
		return nil, fmt.Errorf("engine: checkpoint memory: %w", err)
	}
	return json.Marshal(cp)
}

// UnmarshalCheckpoint replaces the state with a checkpoint's. On error the
// engine is reset to the initial state (rebuild from the start); a
// checkpoint folded with other thresholds is ErrThresholdsChanged.
func (g *Engine) UnmarshalCheckpoint(data []byte) error {
	var cp checkpoint
	err := json.Unmarshal(data, &cp)
	if want := ThresholdsHash(g.opts.Policies.Thresholds); err == nil && cp.Thresholds != want {
		g.reset()
		return fmt.Errorf("%w (checkpoint %s, now %s)", ErrThresholdsChanged, cp.Thresholds, want)
	}
	if err == nil {
		g.reset()
		err = errors.Join(g.machines.UnmarshalJSON(cp.Machines), g.elo.UnmarshalJSON(cp.Elo),
			g.curriculum.UnmarshalJSON(cp.Curriculum), g.health.UnmarshalJSON(cp.Health), g.memory.UnmarshalJSON(cp.Memory))
	}
	if err != nil {
		g.reset()
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	g.machines.SetBackpressure(g.health)
	return nil
}

package flows

import (
	"fmt"
	"slices"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/fsm"
)

// Enforcement is how the machines treat a transition event that the key's
// state does not allow or that a guard blocks (flows.md, Enforcement).
type Enforcement int

const (
	// Strict refuses the event: Apply returns the refusal and nothing
	// changes. The default.
	Strict Enforcement = iota
	// Lenient accepts the event as a violation: every fold ignores it except
	// the key's Violations counter (not even LastSeq moves).
	Lenient
)

func (e Enforcement) String() string {
	switch e {
	case Strict:
		return "strict"
	case Lenient:
		return "lenient"
	}
	return fmt.Sprintf("Enforcement(%d)", int(e))
}

// ParseEnforcement reads "strict" or "lenient".
func ParseEnforcement(s string) (Enforcement, error) {
	switch s {
	case "strict":
		return Strict, nil
	case "lenient":
		return Lenient, nil
	}
	return Strict, fmt.Errorf("%w: enforcement %q; want strict or lenient", ErrOptions, s)
}

// Options configure Machines. The zero value is strict enforcement, no
// backpressure and no transition history.
type Options struct {
	Enforcement Enforcement
	// Backpressure tells whether a scope's backpressure levels block
	// training; the health projection implements it. nil never blocks.
	Backpressure Backpressure
	// HistoryLimit is how many transitions each key's history keeps: the
	// last N; 0 keeps none, a negative value keeps all
	// (fsm.DefaultHistoryLimit suits a live daemon).
	HistoryLimit int
}

// Validate checks the options; errors wrap ErrOptions.
func (o Options) Validate() error {
	if o.Enforcement != Strict && o.Enforcement != Lenient {
		return fmt.Errorf("%w: enforcement %d; want Strict or Lenient", ErrOptions, int(o.Enforcement))
	}
	return nil
}

// Machines holds the pipeline machine of every config and the recovery
// machine of every node, with their counters and pauses. It is a pure fold
// over accepted events: the same events in the same order give the same
// state, live or replayed. Not safe for concurrent use (single writer).
//
// Pointers returned by Pipeline and Node are the live state: read-only for
// callers, valid until the next Apply, Unmarshal or SetRegression.
type Machines struct {
	enforcement  Enforcement
	backpressure Backpressure

	pipe      *fsm.Machine
	pipelines map[string]*Pipeline
	keys      []string        // pipeline keys, sorted
	cluster   map[string]bool // cluster-wide pause reasons

	rec       *fsm.Machine
	nodes     map[string]*Node
	nodeCount nodeCount // known and failing nodes, kept as nodes change
}

// New returns the machines with the twelve canonical configs in collecting,
// iteration 1, and no node. It panics on options that fail Validate (a
// wiring error).
func New(o Options) *Machines {
	if err := o.Validate(); err != nil {
		panic(err)
	}
	m := &Machines{
		enforcement:  o.Enforcement,
		backpressure: o.Backpressure,
		pipe:         pipelineMachine.Clone(),
		rec:          recoveryMachine.Clone(),
	}
	m.pipe.SetHistoryLimit(o.HistoryLimit)
	m.rec.SetHistoryLimit(o.HistoryLimit)
	m.reset()
	return m
}

// reset empties the state: canonical configs only, no node, no pause.
func (m *Machines) reset() {
	m.pipelines = map[string]*Pipeline{}
	m.keys = nil
	m.cluster = map[string]bool{}
	m.nodes = map[string]*Node{}
	m.nodeCount = nodeCount{}
	for _, k := range event.ConfigKeys() {
		m.pipeline(k)
	}
}

// newPipeline is a config's state before its first event.
func newPipeline() *Pipeline {
	return &Pipeline{State: Collecting, Iteration: 1, Paused: map[string]bool{}}
}

// pipeline returns the pipeline of key, created at its first use.
func (m *Machines) pipeline(key string) *Pipeline {
	if p, ok := m.pipelines[key]; ok {
		return p
	}
	p := newPipeline()
	m.pipelines[key] = p
	i, _ := slices.BinarySearch(m.keys, key)
	m.keys = slices.Insert(m.keys, i, key)
	return p
}

// node returns the node of id, created at its first use.
func (m *Machines) node(id string) *Node {
	if n, ok := m.nodes[id]; ok {
		return n
	}
	n := &Node{State: Unknown}
	m.nodes[id] = n
	return n
}

// Enforcement returns the enforcement mode.
func (m *Machines) Enforcement() Enforcement { return m.enforcement }

// SetBackpressure replaces the backpressure source, e.g. with the health
// projection's clone after Clone. nil never blocks.
func (m *Machines) SetBackpressure(b Backpressure) { m.backpressure = b }

// Pipeline returns the state of config key, nil when the config has had no
// event and is not canonical. Read-only.
func (m *Machines) Pipeline(key string) *Pipeline { return m.pipelines[key] }

// PipelineKeys returns every config with a pipeline, sorted.
func (m *Machines) PipelineKeys() []string { return slices.Clone(m.keys) }

// Node returns the state of node id, nil when no event named it. Read-only.
func (m *Machines) Node(id string) *Node { return m.nodes[id] }

// NodeKeys returns every node with a recovery machine (known or with
// violations only), sorted.
func (m *Machines) NodeKeys() []string {
	out := make([]string, 0, len(m.nodes))
	for k := range m.nodes {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// SetRegression stores the regression policy's memory for config key (the
// policy owns the field; the machines only keep it). It creates the
// pipeline of an extended config.
func (m *Machines) SetRegression(key string, r Regression) {
	m.pipeline(key).Regression = r
}

// History returns the recorded pipeline transitions of config key, oldest
// first (Options.HistoryLimit).
func (m *Machines) History(key string) []fsm.Record { return m.pipe.History(key) }

// NodeHistory returns the recorded recovery transitions of node id.
func (m *Machines) NodeHistory(id string) []fsm.Record { return m.rec.History(id) }

// Explanation is what a config's pipeline accepts now and what holds it.
type Explanation struct {
	Key   string `json:"key"`
	State string `json:"state"`
	// Accepts are the transition events the state accepts, sorted.
	Accepts []string `json:"accepts"`
	// Paused is the union of the config's and the cluster-wide pause
	// reasons and backpressure, sorted.
	Paused []string `json:"paused"`
	// TrainingPaused and PromotionPaused are the reasons that block
	// starting training and promotions, in the order of flows.md's table.
	TrainingPaused  []string `json:"training_paused"`
	PromotionPaused []string `json:"promotion_paused"`
}

// Explain returns what config key accepts now and what holds it.
func (m *Machines) Explain(key string) Explanation {
	p := m.view(key)
	return Explanation{
		Key: key, State: p.State, Accepts: m.pipe.Accepts(p.State),
		Paused:         m.Paused(key),
		TrainingPaused: m.PausedFor(key, ForTraining), PromotionPaused: m.PausedFor(key, ForPromotion),
	}
}

// ExplainNode returns what node id accepts now.
func (m *Machines) ExplainNode(id string) fsm.Explanation { return m.rec.Explain(id) }

// view returns the pipeline of key, or the state of a config before its
// first event; never creates one.
func (m *Machines) view(key string) *Pipeline {
	if p, ok := m.pipelines[key]; ok {
		return p
	}
	return newPipeline()
}

// Clone returns an independent deep copy, for rolling back an atomic batch.
// It shares the backpressure source; see SetBackpressure.
func (m *Machines) Clone() *Machines {
	c := &Machines{
		enforcement:  m.enforcement,
		backpressure: m.backpressure,
		pipe:         m.pipe.Clone(),
		rec:          m.rec.Clone(),
		pipelines:    make(map[string]*Pipeline, len(m.pipelines)),
		keys:         slices.Clone(m.keys),
		cluster:      copySet(m.cluster),
		nodes:        make(map[string]*Node, len(m.nodes)),
		nodeCount:    m.nodeCount,
	}
	for k, p := range m.pipelines {
		c.pipelines[k] = clonePipeline(p)
	}
	for k, n := range m.nodes {
		nn := *n
		c.nodes[k] = &nn
	}
	return c
}

func clonePipeline(p *Pipeline) *Pipeline {
	c := *p
	c.Champions = slices.Clone(p.Champions)
	c.Paused = copySet(p.Paused)
	c.Results = slices.Clone(p.Results)
	if p.LastOutcome != nil {
		o := *p.LastOutcome
		c.LastOutcome = &o
	}
	return &c
}

func copySet(s map[string]bool) map[string]bool {
	c := make(map[string]bool, len(s))
	for k, v := range s {
		if v {
			c[k] = true
		}
	}
	return c
}

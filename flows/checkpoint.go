package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/fsm"
)

// CheckpointFormat is the version of the JSON that MarshalJSON writes.
// Format: bump it on any change of the shapes below.
const CheckpointFormat = 2

// checkpoint is the complete state of Machines as JSON. Options are not part
// of it: they belong to the Machines a checkpoint is loaded into.
type checkpoint struct {
	Format          int                     `json:"format"`
	Pipelines       map[string]pipelineJSON `json:"pipelines"`
	ClusterPaused   []string                `json:"cluster_paused"`
	Nodes           map[string]nodeJSON     `json:"nodes"`
	PipelineMachine map[string]fsm.KeyState `json:"pipeline_machine"`
	RecoveryMachine map[string]fsm.KeyState `json:"recovery_machine"`
}

type pipelineJSON struct {
	State               string         `json:"state"`
	Iteration           int            `json:"iteration"`
	EnteredMS           *int64         `json:"entered_ms"`
	Model               string         `json:"model"`
	Champions           []string       `json:"champions"`
	Paused              []string       `json:"paused"`
	GamesSinceTraining  int64          `json:"games_since_training"`
	SyncedSinceTraining bool           `json:"synced_since_training"`
	Failures            Failures       `json:"failures"`
	LastOutcome         *Outcome       `json:"last_outcome"`
	Results             []opponentJSON `json:"results"`
	Regression          Regression     `json:"regression"`
	Violations          int            `json:"violations"`
	LastSeq             uint64         `json:"last_seq"`
}

type opponentJSON struct {
	Name    string  `json:"name"`
	Games   int64   `json:"games"`
	WinRate float64 `json:"win_rate"`
}

type nodeJSON struct {
	State      string `json:"state"`
	Failures   int    `json:"failures"`
	Attempts   int    `json:"attempts"`
	LastAction string `json:"last_action"`
	UpdatedMS  *int64 `json:"updated_ms"`
	Violations int    `json:"violations"`
	Known      bool   `json:"known"`
}

// msPtr writes a time as unix milliseconds (the journal's precision), nil
// for the zero time: encoding/json would refuse a year past 9999, which a
// journal can hold.
func msPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func msVal(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

// MarshalJSON writes the complete state (every pipeline, pause, node and
// transition history) for a checkpoint. The output is deterministic: maps
// with sorted keys, sets as sorted arrays.
func (m *Machines) MarshalJSON() ([]byte, error) {
	cp := checkpoint{
		Format:          CheckpointFormat,
		Pipelines:       make(map[string]pipelineJSON, len(m.pipelines)),
		ClusterPaused:   m.ClusterPaused(),
		Nodes:           make(map[string]nodeJSON, len(m.nodes)),
		PipelineMachine: m.pipe.Export(),
		RecoveryMachine: m.rec.Export(),
	}
	for k, p := range m.pipelines {
		pj := pipelineJSON{
			State: p.State, Iteration: p.Iteration, EnteredMS: msPtr(p.EnteredAt), Model: p.Model,
			Champions: p.Champions, GamesSinceTraining: p.GamesSinceTraining, SyncedSinceTraining: p.SyncedSinceTraining,
			Failures: p.Failures, LastOutcome: p.LastOutcome, Regression: p.Regression,
			Violations: p.Violations, LastSeq: p.LastSeq,
		}
		for r, on := range p.Paused {
			if on {
				pj.Paused = append(pj.Paused, r)
			}
		}
		slices.Sort(pj.Paused)
		for _, o := range p.Results {
			pj.Results = append(pj.Results, opponentJSON(o))
		}
		cp.Pipelines[k] = pj
	}
	for k, n := range m.nodes {
		cp.Nodes[k] = nodeJSON{
			State: n.State, Failures: n.Failures, Attempts: n.Attempts, LastAction: n.LastAction,
			UpdatedMS: msPtr(n.UpdatedAt), Violations: n.Violations, Known: n.Known,
		}
	}
	return json.Marshal(cp)
}

// UnmarshalJSON replaces the state of m with a checkpoint MarshalJSON wrote;
// m keeps its options (enforcement, backpressure, history limit). Unknown
// fields, another format or a state that does not fit the machines are an
// error wrapping ErrCheckpoint, and m is left unchanged.
func (m *Machines) UnmarshalJSON(data []byte) error {
	var cp checkpoint
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&cp); err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if cp.Format != CheckpointFormat {
		return fmt.Errorf("%w: format %d; this build reads %d", ErrCheckpoint, cp.Format, CheckpointFormat)
	}
	n := &Machines{enforcement: m.enforcement, backpressure: m.backpressure, pipe: m.pipe.Clone(), rec: m.rec.Clone()}
	if err := n.pipe.Import(cp.PipelineMachine); err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if err := n.rec.Import(cp.RecoveryMachine); err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	n.reset()
	for _, r := range cp.ClusterPaused {
		if err := checkReason(r); err != nil {
			return fmt.Errorf("%w: cluster_paused: %w", ErrCheckpoint, err)
		}
		n.cluster[r] = true
	}
	for k, pj := range cp.Pipelines {
		if !slices.Contains(pipelineStates, pj.State) || pj.State != n.pipe.State(k) {
			return fmt.Errorf("%w: pipeline %s: state %q, machine state %q", ErrCheckpoint, k, pj.State, n.pipe.State(k))
		}
		if pj.Iteration < 1 {
			return fmt.Errorf("%w: pipeline %s: iteration %d", ErrCheckpoint, k, pj.Iteration)
		}
		p := n.pipeline(k)
		*p = Pipeline{
			State: pj.State, Iteration: pj.Iteration, EnteredAt: msVal(pj.EnteredMS), Model: pj.Model,
			Champions: pj.Champions, Paused: map[string]bool{}, GamesSinceTraining: pj.GamesSinceTraining,
			SyncedSinceTraining: pj.SyncedSinceTraining, Failures: pj.Failures, LastOutcome: pj.LastOutcome,
			Regression: pj.Regression, Violations: pj.Violations, LastSeq: pj.LastSeq,
		}
		if len(p.Champions) == 0 {
			p.Champions = nil
		}
		for _, r := range pj.Paused {
			if err := checkReason(r); err != nil {
				return fmt.Errorf("%w: pipeline %s: %w", ErrCheckpoint, k, err)
			}
			p.Paused[r] = true
		}
		for _, o := range pj.Results {
			p.Results = append(p.Results, event.Opponent(o))
		}
	}
	for k, nj := range cp.Nodes {
		if !slices.Contains(recoveryStates, nj.State) || nj.State != n.rec.State(k) {
			return fmt.Errorf("%w: node %s: state %q, machine state %q", ErrCheckpoint, k, nj.State, n.rec.State(k))
		}
		n.nodes[k] = &Node{
			State: nj.State, Failures: nj.Failures, Attempts: nj.Attempts, LastAction: nj.LastAction,
			UpdatedAt: msVal(nj.UpdatedMS), Violations: nj.Violations, Known: nj.Known,
		}
		n.nodeCount.add(false, false, n.nodes[k])
	}
	for _, k := range n.pipe.Keys() {
		if _, ok := n.pipelines[k]; !ok {
			return fmt.Errorf("%w: pipeline machine of %s without its pipeline", ErrCheckpoint, k)
		}
	}
	for _, k := range n.rec.Keys() {
		if _, ok := n.nodes[k]; !ok {
			return fmt.Errorf("%w: recovery machine of %s without its node", ErrCheckpoint, k)
		}
	}
	*m = *n
	return nil
}

// checkReason accepts the pause reasons events set (backpressure is never
// stored: it is read from the health projection).
func checkReason(r string) error {
	switch r {
	case PauseQuality, PauseRegression, PausePromotionHold:
		return nil
	}
	return fmt.Errorf("unknown pause reason %q", r)
}

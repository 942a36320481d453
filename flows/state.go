package flows

import (
	"time"

	"github.com/ringrift/ringriftd/event"
)

// Pipeline machine states (flows.md).
const (
	Collecting    = "collecting"
	TrainingReady = "training_ready"
	Training      = "training"
	RollingBack   = "rolling_back"
	Trained       = "trained"
	Evaluating    = "evaluating"
	Evaluated     = "evaluated"
	Candidate     = "candidate"
	Promoting     = "promoting"
)

// Recovery machine states (flows.md).
const (
	Unknown    = "unknown"
	Healthy    = "healthy"
	Degraded   = "degraded"
	Unhealthy  = "unhealthy"
	Recovering = "recovering"
	Offline    = "offline"
	Escalated  = "escalated"
)

// Iteration outcomes.
const (
	OutcomePromoted  = "promoted"
	OutcomeRejected  = "rejected"
	OutcomeFailed    = "failed"
	OutcomeAbandoned = "abandoned"
)

// Pause reasons.
const (
	PauseQuality       = "quality"
	PauseBackpressure  = "backpressure"
	PauseRegression    = "regression"
	PausePromotionHold = "promotion_hold"
)

// Failures counts consecutive failures per stage of one config.
type Failures struct {
	Training   int `json:"training"`
	Evaluation int `json:"evaluation"`
	Sync       int `json:"sync"`
}

// Outcome is how an iteration ended.
type Outcome struct {
	Iteration int    `json:"iteration"`
	Outcome   string `json:"outcome"`
	Gate      string `json:"gate,omitempty"` // only for rejected, when the rejection named one
	Model     string `json:"model"`
}

// Regression is the regression policy's memory for one config.
type Regression struct {
	Consecutive  int    `json:"consecutive"`
	LastSeverity string `json:"last_severity"` // "" is written as null
}

// Pipeline is the state of one config's pipeline machine with its counters.
type Pipeline struct {
	State     string
	Iteration int
	// EnteredAt is the time of the last transition that changed State;
	// zero before the first one (written as null).
	EnteredAt time.Time
	// Model is the iteration's model ("" = null).
	Model string
	// Champions is the champion history, a stack: the champion is the top
	// (last), the previous champion the one below it.
	Champions           []string
	Paused              map[string]bool // config-scope pause reasons
	GamesSinceTraining  int64
	SyncedSinceTraining bool
	Failures            Failures
	LastOutcome         *Outcome
	// Results are the opponents of the iteration's evaluation_completed,
	// sorted by name; nil before it.
	Results    []event.Opponent
	Regression Regression
	Violations int
	LastSeq    uint64
}

// Champion returns the current champion, "" when there is none.
func (p *Pipeline) Champion() string {
	if len(p.Champions) == 0 {
		return ""
	}
	return p.Champions[len(p.Champions)-1]
}

// PreviousChampion returns the champion below the top, "" when there is none.
func (p *Pipeline) PreviousChampion() string {
	if len(p.Champions) < 2 {
		return ""
	}
	return p.Champions[len(p.Champions)-2]
}

// Node is the state of one node's recovery machine.
type Node struct {
	State      string
	Failures   int
	Attempts   int
	LastAction string
	UpdatedAt  time.Time // time of the node's last accepted recovery-machine event
	Violations int
	// Known is true once the node had one accepted recovery-machine event
	// (flows.md, cluster policy); a node with violations only is not known.
	Known bool
}

// Failing reports whether the node counts as failing for the cluster status.
func (n *Node) Failing() bool {
	switch n.State {
	case Unhealthy, Recovering, Offline, Escalated:
		return true
	}
	return false
}

// Backpressure is what the machines need from the health projection: whether
// the backpressure levels of a scope block training. configKey "" asks about
// the cluster-wide scope.
type Backpressure interface {
	Blocks(configKey string) bool
}

// StuckLimits are how long a pipeline state may last before the live API
// calls the config stuck (projections.md): the syncing-related waits —
// the states that wait for data or a model to move before the next stage,
// training_ready, trained, evaluated and rolling_back — 30 min, training
// 24 h, evaluating 2 h, candidate and promoting 10 min. collecting has no
// limit. The view depends on the clock, so it is no part of the folded
// state.
var StuckLimits = map[string]time.Duration{
	TrainingReady: 30 * time.Minute,
	Trained:       30 * time.Minute,
	Evaluated:     30 * time.Minute,
	RollingBack:   30 * time.Minute,
	Training:      24 * time.Hour,
	Evaluating:    2 * time.Hour,
	Candidate:     10 * time.Minute,
	Promoting:     10 * time.Minute,
}

package projections

import (
	"bytes"
	"encoding/json"

	"github.com/ringrift/ringriftd/event"
)

// This file declares the projections' JSON as types, for readers: the
// daemon's API, the simulator, replay. Each view decodes exactly what the
// writers of render.go produce (projections.md's shapes) and encodes back
// to the same bytes (views_test.go checks both, field by field), so a
// renamed key fails a test instead of reading as empty.

// PipelinesView is GET /v1/pipelines: every config's pipeline.
type PipelinesView map[string]PipelineView

// PipelineView is one config's pipeline, GET /v1/pipelines/{config}.
type PipelineView struct {
	State               string          `json:"state"`
	Iteration           int             `json:"iteration"`
	EnteredAt           *event.JSONTime `json:"entered_at"`
	Model               NullString      `json:"model"`
	Champion            NullString      `json:"champion"`
	Paused              []string        `json:"paused"`
	GamesSinceTraining  int64           `json:"games_since_training"`
	SyncedSinceTraining bool            `json:"synced_since_training"`
	Failures            FailuresView    `json:"failures"`
	LastOutcome         *OutcomeView    `json:"last_outcome"`
	Regression          RegressionView  `json:"regression"`
	Violations          int             `json:"violations"`
	LastSeq             uint64          `json:"last_seq"`
	// Stuck and StuckFor are added by the live API only (they depend on
	// the clock): the state has lasted StuckFor ("2h5m0s"), longer than
	// its limit.
	Stuck    bool   `json:"stuck,omitempty"`
	StuckFor string `json:"stuck_for,omitempty"`
}

// FailuresView counts a pipeline's failures by kind.
type FailuresView struct {
	Training   int `json:"training"`
	Evaluation int `json:"evaluation"`
	Sync       int `json:"sync"`
}

// OutcomeView is how the last iteration ended; Gate only for rejected.
type OutcomeView struct {
	Iteration int        `json:"iteration"`
	Outcome   string     `json:"outcome"`
	Gate      string     `json:"gate,omitempty"`
	Model     NullString `json:"model"`
}

// RegressionView is the regression policy's memory of a config.
type RegressionView struct {
	Consecutive  int        `json:"consecutive"`
	LastSeverity NullString `json:"last_severity"`
}

// EloView is GET /v1/elo.
type EloView struct {
	Configs map[string]EloConfigView `json:"configs"`
}

// EloConfigView is one config's ratings, GET /v1/elo/{config}.
type EloConfigView struct {
	Champion    NullString            `json:"champion"`
	ChampionElo *Float                `json:"champion_elo"`
	Velocity    *Float                `json:"velocity"`
	Trend       string                `json:"trend"`
	Points      int                   `json:"points"`
	Ratings     map[string]RatingView `json:"ratings"`
}

// RatingView is one participant's rating.
type RatingView struct {
	Elo   Float `json:"elo"`
	Games int64 `json:"games"`
}

// CurriculumView is GET /v1/curriculum.
type CurriculumView struct {
	Weights map[string]Float `json:"weights"`
	Tiers   map[string]int   `json:"tiers"`
	Shares  map[string]Float `json:"shares"`
}

// HealthView is GET /v1/health.
type HealthView struct {
	Cluster      string                `json:"cluster"`
	Leader       NullString            `json:"leader"`
	Nodes        map[string]NodeView   `json:"nodes"`
	Backpressure BackpressureView      `json:"backpressure"`
	Daemons      map[string]DaemonView `json:"daemons"`
	DiskLow      []string              `json:"disk_low"`
}

// NodeView is a node's recovery machine.
type NodeView struct {
	State      string          `json:"state"`
	Failures   int             `json:"failures"`
	Attempts   int             `json:"attempts"`
	LastAction NullString      `json:"last_action"`
	UpdatedAt  *event.JSONTime `json:"updated_at"`
	Violations int             `json:"violations"`
}

// BackpressureView is the cluster-wide levels and each config's.
type BackpressureView struct {
	LevelsView
	Configs map[string]LevelsView `json:"configs"`
}

// LevelsView is a scope's backpressure: queue (none soft hard stop) and
// resource (none low medium high critical).
type LevelsView struct {
	Queue    string `json:"queue"`
	Resource string `json:"resource"`
}

// On reports whether either level is set (not none).
func (l LevelsView) On() bool {
	return (l.Queue != "" && l.Queue != LevelNone) || (l.Resource != "" && l.Resource != LevelNone)
}

// DaemonView is a daemon's status and when it was last seen.
type DaemonView struct {
	Status   string          `json:"status"`
	LastSeen *event.JSONTime `json:"last_seen"`
}

// NullString is a string the projections write as null when empty (a
// model, a leader, a last action).
type NullString string

// MarshalJSON writes null for "".
func (s NullString) MarshalJSON() ([]byte, error) {
	return appendStringOrNull(nil, string(s)), nil
}

// UnmarshalJSON reads null as "".
func (s *NullString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = ""
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = NullString(v)
	return nil
}

// Float is a rating, velocity, weight or share: written as the projections
// write numbers (shortest exact form, ".0" when integral).
type Float float64

// MarshalJSON writes the number as render.go does.
func (f Float) MarshalJSON() ([]byte, error) { return appendFloat(nil, float64(f)), nil }

// EncodeView writes a view as JSON the way the projections' writers do:
// no HTML escaping, no trailing newline.
func EncodeView(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// CheckpointVersion is the format version of the folds' checkpoints
// (MarshalJSON). A checkpoint of another version is refused with
// ErrCheckpointVersion; the caller rebuilds from the journal.
const CheckpointVersion = 2

// A checkpoint is the fold's full state at full precision in encoding/json
// (map keys sorted, floats in their shortest exact form), so that it is
// deterministic and restores bit for bit.

type eloCheckpoint struct {
	V       int                            `json:"v"`
	Configs map[string]eloConfigCheckpoint `json:"configs"`
}

type eloConfigCheckpoint struct {
	Champion    string                      `json:"champion"`
	ChampionElo float64                     `json:"champion_elo"`
	Ratings     map[string]ratingCheckpoint `json:"ratings"`
	Series      seriesCheckpoint            `json:"series"`
	History     historyCheckpoint           `json:"history"`
}

type ratingCheckpoint struct {
	Elo   float64 `json:"elo"`
	Games int64   `json:"games"`
}

type seriesCheckpoint struct {
	T    []int64    `json:"t"` // Unix milliseconds, sorted
	Y    []float64  `json:"y"`
	Last int64      `json:"last"`
	Lo   int        `json:"lo"`
	Ref  int64      `json:"ref"`
	Sums [4]float64 `json:"sums"` // sx, sy, sxx, sxy
}

// MarshalJSON writes the Elo projection's checkpoint: ratings, champions and
// every velocity point with the window's running sums.
func (e *Elo) MarshalJSON() ([]byte, error) {
	cp := eloCheckpoint{V: CheckpointVersion, Configs: make(map[string]eloConfigCheckpoint, len(e.configs))}
	for k, c := range e.configs {
		cc := eloConfigCheckpoint{Champion: c.champion, ChampionElo: c.championElo,
			Ratings: make(map[string]ratingCheckpoint, len(c.ratings))}
		for p, r := range c.ratings {
			cc.Ratings[p] = ratingCheckpoint(r)
		}
		s := &c.series
		cc.Series = seriesCheckpoint{T: make([]int64, len(s.pts)), Y: make([]float64, len(s.pts)),
			Last: s.last, Lo: s.lo, Ref: s.ref, Sums: [4]float64{s.sx, s.sy, s.sxx, s.sxy}}
		for i, p := range s.pts {
			cc.Series.T[i], cc.Series.Y[i] = p.t, p.y
		}
		cc.History = c.history.checkpoint()
		cp.Configs[k] = cc
	}
	return json.Marshal(cp)
}

// UnmarshalJSON restores a checkpoint written by MarshalJSON.
func (e *Elo) UnmarshalJSON(b []byte) error {
	var cp eloCheckpoint
	if err := decodeCheckpoint(b, &cp, &cp.V); err != nil {
		return err
	}
	out := NewElo()
	for k, cc := range cp.Configs {
		c := out.config(k)
		if cc.Champion == "" && cc.ChampionElo != 0 || !finite(cc.ChampionElo) {
			return fmt.Errorf("%w: config %s: champion_elo %v", ErrCheckpointInvalid, k, cc.ChampionElo)
		}
		c.champion, c.championElo = cc.Champion, cc.ChampionElo
		for p, r := range cc.Ratings {
			if isAnchor(p) || !finite(r.Elo) || r.Games < 0 {
				return fmt.Errorf("%w: config %s: rating of %q", ErrCheckpointInvalid, k, p)
			}
			c.ratings[p] = Rating(r)
		}
		if err := c.series.restore(cc.Series); err != nil {
			return fmt.Errorf("%w: config %s: %v", ErrCheckpointInvalid, k, err)
		}
		if !c.history.restore(cc.History) {
			return fmt.Errorf("%w: config %s: history", ErrCheckpointInvalid, k)
		}
	}
	*e = *out
	return nil
}

func (s *series) restore(cp seriesCheckpoint) error {
	n := len(cp.T)
	switch {
	case len(cp.Y) != n:
		return fmt.Errorf("%d times, %d ratings", n, len(cp.Y))
	case !slices.IsSorted(cp.T):
		return errors.New("times not sorted")
	case cp.Lo < 0 || cp.Lo > n || n > 0 && cp.Lo == n:
		return fmt.Errorf("window start %d of %d points", cp.Lo, n)
	}
	for _, x := range append(cp.Y, cp.Sums[:]...) {
		if !finite(x) {
			return errors.New("non-finite value")
		}
	}
	s.pts = make([]point, n)
	for i := range s.pts {
		s.pts[i] = point{cp.T[i], cp.Y[i]}
	}
	s.last, s.lo, s.ref = cp.Last, cp.Lo, cp.Ref
	s.sx, s.sy, s.sxx, s.sxy = cp.Sums[0], cp.Sums[1], cp.Sums[2], cp.Sums[3]
	s.vel = Velocity{Trend: TrendUnknown}
	if n > 0 {
		s.vel = s.velocity()
	}
	return nil
}

type curriculumCheckpoint struct {
	V       int                                   `json:"v"`
	Configs map[string]curriculumConfigCheckpoint `json:"configs"`
}

type curriculumConfigCheckpoint struct {
	Weight float64 `json:"weight"`
	Tier   int     `json:"tier"`
}

// MarshalJSON writes the curriculum projection's checkpoint.
func (c *Curriculum) MarshalJSON() ([]byte, error) {
	cp := curriculumCheckpoint{V: CheckpointVersion, Configs: make(map[string]curriculumConfigCheckpoint, len(c.configs))}
	for k, cc := range c.configs {
		cp.Configs[k] = curriculumConfigCheckpoint{cc.weight, cc.tier}
	}
	return json.Marshal(cp)
}

// UnmarshalJSON restores a checkpoint written by MarshalJSON.
func (c *Curriculum) UnmarshalJSON(b []byte) error {
	var cp curriculumCheckpoint
	if err := decodeCheckpoint(b, &cp, &cp.V); err != nil {
		return err
	}
	out := NewCurriculum()
	for k, cc := range cp.Configs {
		if !finite(cc.Weight) || cc.Weight < MinWeight || cc.Weight > MaxWeight || cc.Tier < 0 || cc.Tier > MaxTier {
			return fmt.Errorf("%w: config %s: weight %v, tier %d", ErrCheckpointInvalid, k, cc.Weight, cc.Tier)
		}
		*out.config(k) = curriculumConfig{cc.Weight, cc.Tier}
	}
	*c = *out
	return nil
}

type levelsCheckpoint struct {
	Queue    string `json:"queue"`
	Resource string `json:"resource"`
}

type daemonCheckpoint struct {
	Status     string `json:"status"`
	LastSeenMS int64  `json:"last_seen_ms"` // unix ms: any time a journal holds encodes
}

type healthCheckpoint struct {
	V       int                         `json:"v"`
	Leader  string                      `json:"leader"`
	Daemons map[string]daemonCheckpoint `json:"daemons"`
	Cluster levelsCheckpoint            `json:"backpressure"`
	Configs map[string]levelsCheckpoint `json:"configs"`
	DiskLow []string                    `json:"disk_low"`
}

// MarshalJSON writes the cluster facts' checkpoint.
func (h *Health) MarshalJSON() ([]byte, error) {
	cp := healthCheckpoint{V: CheckpointVersion, Leader: h.leader,
		Daemons: make(map[string]daemonCheckpoint, len(h.daemons)),
		Cluster: levelsCheckpoint(h.cluster),
		Configs: make(map[string]levelsCheckpoint, len(h.configs)),
		DiskLow: h.DiskLow()}
	if cp.DiskLow == nil {
		cp.DiskLow = []string{} // written [], as checkpoints always had it
	}
	for k, d := range h.daemons {
		cp.Daemons[k] = daemonCheckpoint{d.Status, d.LastSeen.UnixMilli()}
	}
	for k, l := range h.configs {
		cp.Configs[k] = levelsCheckpoint(*l)
	}
	return json.Marshal(cp)
}

// UnmarshalJSON restores a checkpoint written by MarshalJSON.
func (h *Health) UnmarshalJSON(b []byte) error {
	var cp healthCheckpoint
	if err := decodeCheckpoint(b, &cp, &cp.V); err != nil {
		return err
	}
	out := NewHealth()
	out.leader = cp.Leader
	if !validLevels(Levels(cp.Cluster)) {
		return fmt.Errorf("%w: backpressure %v", ErrCheckpointInvalid, cp.Cluster)
	}
	out.cluster = Levels(cp.Cluster)
	for k, d := range cp.Daemons {
		if d.Status == "" {
			return fmt.Errorf("%w: daemon %s without status", ErrCheckpointInvalid, k)
		}
		out.daemons[k] = &Daemon{d.Status, time.UnixMilli(d.LastSeenMS).UTC()}
	}
	for k, l := range cp.Configs {
		if !validLevels(Levels(l)) {
			return fmt.Errorf("%w: backpressure of %s: %v", ErrCheckpointInvalid, k, l)
		}
		lv := Levels(l)
		out.configs[k] = &lv
	}
	for _, n := range cp.DiskLow {
		out.diskLow[n] = true
	}
	*h = *out
	return nil
}

func validLevels(l Levels) bool {
	switch l.Queue {
	case LevelNone, LevelSoft, LevelHard, LevelStop:
	default:
		return false
	}
	switch l.Resource {
	case LevelNone, LevelLow, LevelMedium, LevelHigh, LevelCritical:
		return true
	}
	return false
}

// decodeCheckpoint decodes b into cp and checks the version v it holds.
func decodeCheckpoint(b []byte, cp any, v *int) error {
	if err := json.Unmarshal(b, cp); err != nil {
		return fmt.Errorf("%w: %v", ErrCheckpointInvalid, err)
	}
	if *v != CheckpointVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrCheckpointVersion, *v, CheckpointVersion)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

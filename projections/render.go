package projections

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// This file writes the JSON of the four projections by hand: the bytes are
// part of the contract (live and rebuild must agree byte for byte), so no map
// or reflection decides an order.

// Round2 rounds half away from zero to 2 decimals, on the binary value: how
// Elo ratings and velocities are written.
func Round2(x float64) float64 { return math.Round(x*100) / 100 }

// Round3 rounds half away from zero to 3 decimals: how weights and shares are
// written.
func Round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// appendFloat writes x (already rounded) in its shortest exact form, with
// ".0" when it is integral; -0 is written 0.0.
func appendFloat(b []byte, x float64) []byte {
	if x == 0 {
		return append(b, "0.0"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, x, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

func appendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// appendTime writes t in UTC as time.RFC3339Nano; the zero time is null.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendStringOrNull writes s, or null when it is empty.
func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendKey writes "k": after a comma unless it opens the object.
func appendKey(b []byte, k string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = appendString(b, k)
	return append(b, ':')
}

// appendStrings writes the set ss as a sorted array (ss is not modified).
func appendStrings(b []byte, ss []string) []byte {
	if !slices.IsSorted(ss) {
		ss = slices.Sorted(slices.Values(ss))
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			if s == ss[i-1] {
				continue // a set: written once
			}
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string (event.AppendJSONString).
func appendString(b []byte, s string) []byte { return event.AppendJSONString(b, s) }

// PipelinesJSON writes the pipeline projection, GET /v1/pipelines: an object
// of every key (sorted) to its pipeline. get returns a key's pipeline, nil for
// one before its first event (written in the initial state); paused returns
// the key's pause reasons, the union of its own and the cluster-wide ones (nil
// paused: the pipeline's own reasons only).
func PipelinesJSON(keys []string, get func(string) *flows.Pipeline, paused func(string) []string) []byte {
	keys = slices.Sorted(slices.Values(keys))
	keys = slices.Compact(keys)
	b := make([]byte, 0, 512*len(keys)+2)
	b = append(b, '{')
	for i, k := range keys {
		b = appendKey(b, k, i == 0)
		var reasons []string
		p := get(k)
		if paused != nil {
			reasons = paused(k)
		} else if p != nil {
			reasons = slices.Sorted(maps.Keys(p.Paused))
		}
		b = AppendPipeline(b, p, reasons)
	}
	return append(b, '}')
}

// initialPipeline is a pipeline before its first event.
var initialPipeline = flows.Pipeline{State: flows.Collecting, Iteration: 1}

// AppendPipeline writes one pipeline's object (GET /v1/pipelines/{config})
// with its pause reasons; a nil pipeline is written in the initial state.
func AppendPipeline(b []byte, p *flows.Pipeline, paused []string) []byte {
	if p == nil {
		p = &initialPipeline
	}
	b = append(b, `{"state":`...)
	b = appendString(b, p.State)
	b = append(b, `,"iteration":`...)
	b = appendInt(b, int64(p.Iteration))
	b = append(b, `,"entered_at":`...)
	b = appendTime(b, p.EnteredAt)
	b = append(b, `,"model":`...)
	b = appendStringOrNull(b, p.Model)
	b = append(b, `,"champion":`...)
	b = appendStringOrNull(b, p.Champion())
	b = append(b, `,"paused":`...)
	b = appendStrings(b, paused)
	b = append(b, `,"games_since_training":`...)
	b = appendInt(b, p.GamesSinceTraining)
	b = append(b, `,"synced_since_training":`...)
	b = appendBool(b, p.SyncedSinceTraining)
	b = append(b, `,"failures":{"training":`...)
	b = appendInt(b, int64(p.Failures.Training))
	b = append(b, `,"evaluation":`...)
	b = appendInt(b, int64(p.Failures.Evaluation))
	b = append(b, `,"sync":`...)
	b = appendInt(b, int64(p.Failures.Sync))
	b = append(b, `},"last_outcome":`...)
	if o := p.LastOutcome; o == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"iteration":`...)
		b = appendInt(b, int64(o.Iteration))
		b = append(b, `,"outcome":`...)
		b = appendString(b, o.Outcome)
		if o.Outcome == flows.OutcomeRejected && o.Gate != "" {
			b = append(b, `,"gate":`...)
			b = appendString(b, o.Gate)
		}
		b = append(b, `,"model":`...)
		b = appendStringOrNull(b, o.Model)
		b = append(b, '}')
	}
	b = append(b, `,"regression":{"consecutive":`...)
	b = appendInt(b, int64(p.Regression.Consecutive))
	b = append(b, `,"last_severity":`...)
	b = appendStringOrNull(b, p.Regression.LastSeverity)
	b = append(b, `},"violations":`...)
	b = appendInt(b, int64(p.Violations))
	b = append(b, `,"last_seq":`...)
	b = strconv.AppendUint(b, p.LastSeq, 10)
	return append(b, '}')
}

// EloJSON writes the Elo projection, GET /v1/elo: {"configs": {...}}.
func EloJSON(e *Elo) []byte {
	b := make([]byte, 0, 1024)
	b = append(b, `{"configs":{`...)
	for i, k := range e.keys {
		b = appendKey(b, k, i == 0)
		b = e.appendConfig(b, e.configs[k])
	}
	return append(b, "}}"...)
}

// EloConfigJSON writes one config's Elo object, GET /v1/elo/{config}; false
// for a config the projection does not know.
func EloConfigJSON(e *Elo, config string) ([]byte, bool) {
	c, ok := e.configs[config]
	if !ok {
		return nil, false
	}
	return e.appendConfig(nil, c), true
}

// appendConfig writes champion, champion_elo, velocity, trend, points (the
// points in the velocity window, an extra field) and ratings.
func (e *Elo) appendConfig(b []byte, c *eloConfig) []byte {
	b = append(b, `{"champion":`...)
	b = appendStringOrNull(b, c.champion)
	b = append(b, `,"champion_elo":`...)
	if c.champion == "" {
		b = append(b, "null"...)
	} else {
		b = appendFloat(b, Round2(c.championElo))
	}
	v := c.series.vel
	b = append(b, `,"velocity":`...)
	if v.Valid {
		b = appendFloat(b, Round2(v.Value))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"trend":`...)
	b = appendString(b, v.Trend)
	b = append(b, `,"points":`...)
	b = appendInt(b, int64(v.Points))
	b = append(b, `,"ratings":{`...)
	for i, p := range slices.Sorted(maps.Keys(c.ratings)) {
		r := c.ratings[p]
		b = appendKey(b, p, i == 0)
		b = append(b, `{"elo":`...)
		b = appendFloat(b, Round2(r.Elo))
		b = append(b, `,"games":`...)
		b = appendInt(b, r.Games)
		b = append(b, '}')
	}
	return append(b, "}}"...)
}

// CurriculumJSON writes the curriculum projection, GET /v1/curriculum:
// weights, tiers and shares by config.
func CurriculumJSON(c *Curriculum) []byte {
	b := make([]byte, 0, 64*3*len(c.keys))
	b = append(b, `{"weights":`...)
	b = c.AppendWeightsJSON(b)
	b = append(b, `,"tiers":{`...)
	for i, k := range c.keys {
		b = appendKey(b, k, i == 0)
		b = appendInt(b, int64(c.configs[k].tier))
	}
	b = append(b, `},"shares":{`...)
	total := c.total()
	for i, k := range c.keys {
		b = appendKey(b, k, i == 0)
		b = appendFloat(b, Round3(c.configs[k].weight/total))
	}
	return append(b, "}}"...)
}

// AppendWeightsJSON writes every config's weight as a JSON object, sorted
// keys and 3 decimals (the curriculum_rebalanced decision's weights).
func (c *Curriculum) AppendWeightsJSON(b []byte) []byte {
	b = append(b, '{')
	for i, k := range c.keys {
		b = appendKey(b, k, i == 0)
		b = appendFloat(b, Round3(c.configs[k].weight))
	}
	return append(b, '}')
}

// HealthJSON writes the health projection, GET /v1/health: the cluster
// status given (the cluster policy's, flows.ClusterStatus), the leader,
// every node of ids (violation-only ones included; node returns nil for an
// id to leave out), backpressure, daemons and the nodes low on disk.
func HealthJSON(h *Health, status string, ids []string, node func(string) *flows.Node) []byte {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	b := make([]byte, 0, 256+160*len(ids)+96*len(h.daemons))
	b = append(b, `{"cluster":`...)
	b = appendString(b, status)
	b = append(b, `,"leader":`...)
	b = appendStringOrNull(b, h.leader)
	b = append(b, `,"nodes":{`...)
	first := true
	for _, id := range ids {
		n := node(id)
		if n == nil {
			continue
		}
		b = appendKey(b, id, first)
		first = false
		b = append(b, `{"state":`...)
		b = appendString(b, n.State)
		b = append(b, `,"failures":`...)
		b = appendInt(b, int64(n.Failures))
		b = append(b, `,"attempts":`...)
		b = appendInt(b, int64(n.Attempts))
		b = append(b, `,"last_action":`...)
		b = appendStringOrNull(b, n.LastAction)
		b = append(b, `,"updated_at":`...)
		b = appendTime(b, n.UpdatedAt)
		b = append(b, `,"violations":`...)
		b = appendInt(b, int64(n.Violations))
		b = append(b, '}')
	}
	b = append(b, `},"backpressure":`...)
	b = appendLevels(b, h.cluster, false)
	b = append(b, `,"configs":{`...)
	for i, k := range slices.Sorted(maps.Keys(h.configs)) {
		b = appendKey(b, k, i == 0)
		b = appendLevels(b, *h.configs[k], true)
	}
	b = append(b, `}},"daemons":{`...)
	for i, k := range slices.Sorted(maps.Keys(h.daemons)) {
		d := h.daemons[k]
		b = appendKey(b, k, i == 0)
		b = append(b, `{"status":`...)
		b = appendString(b, d.Status)
		b = append(b, `,"last_seen":`...)
		b = appendTime(b, d.LastSeen)
		b = append(b, '}')
	}
	b = append(b, `},"disk_low":`...)
	b = appendStrings(b, slices.Sorted(maps.Keys(h.diskLow)))
	return append(b, '}')
}

// appendLevels writes {"queue":…,"resource":…, leaving the object open
// unless closed.
func appendLevels(b []byte, l Levels, closed bool) []byte {
	b = append(b, `{"queue":`...)
	b = appendString(b, l.Queue)
	b = append(b, `,"resource":`...)
	b = appendString(b, l.Resource)
	if closed {
		b = append(b, '}')
	}
	return b
}

package projections

import (
	"time"

	"github.com/ringrift/ringriftd/event"
)

// HistoryLimit is how many rating points, and how many champion changes,
// the Elo history keeps per config: the latest ones. The older are dropped
// (counted in "dropped"), so that a long-lived journal's history stays
// bounded; the limit is part of the fold, so a rebuild drops the same ones.
const HistoryLimit = 5000

// HistoryPoint is one rating in a config's Elo history: the participant's
// rating after the event (seq, time, type) that set it, and its games.
type HistoryPoint struct {
	Seq         uint64
	Time        time.Time
	Type        string
	Participant string
	Elo         float64
	Games       int64
}

// eloHistory is a config's Elo history: every rating an event set
// (evaluation_completed, elo_updated, model_promoted), and every change of
// champion (model_promoted, promotion_rolled_back) with the champion's Elo.
// Slices are append-only (the oldest are dropped by reslicing, never
// overwritten), so a clone shares them: see clone.
type eloHistory struct {
	points    []HistoryPoint
	champions []HistoryPoint
	dropped   int64 // points and champion changes dropped by HistoryLimit
}

// record adds what one event did to the config's history; ch is what Apply
// said of it, c the config after it.
func (h *eloHistory) record(ev *event.Event, ch *EloChange, c *eloConfig) {
	if ch.Participant != "" && !isAnchor(ch.Participant) {
		r := c.ratings[ch.Participant]
		h.points = h.add(h.points, HistoryPoint{ev.Seq, ev.Time, ev.Type, ch.Participant, r.Elo, r.Games})
	}
	if ch.Champion {
		var games int64
		if r, ok := c.ratings[c.champion]; ok {
			games = r.Games
		}
		h.champions = h.add(h.champions, HistoryPoint{ev.Seq, ev.Time, ev.Type, c.champion, c.championElo, games})
	}
}

// add appends p, dropping the oldest entry past HistoryLimit.
func (h *eloHistory) add(s []HistoryPoint, p HistoryPoint) []HistoryPoint {
	if len(s) >= HistoryLimit {
		s = s[len(s)-HistoryLimit+1:]
		h.dropped++
	}
	return append(s, p)
}

// clone returns a copy sharing the backing arrays, capped at their length:
// an append to either copy reallocates or writes past what the other sees.
func (h *eloHistory) clone() eloHistory {
	return eloHistory{points: h.points[:len(h.points):len(h.points)],
		champions: h.champions[:len(h.champions):len(h.champions)], dropped: h.dropped}
}

// History returns a config's rating points and champion changes, oldest
// first, and how many were dropped by HistoryLimit; false for a config the
// projection does not know. The slices must not be modified.
func (e *Elo) History(config string) (points, champions []HistoryPoint, dropped int64, ok bool) {
	c, ok := e.configs[config]
	if !ok {
		return nil, nil, 0, false
	}
	return c.history.points, c.history.champions, c.history.dropped, true
}

// EloHistoryJSON writes GET /v1/elo/{config}/history: the config's object
// of GET /v1/elo/{config} (champion, champion_elo, velocity, trend, points,
// ratings) with its history added — "history", every rated participant's
// rating after each event that set it; "champions", the changes of champion
// with the Elo at the change; both oldest first — and "dropped", how many
// HistoryLimit took off. False for a config the projection does not know.
func EloHistoryJSON(e *Elo, config string) ([]byte, bool) {
	c, ok := e.configs[config]
	if !ok {
		return nil, false
	}
	h := &c.history
	b := make([]byte, 0, 512+64*len(c.ratings)+160*(len(h.points)+len(h.champions)))
	b = e.appendConfig(b, c)
	b = append(b[:len(b)-1], `,"config":`...) // reopen the object
	b = appendString(b, config)
	b = append(b, `,"history":`...)
	b = appendHistory(b, h.points)
	b = append(b, `,"champions":`...)
	b = appendHistory(b, h.champions)
	b = append(b, `,"dropped":`...)
	b = appendInt(b, h.dropped)
	return append(b, '}'), true
}

func appendHistory(b []byte, ps []HistoryPoint) []byte {
	b = append(b, '[')
	for i := range ps {
		p := &ps[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"seq":`...)
		b = appendInt(b, int64(p.Seq))
		b = append(b, `,"time":`...)
		b = appendTime(b, p.Time)
		b = append(b, `,"type":`...)
		b = appendString(b, p.Type)
		b = append(b, `,"model":`...)
		b = appendString(b, p.Participant)
		b = append(b, `,"elo":`...)
		b = appendFloat(b, Round2(p.Elo))
		b = append(b, `,"games":`...)
		b = appendInt(b, p.Games)
		b = append(b, '}')
	}
	return append(b, ']')
}

// historyCheckpoint is the history in the Elo checkpoint (full precision).
type historyCheckpoint struct {
	Points    []historyPointCheckpoint `json:"points,omitempty"`
	Champions []historyPointCheckpoint `json:"champions,omitempty"`
	Dropped   int64                    `json:"dropped,omitempty"`
}

type historyPointCheckpoint struct {
	Seq         uint64  `json:"s"`
	TimeMS      int64   `json:"t"` // unix ms: any time a journal holds encodes
	Type        string  `json:"e"`
	Participant string  `json:"p"`
	Elo         float64 `json:"r"`
	Games       int64   `json:"g"`
}

func (h *eloHistory) checkpoint() historyCheckpoint {
	conv := func(ps []HistoryPoint) []historyPointCheckpoint {
		out := make([]historyPointCheckpoint, len(ps))
		for i, p := range ps {
			out[i] = historyPointCheckpoint{p.Seq, p.Time.UnixMilli(), p.Type, p.Participant, p.Elo, p.Games}
		}
		return out
	}
	return historyCheckpoint{Points: conv(h.points), Champions: conv(h.champions), Dropped: h.dropped}
}

// restore sets the history from a checkpoint; false when it is not one
// that record could have written.
func (h *eloHistory) restore(cp historyCheckpoint) bool {
	conv := func(ps []historyPointCheckpoint) ([]HistoryPoint, bool) {
		if len(ps) > HistoryLimit {
			return nil, false
		}
		out := make([]HistoryPoint, len(ps))
		for i, p := range ps {
			if !finite(p.Elo) || p.Games < 0 || p.Participant == "" || i > 0 && p.Seq < ps[i-1].Seq {
				return nil, false
			}
			out[i] = HistoryPoint{p.Seq, time.UnixMilli(p.TimeMS).UTC(), p.Type, p.Participant, p.Elo, p.Games}
		}
		return out, true
	}
	var ok1, ok2 bool
	h.points, ok1 = conv(cp.Points)
	h.champions, ok2 = conv(cp.Champions)
	h.dropped = cp.Dropped
	return ok1 && ok2 && cp.Dropped >= 0
}

package sim

import (
	"context"
	"errors"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/projections"
)

// How the simulator follows the daemon: it reads each append answer
// (results and decisions), then the projections the answer may have moved,
// and every actor adopts the state the daemon reports.

// remember keeps an appended event's body to re-send later.
func (w *World) remember(body []byte) {
	const keep = 256
	if len(w.sent) < keep {
		w.sent = append(w.sent, body)
		return
	}
	w.sent[w.sentNext] = body
	w.sentNext = (w.sentNext + 1) % keep
}

// What refresh reads.
const (
	refreshPipelines = 1 << iota
	refreshHealth
	refreshCurriculum
	refreshElo
	refreshAll = refreshPipelines | refreshHealth | refreshCurriculum | refreshElo
)

// answer reads the append answer: counts, remembers what landed, notes the
// refused steps, and reacts to the decisions. It returns what to refresh.
func (w *World) answer(batch []outEvent, ans *event.AppendAnswer, st *Stats) int {
	w.answers++
	what := 0
	if len(ans.Decisions) > 0 {
		what |= refreshPipelines
	}
	if w.answers%50 == 0 {
		what |= refreshCurriculum
	}
	keyOf := map[string]string{} // event id → config, to place decisions
	for i, e := range batch {
		r := ans.Results[i]
		if e.node != "" {
			what |= refreshHealth
		}
		if e.key != "" || e.role == roleDup || e.typ == "sync_completed" || e.typ == "sync_failed" {
			what |= refreshPipelines // the pipelines may have moved
		}
		if e.compat {
			st.Compat++
		}
		switch r.Status {
		case "appended":
			st.Appended++
			if e.id != "" && e.role != roleDup {
				w.remember(e.body)
			}
			if e.role == roleBad {
				st.BadAccepted++
			}
			keyOf[r.ID] = e.key
		case "duplicate":
			st.Duplicates++
			if e.role != roleDup {
				st.UnexpectedDups++
			}
		default:
			code := "unknown"
			if r.Error != nil {
				code = string(r.Error.Code)
			}
			st.Refused++
			st.RefusedBy[code]++
			if e.role == roleBad {
				st.BadRefused++
			} else {
				st.StepsRefused[code]++
			}
			switch {
			case e.role == rolePipeline:
				w.byKey[e.key].refused = code
			case e.role == roleNode:
				w.byNode[e.node].refused = true
			}
		}
	}
	for _, d := range ans.Decisions {
		st.Decisions[d.Type]++
		key := keyOf[d.CausationID]
		keyOf[d.ID] = key
		switch d.Type {
		case "recovery_initiated", "health_alert", "node_recovered", "p2p_cluster_unhealthy", "p2p_cluster_healthy":
			what |= refreshHealth
		case "curriculum_rebalanced", "curriculum_advanced":
			what |= refreshCurriculum
		case "selfplay_target_updated": // weak model: more games next iteration
			if c := w.byKey[key]; c != nil {
				c.mult = 1.5
			}
		case "hyperparameter_updated": // strong model: explore less; the tracker sees the opponent mastered
			if c := w.byKey[key]; c != nil {
				c.explore = 0.8
				w.after(actorID{tMastered, c.idx}, w.minutes(1, 10))
			}
		}
	}
	return what
}

// unanswered marks the steps of a batch whose fate is unknown (the
// request failed): the next refresh tells.
func (w *World) unanswered(batch []outEvent) {
	for _, e := range batch {
		switch e.role {
		case rolePipeline:
			w.byKey[e.key].refused = "unavailable"
		case roleNode:
			w.byNode[e.node].refused = true
		}
	}
}

// refresh reads the projections and lets every actor follow the daemon's
// state. Only fatal errors are returned; others are counted.
func (w *World) refresh(ctx context.Context, cl *Client, st *Stats, what int) error {
	fail := func(err error) error {
		if errors.Is(err, ErrFatal) {
			return err
		}
		st.Errors++
		return nil
	}
	if what&refreshPipelines != 0 {
		st.Requests++
		var ps projections.PipelinesView
		if err := cl.getJSON(ctx, "/v1/pipelines", &ps); err != nil {
			return fail(err)
		}
		for _, c := range w.configs {
			if p, ok := ps[c.key]; ok {
				c.follow(w, p)
				if _, known := c.models[c.champion]; c.champion != "" && !known {
					what |= refreshElo // a champion of an earlier run
				}
			}
		}
	}
	if what&refreshElo != 0 {
		st.Requests++
		var ev projections.EloView
		if err := cl.getJSON(ctx, "/v1/elo", &ev); err != nil {
			return fail(err)
		}
		for _, c := range w.configs {
			e := ev.Configs[c.key]
			champion := string(e.Champion)
			if _, known := c.models[champion]; champion != "" && !known && e.ChampionElo != nil {
				c.models[champion] = float64(*e.ChampionElo)
				c.base = max(c.base, float64(*e.ChampionElo))
			}
		}
	}
	if what&refreshHealth != 0 {
		st.Requests++
		var h projections.HealthView
		if err := cl.getJSON(ctx, "/v1/health", &h); err != nil {
			return fail(err)
		}
		w.cluster = h.Cluster
		if h.Leader != "" {
			w.leader = string(h.Leader)
		}
		for _, n := range w.nodes {
			v, ok := h.Nodes[n.id]
			n.follow(w, v, ok)
		}
		// backpressure: the monitors release what the daemon reports on,
		// also when an earlier run set it
		w.resource = h.Backpressure.On()
		for _, c := range w.configs {
			c.queued = h.Backpressure.Configs[c.key].On()
			if s := (actorID{tQueue, c.idx}); c.queued && !w.pending(s) {
				w.after(s, w.minutes(5, 20))
			}
		}
	}
	if what&refreshCurriculum != 0 {
		st.Requests++
		var cv projections.CurriculumView
		if err := cl.getJSON(ctx, "/v1/curriculum", &cv); err != nil {
			return fail(err)
		}
		clear(w.shares)
		for k, v := range cv.Shares {
			w.shares[k] = float64(v)
		}
	}
	return nil
}

// iterations is the sum of the configs' completed iterations.
func (w *World) iterations() int {
	n := 0
	for _, c := range w.configs {
		n += c.iteration - 1
	}
	return n
}

// champions is the number of configs with a champion.
func (w *World) champions() int {
	n := 0
	for _, c := range w.configs {
		if c.champion != "" {
			n++
		}
	}
	return n
}

// failing is the number of nodes the daemon counts as failing.
func (w *World) failing() int {
	n := 0
	for _, x := range w.nodes {
		switch x.seen {
		case "unhealthy", "recovering", "offline", "escalated":
			n++
		}
	}
	return n
}

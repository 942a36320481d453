package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/fsm"
	"github.com/ringrift/ringriftd/journal"
	proj "github.com/ringrift/ringriftd/projections" // the name projections is a test helper
	"github.com/ringrift/ringriftd/replay"
)

// dashAPI serves the endpoints the dashboard added to daemon.md's API: the
// Elo history, the lost-event report and the machines' definitions with
// their occupancy.
type dashAPI struct {
	d *daemon
	// lostRun admits one lost-event report at a time: each is a full scan
	// of the journal.
	lostRun chan struct{}
}

func newDashAPI(d *daemon) *dashAPI {
	return &dashAPI{d: d, lostRun: make(chan struct{}, 1)}
}

// notReady answers 503 until the daemon has caught up; true when it did.
func (a *dashAPI) notReady(w http.ResponseWriter) bool {
	if a.d.ready.Load() {
		return false
	}
	writeRequestRefusal(w, catchingUp())
	return true
}

// eloHistory is GET /v1/elo/{config}/history (proj.EloHistoryJSON),
// answered once the state it shows is durable, like every projection.
func (a *dashAPI) eloHistory(w http.ResponseWriter, r *http.Request) {
	if a.notReady(w) {
		return
	}
	key, ok := event.NormalizeConfigKey(r.PathValue("config"))
	if !ok {
		badParam(w, "config", r.PathValue("config"), "a config key such as hex8_2p")
		return
	}
	var b []byte
	var seq uint64
	a.d.eng.read(func(g *engine.Engine) {
		b, ok = proj.EloHistoryJSON(g.Elo(), key)
		seq = a.d.eng.admitted
	})
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "config", fmt.Sprintf("no Elo history for config %s", key), "configs appear with their first event")
		return
	}
	if err := a.d.j.WaitDurable(r.Context(), seq); err != nil {
		a.d.unavailable(w, err)
		return
	}
	writeRaw(w, b)
}

// lost is GET /v1/lost: `replay lost --json` over the daemon's own journal,
// with its rejected log, its subscriptions' cursors and the types they
// consume. "now" (stuck flows, open chains) is ?now= — an RFC 3339 time, or
// "last" for the last event's time as replay judges by default — and else
// the later of the daemon's clock and the last event's time (a simulated
// cluster's clock may run ahead). The findings are streamed; an error after
// the first byte closes the document with "error", as the CLI does.
func (a *dashAPI) lost(w http.ResponseWriter, r *http.Request) {
	if a.notReady(w) {
		return
	}
	src := replay.Live(a.d.j, a.d.cfg.DataDir, func() []journal.Cursor { return a.liveCursors(r.Context()) })
	var o replay.LostOptions
	switch v := r.URL.Query().Get("now"); v {
	case "last":
	case "":
		o.Now = time.Now().UTC()
		if t := src.LastTime(); t.After(o.Now) {
			o.Now = t
		}
	default:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			badParam(w, "now", v, `an RFC 3339 time, or "last" for the last event's time`)
			return
		}
		o.Now = t
	}
	a.d.subsMu.Lock()
	for _, s := range a.d.subs {
		o.Consumers = append(o.Consumers, replay.Consumer{Name: s.name, Types: s.types})
	}
	a.d.subsMu.Unlock()
	select {
	case a.lostRun <- struct{}{}:
		defer func() { <-a.lostRun }()
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	_, _ = w.Write([]byte(`{"findings":[`))
	n := 0
	rep, err := replay.Lost(r.Context(), src, o, func(f *replay.Finding) error {
		if n++; n > 1 {
			if _, err := w.Write([]byte{','}); err != nil {
				return err
			}
		}
		return enc.Encode(f)
	})
	if err != nil {
		a.d.log.Warn("lost-event report failed", "err", err)
		msg, _ := json.Marshal(err.Error())
		_, _ = fmt.Fprintf(w, `],"error":%s}`, msg)
		return
	}
	sum, _ := json.Marshal(rep.Summary)
	_, _ = fmt.Fprintf(w, `],"summary":%s}`, sum)
}

// flowDoc is GET /v1/flows/{machine}/definition: the machine's definition
// (the one its Mermaid is generated from) and how many keys — configs or
// nodes — are in each state now.
type flowDoc struct {
	Name        string           `json:"name"`
	Initial     string           `json:"initial"`
	States      []string         `json:"states"`
	Transitions []flowTransition `json:"transitions"`
	Counts      map[string]int   `json:"counts"`
}

type flowTransition struct {
	Event string   `json:"event"`
	From  []string `json:"from"`
	To    string   `json:"to"`
	Label string   `json:"label"`
}

// flowDefinition is GET /v1/flows/{machine}/definition. The pipeline counts
// every canonical config (one before its first event is in the initial
// state); the recovery machine counts the nodes that have one.
func (a *dashAPI) flowDefinition(w http.ResponseWriter, r *http.Request) {
	def, _, ok := machineOr404(w, r)
	if !ok {
		return
	}
	if a.notReady(w) {
		return
	}
	doc := flowDoc{Name: def.Name, Initial: def.Initial, States: def.States}
	for _, t := range def.Transitions {
		label := t.Label
		if label == "" {
			label = t.Event
		}
		doc.Transitions = append(doc.Transitions, flowTransition{Event: fsm.Base(t.Event), From: t.From, To: t.To, Label: label})
	}
	a.d.eng.read(func(g *engine.Engine) { doc.Counts = stateCounts(g.Machines(), def.Name) })
	writeJSON(w, http.StatusOK, doc)
}

// pauses is GET /v1/pauses: the scope of each pause reason the pipelines
// show — the cluster-wide reasons, and each config's own (configs without
// any are left out). Backpressure's scope is in GET /v1/health.
func (a *dashAPI) pauses(w http.ResponseWriter, r *http.Request) {
	if a.notReady(w) {
		return
	}
	out := struct {
		Cluster []string            `json:"cluster"`
		Configs map[string][]string `json:"configs"`
	}{Configs: map[string][]string{}}
	a.d.eng.read(func(g *engine.Engine) {
		m := g.Machines()
		out.Cluster = m.ClusterPaused()
		for _, k := range m.PipelineKeys() {
			var own []string
			for reason, on := range m.Pipeline(k).Paused {
				if on {
					own = append(own, reason)
				}
			}
			if own != nil {
				slices.Sort(own)
				out.Configs[k] = own
			}
		}
	})
	if out.Cluster == nil {
		out.Cluster = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

// thresholds is GET /v1/thresholds: the numbers the policies decide by
// (flows.Thresholds), so that a page can show games since training
// against the training threshold of the config's player count.
func (a *dashAPI) thresholds(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.d.cfg.Thresholds)
}

// machineOr404 looks up the {machine} of the path (flows.Machine), or
// answers 404 naming what exists.
func machineOr404(w http.ResponseWriter, r *http.Request) (fsm.Definition, string, bool) {
	m := r.PathValue("machine")
	def, diagram, ok := flows.Machine(m)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "machine", fmt.Sprintf("no machine %q", m), "pipeline or recovery")
	}
	return def, diagram, ok
}

// liveCursors are the running handlers' cursors as they are now (in
// cluster mode a shared subscription's is the cluster's): the lost report
// reads these rather than the stored ones, which lag or, for a handler
// just started, are not there yet.
func (a *dashAPI) liveCursors(ctx context.Context) []journal.Cursor {
	a.d.subsMu.Lock()
	subs := slices.Clone(a.d.subs)
	a.d.subsMu.Unlock()
	out := make([]journal.Cursor, 0, len(subs))
	for _, s := range subs {
		types := slices.Sorted(slices.Values(s.types))
		out = append(out, journal.Cursor{Name: s.name, Cursor: s.stats(ctx).Cursor, Types: types, TypesKnown: true})
	}
	return out
}

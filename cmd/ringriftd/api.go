package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/projections"
	"github.com/ringrift/ringriftd/web"
)

// routes returns the daemon's HTTP handler (daemon.md).
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, route string, h http.HandlerFunc) {
		mux.Handle(pattern, d.metrics.instrument(route, d.auth(h)))
	}
	handle("POST /v1/events", "append", d.forwardAppends(d.appendEvents))
	handle("GET /v1/events", "read", d.readEvents)
	handle("GET /v1/events/{key}", "get", d.getEvent)
	handle("GET /v1/stream", "stream", d.stream)
	handle("GET /v1/pipelines", "pipelines", d.projection(engine.Pipelines))
	handle("GET /v1/pipelines/{config}", "pipelines", d.configProjection(engine.Pipelines))
	handle("GET /v1/elo", "elo", d.projection(engine.Elo))
	handle("GET /v1/elo/{config}", "elo", d.configProjection(engine.Elo))
	handle("GET /v1/curriculum", "curriculum", d.projection(engine.Curriculum))
	handle("GET /v1/health", "health", d.projection(engine.Health))
	handle("GET /v1/rejected", "rejected", d.rejected)
	handle("GET /v1/subscriptions", "subscriptions", d.subscriptions)
	handle("POST /v1/subscriptions/{name}/redeliver", "redeliver", d.redeliver)
	handle("GET /v1/catalog", "catalog", d.catalog)
	handle("GET /v1/flows/{machine}", "flows", d.flowDiagram)
	handle("GET /v1/export", "export", d.export)
	dash := newDashAPI(d) // dashapi.go: endpoints the dashboard needs
	handle("GET /v1/elo/{config}/history", "elo_history", dash.eloHistory)
	handle("GET /v1/lost", "lost", dash.lost)
	handle("GET /v1/pauses", "pauses", dash.pauses)
	handle("GET /v1/thresholds", "thresholds", dash.thresholds)
	handle("GET /v1/flows/{machine}/definition", "flows", dash.flowDefinition)
	web.New().Register(mux) // the dashboard at /, no auth: its assets hold no data
	handle("GET /v1/cluster", "cluster", d.clusterInfo)
	mux.Handle("GET /metrics", d.auth(d.metrics.handler().ServeHTTP))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.Handle("/v1/", d.auth(fallback(mux, "/v1/")))
	return mux
}

// auth requires the bearer token on /v1 and /metrics when one is set
// (GET requests are open with --public-read). The token is compared in
// constant time and never logged.
func (d *daemon) auth(h http.HandlerFunc) http.HandlerFunc {
	if d.cfg.Token == "" {
		return h
	}
	want := []byte(d.cfg.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		if d.cfg.PublicRead && r.Method == http.MethodGet {
			h(w, r)
			return
		}
		got, _ := bearer(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			d.metrics.refusals.WithLabelValues(string(event.CodeUnauthorized)).Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="ringriftd"`)
			writeRequestRefusal(w, event.Errorf(event.CodeUnauthorized, "Authorization", "the header Authorization: Bearer <token> with the daemon's --token",
				"missing or wrong bearer token"))
			return
		}
		h(w, r)
	}
}

// statusOf maps a refusal code to its HTTP status (daemon.md).
func statusOf(c event.Code) int {
	switch c {
	case event.CodePayloadTooLarge, event.CodeBatchTooLarge:
		return http.StatusRequestEntityTooLarge
	case event.CodeIDConflict, event.CodeFlowViolation, event.CodePaused, event.CodeCascadeTooDeep:
		return http.StatusConflict
	case event.CodeUnauthorized:
		return http.StatusUnauthorized
	case event.CodeUnavailable, event.CodeOutcomeUnknown:
		return http.StatusServiceUnavailable
	case event.CodeInsufficientStorage:
		return http.StatusInsufficientStorage
	}
	return http.StatusBadRequest
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func writeRefusal(w http.ResponseWriter, e *event.Error) {
	writeJSON(w, statusOf(e.Code), map[string]*event.Error{"error": e})
}

func badParam(w http.ResponseWriter, name, value, want string) {
	writeError(w, http.StatusBadRequest, string(event.CodeInvalidField), name,
		fmt.Sprintf("query parameter %s=%q is not valid", name, value), want)
}

// filterParams are the query parameters of daemon.md's event filters.
var filterParams = []string{"type", "category", "config", "node", "since", "until", "cross_process"}

// filterFrom reads the event filters of daemon.md from the query (config
// keys against the daemon's boards); it answers the error itself and
// returns false on a bad value, or on a parameter that is neither a filter
// nor one of the endpoint's own (also): a misspelt filter (config_key=…)
// would otherwise be ignored and the answer hold every event.
func (d *daemon) filterFrom(w http.ResponseWriter, r *http.Request, also ...string) (journal.Filter, bool) {
	q := r.URL.Query()
	var f journal.Filter
	for name := range q {
		if !slices.Contains(filterParams, name) && !slices.Contains(also, name) {
			known := append(slices.Clone(filterParams), also...)
			slices.Sort(known)
			writeError(w, http.StatusBadRequest, string(event.CodeInvalidField), name,
				fmt.Sprintf("unknown query parameter %s", name), "one of "+strings.Join(known, ", "))
			return f, false
		}
	}
	if v := q.Get("type"); v != "" {
		for _, s := range strings.Split(v, ",") {
			t, ok := event.Lookup(strings.TrimSpace(s))
			if !ok {
				hint := "event type values or NAMES of the catalog, comma-separated"
				if sug, ok := event.Default().Suggest(s); ok {
					hint = fmt.Sprintf("did you mean %s?", sug.Value)
				}
				badParam(w, "type", s, hint)
				return f, false
			}
			f.Types = append(f.Types, t.Value)
		}
	}
	if v := q.Get("category"); v != "" {
		if len(event.Default().Category(v)) == 0 {
			badParam(w, "category", v, "one of "+strings.Join(event.Default().Categories(), ", "))
			return f, false
		}
		f.Category = v
	}
	if v := q.Get("config"); v != "" {
		k, err := d.validator.Configs.Normalize(v, "config")
		if err != nil {
			badParam(w, "config", v, err.Hint)
			return f, false
		}
		f.ConfigKey = k
	}
	f.NodeID = q.Get("node")
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				badParam(w, p.name, v, "an RFC 3339 time such as 2026-11-22T10:00:00Z")
				return f, false
			}
			*p.dst = t
		}
	}
	if q.Get("cross_process") == "true" {
		f.Types = intersect(f.Types, event.Default().CrossProcess())
	}
	return f, true
}

// intersect narrows types to cross (all of cross when types is empty).
func intersect(types, cross []string) []string {
	if len(types) == 0 {
		return cross
	}
	var out []string
	for _, t := range types {
		for _, c := range cross {
			if t == c {
				out = append(out, t)
			}
		}
	}
	if out == nil {
		out = []string{"(none)"} // matches nothing
	}
	return out
}

// uintParam reads an unsigned query parameter; ok false after answering a
// bad value.
func uintParam(w http.ResponseWriter, r *http.Request, name string, def, max uint64) (uint64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || (max > 0 && n > max) {
		want := "a non-negative integer"
		if max > 0 {
			want = fmt.Sprintf("an integer 0–%d", max)
		}
		badParam(w, name, v, want)
		return 0, false
	}
	return n, true
}

// page reads the paging parameters after (default 0) and limit (default
// 100, 1 to 10,000: limit=0 is refused, since a page of nothing would make
// a paging client loop for ever); ok false after answering a bad value.
func page(w http.ResponseWriter, r *http.Request) (after, limit uint64, ok bool) {
	if after, ok = uintParam(w, r, "after", 0, 0); !ok {
		return 0, 0, false
	}
	if limit, ok = uintParam(w, r, "limit", 100, 10_000); !ok {
		return 0, 0, false
	}
	if limit == 0 {
		badParam(w, "limit", "0", "an integer 1–10000 (default 100)")
		return 0, 0, false
	}
	return after, limit, true
}

// readEvents is GET /v1/events.
func (d *daemon) readEvents(w http.ResponseWriter, r *http.Request) {
	f, ok := d.filterFrom(w, r, "after", "limit")
	if !ok {
		return
	}
	after, limit, ok := page(w, r)
	if !ok {
		return
	}
	b := append(make([]byte, 0, 4096), `{"events":[`...)
	next, n := after, 0
	err := d.j.Scan(after+1, f, func(e *event.Event) error {
		if n > 0 {
			b = append(b, ',')
		}
		b = e.AppendJSON(b)
		next = e.Seq
		n++
		if uint64(n) >= limit {
			return journal.ErrStop
		}
		return nil
	})
	if err != nil {
		d.unavailable(w, err)
		return
	}
	b = append(b, `],"next_after":`...)
	b = strconv.AppendUint(b, next, 10)
	writeRaw(w, append(b, '}'))
}

// getEvent is GET /v1/events/{seq or id}.
func (d *daemon) getEvent(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	var e event.Event
	var err error
	if seq, perr := strconv.ParseUint(key, 10, 64); perr == nil {
		e, err = d.j.Get(seq)
	} else if id, perr := ulid.ParseStrict(key); perr == nil {
		e, err = d.j.GetByID(id)
	} else {
		badPath(w, "key", key, "a seq (1, 2, …) or a 26-character ULID")
		return
	}
	if errors.Is(err, journal.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "", fmt.Sprintf("no journaled event %s", key), "GET /v1/events lists them")
		return
	}
	if err != nil {
		d.unavailable(w, err)
		return
	}
	writeRaw(w, e.AppendJSON(nil))
}

// projection serves one projection whole. The pipelines view adds stuck
// and stuck_for by the clock.
func (d *daemon) projection(p engine.Projection) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var stuck map[string]time.Duration
		b, ok := d.render(w, r, func(g *engine.Engine) []byte {
			if p == engine.Pipelines {
				stuck = stuckPipelines(g.Machines(), time.Now())
			}
			return g.JSON(p)
		})
		if !ok {
			return
		}
		if len(stuck) > 0 {
			var ps projections.PipelinesView
			err := json.Unmarshal(b, &ps)
			for k, age := range stuck {
				ps[k] = markStuck(ps[k], age)
			}
			if err == nil {
				b, err = projections.EncodeView(ps)
			}
			if err != nil {
				d.unavailable(w, err)
				return
			}
		}
		writeRaw(w, b)
	}
}

// configProjection serves one config of the pipelines or the Elo
// projection (GET /v1/pipelines/{config}, /v1/elo/{config}).
func (d *daemon) configProjection(p engine.Projection) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, kerr := d.validator.Configs.Normalize(r.PathValue("config"), "config")
		valid := kerr == nil
		var stuck time.Duration
		known := false
		b, ok := d.render(w, r, func(g *engine.Engine) []byte {
			if !valid {
				return nil
			}
			if p == engine.Elo {
				var one []byte
				one, known = projections.EloConfigJSON(g.Elo(), key)
				return one
			}
			m := g.Machines()
			if known = slices.Contains(m.PipelineKeys(), key); !known {
				return nil
			}
			stuck = stuckPipelines(m, time.Now())[key]
			return projections.AppendPipeline(nil, m.Pipeline(key), m.Paused(key))
		})
		switch {
		case !ok:
			return
		case !valid:
			badPath(w, "config", r.PathValue("config"), kerr.Hint)
			return
		case !known:
			writeError(w, http.StatusNotFound, "not_found", "config", fmt.Sprintf("no %s for config %s", p, key), "configs appear with their first event")
			return
		}
		if stuck > 0 {
			var v projections.PipelineView
			err := json.Unmarshal(b, &v)
			if err == nil {
				b, err = projections.EncodeView(markStuck(v, stuck))
			}
			if err != nil {
				d.unavailable(w, err)
				return
			}
		}
		writeRaw(w, b)
	}
}

// render runs fn on the engine and returns its bytes once the state they
// show is durable (the engine runs ahead of the fsync by at most one group
// commit), so a crash never takes back what a reader saw. ok is false
// after answering an error (catching up, journal failed).
func (d *daemon) render(w http.ResponseWriter, r *http.Request, fn func(*engine.Engine) []byte) (b []byte, ok bool) {
	if !d.ready.Load() {
		writeRequestRefusal(w, catchingUp())
		return nil, false
	}
	var seq uint64
	d.eng.read(func(g *engine.Engine) {
		b = fn(g)
		seq = d.eng.admitted
	})
	if err := d.j.WaitDurable(r.Context(), seq); err != nil {
		d.unavailable(w, err)
		return nil, false
	}
	return b, true
}

// stuckPipelines returns the configs whose state has lasted longer than its
// limit (flows.StuckLimits) at now, with how long.
func stuckPipelines(m *flows.Machines, now time.Time) map[string]time.Duration {
	var out map[string]time.Duration
	for _, k := range m.PipelineKeys() {
		p := m.Pipeline(k)
		limit, ok := flows.StuckLimits[p.State]
		if !ok || p.EnteredAt.IsZero() {
			continue
		}
		if age := now.Sub(p.EnteredAt); age > limit {
			if out == nil {
				out = map[string]time.Duration{}
			}
			out[k] = age
		}
	}
	return out
}

// markStuck sets stuck and stuck_for (a duration such as "2h5m0s", to the
// second) on a pipeline.
func markStuck(p projections.PipelineView, age time.Duration) projections.PipelineView {
	p.Stuck, p.StuckFor = true, age.Truncate(time.Second).String()
	return p
}

func (d *daemon) rejected(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := page(w, r)
	if !ok {
		return
	}
	log, err := d.rejectedLog(r.Context(), after+1, int(limit))
	if err != nil {
		d.unavailable(w, err)
		return
	}
	writeJSON(w, http.StatusOK, log)
}

func (d *daemon) subscriptions(w http.ResponseWriter, r *http.Request) {
	types := map[string][]string{}
	d.subsMu.Lock()
	for _, s := range d.subs {
		types[s.name] = s.types
	}
	d.subsMu.Unlock()
	type sub struct {
		journal.SubscriptionStats
		Types        []string `json:"types"`
		DeadLettered uint64   `json:"dead_lettered"`
		// OpenDeadLetters are its handler_failed events that no
		// handler_redelivered resolved (derived from the journal).
		OpenDeadLetters []journal.DeadLetter `json:"open_dead_letters"`
	}
	open, err := d.dead.Open("")
	if err != nil {
		d.unavailable(w, err)
		return
	}
	out := []sub{}
	for _, s := range d.subscriptionStats() {
		t := types[s.Name]
		if t == nil {
			t = []string{}
		}
		mine := []journal.DeadLetter{}
		for _, dl := range open {
			if dl.Handler == s.Name {
				mine = append(mine, dl)
			}
		}
		out = append(out, sub{SubscriptionStats: s, Types: t, DeadLettered: s.Failed, OpenDeadLetters: mine})
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
}

func (d *daemon) flowDiagram(w http.ResponseWriter, r *http.Request) {
	_, text, ok := machineOr404(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/vnd.mermaid; charset=utf-8")
	_, _ = io.WriteString(w, text)
}

// export is GET /v1/export: the journal as NDJSON from after+1, streamed.
func (d *daemon) export(w http.ResponseWriter, r *http.Request) {
	after, ok := uintParam(w, r, "after", 0, 0)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	buf := make([]byte, 0, 64<<10)
	err := d.j.Scan(after+1, journal.Filter{}, func(e *event.Event) error {
		buf = append(e.AppendJSON(buf), '\n')
		if len(buf) >= 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		return r.Context().Err()
	})
	if err == nil {
		_, err = w.Write(buf)
	}
	if err != nil {
		// The status line is sent: abort the connection, so the client
		// sees a broken stream (and resumes with ?after=) rather than an
		// export that looks complete.
		d.log.Warn("export ended early", "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (d *daemon) readyz(w http.ResponseWriter, r *http.Request) {
	if !d.ready.Load() || d.j.Err() != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "journal_error": errString(d.j.Err())})
		return
	}
	if ok, why := d.clusterReady(); !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "cluster": why})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "seq": d.j.Durable()})
}

func errString(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
)

// routes returns the daemon's HTTP handler (daemon.md).
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, route string, h http.HandlerFunc) {
		mux.Handle(pattern, d.metrics.instrument(route, d.auth(h)))
	}
	handle("POST /v1/events", "append", d.appendEvents)
	handle("GET /v1/events", "read", d.readEvents)
	handle("GET /v1/events/{key}", "get", d.getEvent)
	handle("GET /v1/stream", "stream", d.stream)
	handle("GET /v1/pipelines", "pipelines", d.projection("pipelines", ""))
	handle("GET /v1/pipelines/{config}", "pipelines", d.projection("pipelines", "config"))
	handle("GET /v1/elo", "elo", d.projection("elo", ""))
	handle("GET /v1/elo/{config}", "elo", d.projection("elo", "config"))
	handle("GET /v1/curriculum", "curriculum", d.projection("curriculum", ""))
	handle("GET /v1/health", "health", d.projection("health", ""))
	handle("GET /v1/rejected", "rejected", d.rejected)
	handle("GET /v1/subscriptions", "subscriptions", d.subscriptions)
	handle("GET /v1/catalog", "catalog", d.catalog)
	handle("GET /v1/flows/{machine}", "flows", d.flowDiagram)
	handle("GET /v1/export", "export", d.export)
	handle("GET /v1/cluster", "cluster", d.clusterInfo)
	mux.Handle("GET /metrics", d.auth(d.metrics.handler().ServeHTTP))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.Handle("/v1/", d.auth(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path),
			"see daemon.md: POST /v1/events, GET /v1/events, /v1/stream, /v1/pipelines …")
	}))
	return mux
}

// auth requires the bearer token on /v1 and /metrics when one is set
// (GET requests are open with --public-read). The token is compared in
// constant time and never logged.
func (d *daemon) auth(h http.HandlerFunc) http.HandlerFunc {
	if d.cfg.Token == "" {
		return h
	}
	want := []byte("Bearer " + d.cfg.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		if d.cfg.PublicRead && r.Method == http.MethodGet {
			h(w, r)
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			d.metrics.refusals.WithLabelValues(string(event.CodeUnauthorized)).Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="ringriftd"`)
			writeRefusal(w, event.Errorf(event.CodeUnauthorized, "Authorization", "the header Authorization: Bearer <token> with the daemon's --token",
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
	case event.CodeUnavailable:
		return http.StatusServiceUnavailable
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

// writeError answers an error that is not a refusal of events (not found,
// a bad query parameter) in the same shape.
func writeError(w http.ResponseWriter, status int, code, field, msg, hint string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "index": 0, "field": field, "message": msg, "hint": hint}})
}

func badParam(w http.ResponseWriter, name, value, want string) {
	writeError(w, http.StatusBadRequest, string(event.CodeInvalidField), name,
		fmt.Sprintf("query parameter %s=%q is not valid", name, value), want)
}

// itemResult is one entry of the append answer's results.
type itemResult struct {
	Index  int          `json:"index"`
	Status string       `json:"status"`
	Seq    uint64       `json:"seq,omitempty"`
	ID     string       `json:"id,omitempty"`
	Error  *event.Error `json:"error,omitempty"`
}

type decisionRef struct {
	Seq         uint64 `json:"seq"`
	ID          string `json:"id"`
	Type        string `json:"type"`
	CausationID string `json:"causation_id"`
	ConfigKey   string `json:"config_key,omitempty"`
	NodeID      string `json:"node_id,omitempty"`
}

// appendEvents is POST /v1/events: one event, a JSON array or NDJSON;
// atomic unless ?atomic=false. Every refusal lands in the rejected log.
func (d *daemon) appendEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	remote := r.RemoteAddr
	if !d.ready.Load() {
		writeRefusal(w, event.Errorf(event.CodeUnavailable, "", "retry when GET /readyz answers 200",
			"ringriftd is catching up with its journal"))
		return
	}
	atomic := true
	if v := r.URL.Query().Get("atomic"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			badParam(w, "atomic", v, "true or false")
			return
		}
		atomic = b
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.refuseWhole(w, remote, body, event.Errorf(event.CodeBatchTooLarge, "", fmt.Sprintf("a body of at most %d bytes; split the batch", d.cfg.MaxBody),
				"request body over %d bytes", d.cfg.MaxBody))
			return
		}
		writeError(w, http.StatusBadRequest, string(event.CodeInvalidJSON), "", "reading the body: "+err.Error(), "send the whole body")
		return
	}
	items, werr := d.validator.DecodeBody(body)
	if werr == nil && len(items) > d.cfg.MaxBatch {
		werr = event.Errorf(event.CodeBatchTooLarge, "", fmt.Sprintf("at most %d events per request; split the batch", d.cfg.MaxBatch),
			"batch of %d events", len(items))
		werr.Index = -1
	}
	if werr == nil {
		werr = d.clusterBatchLimit(len(items), atomic)
	}
	if werr != nil {
		d.refuseWhole(w, remote, body, werr)
		return
	}
	results := make([]itemResult, len(items))
	evs := make([]event.Event, 0, len(items))
	at := make([]int, 0, len(items)) // item index of each event in evs
	var rejections []journal.Rejection
	var refused []*event.Error
	for i := range items {
		it := &items[i]
		if it.Err == nil {
			evs = append(evs, it.Event)
			at = append(at, i)
			continue
		}
		it.Err.Index = i
		rej := journal.Rejection{Code: it.Err.Code, Index: i, Field: it.Err.Field, Message: it.Err.Message, Hint: it.Err.Hint, Raw: string(it.Raw), Remote: remote}
		if atomic {
			rej.Batch = len(items)
			d.record(rej)
			d.metrics.results(0, 0, []*event.Error{it.Err})
			writeRefusal(w, it.Err)
			return
		}
		rejections = append(rejections, rej)
		refused = append(refused, it.Err)
		results[i] = itemResult{Index: i, Status: "refused", Error: it.Err}
	}
	if len(rejections) > 0 {
		d.record(rejections...)
	}
	var res []journal.Result
	if len(evs) > 0 {
		res, err = d.j.Append(r.Context(), evs, journal.AppendOptions{Atomic: atomic, Validated: true, Remote: remote})
		if ref, ok := event.AsError(err); ok {
			ref.Index = at[ref.Index]
			d.metrics.results(0, 0, []*event.Error{ref})
			writeRefusal(w, ref)
			return
		}
		if err != nil {
			d.unavailable(w, err)
			return
		}
	}
	appended, dups := 0, 0
	decisions := []decisionRef{}
	for k, rr := range res {
		i := at[k]
		out := itemResult{Index: i, Status: rr.Status.String(), Seq: rr.Seq}
		if rr.ID != (ulid.ULID{}) {
			out.ID = rr.ID.String()
		}
		switch rr.Status {
		case journal.Appended:
			appended++
			if rr.Decisions > 0 {
				ds, err := d.j.Read(rr.Seq+1, journal.Filter{}, rr.Decisions)
				if err != nil {
					d.log.Warn("reading decisions for the answer", "seq", rr.Seq, "err", err)
				}
				for _, de := range ds {
					decisions = append(decisions, decisionRef{Seq: de.Seq, ID: de.ID.String(), Type: de.Type,
						CausationID: de.CausationID, ConfigKey: de.ConfigKey, NodeID: de.NodeID})
				}
			}
		case journal.Duplicate:
			dups++
		case journal.Refused:
			rr.Refusal.Index = i
			out.Error = rr.Refusal
			refused = append(refused, rr.Refusal)
		}
		results[i] = out
	}
	d.metrics.results(appended, dups, refused)
	d.metrics.appendDur.Observe(time.Since(start).Seconds())
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "decisions": decisions})
}

// refuseWhole refuses a request as a whole (invalid JSON, too large) and
// records it.
func (d *daemon) refuseWhole(w http.ResponseWriter, remote string, body []byte, e *event.Error) {
	e.Index = -1
	d.record(journal.Rejection{Code: e.Code, Index: -1, Field: e.Field, Message: e.Message, Hint: e.Hint, Raw: string(body), Remote: remote})
	d.metrics.results(0, 0, []*event.Error{e})
	writeRefusal(w, e)
}

// record writes refusals made before the sequencer to the rejected log.
func (d *daemon) record(rs ...journal.Rejection) {
	if err := d.j.Reject(rs...); err != nil {
		d.log.Error("writing the rejected log", "err", err)
	}
}

// unavailable answers a journal that cannot take appends: nothing of the
// request landed.
func (d *daemon) unavailable(w http.ResponseWriter, err error) {
	d.log.Error("append failed", "err", err)
	if ref := clusterRefusal(err); ref != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]*event.Error{"error": ref})
		return
	}
	writeRefusal(w, event.Errorf(event.CodeUnavailable, "", "nothing of this request was journaled; retry later",
		"the journal cannot take appends: %v", err))
}

// filterFrom reads the event filters of daemon.md from the query; it
// answers the error itself and returns false on a bad value.
func filterFrom(w http.ResponseWriter, r *http.Request) (journal.Filter, bool) {
	q := r.URL.Query()
	var f journal.Filter
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
		k, ok := event.NormalizeConfigKey(v)
		if !ok {
			badParam(w, "config", v, "a config key such as hex8_2p")
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
// 100, at most 10,000); ok false after answering a bad value.
func page(w http.ResponseWriter, r *http.Request) (after, limit uint64, ok bool) {
	if after, ok = uintParam(w, r, "after", 0, 0); !ok {
		return 0, 0, false
	}
	if limit, ok = uintParam(w, r, "limit", 100, 10_000); !ok {
		return 0, 0, false
	}
	if limit == 0 {
		limit = 100
	}
	return after, limit, true
}

// readEvents is GET /v1/events.
func (d *daemon) readEvents(w http.ResponseWriter, r *http.Request) {
	f, ok := filterFrom(w, r)
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
		badParam(w, "seq or id", key, "a seq (1, 2, …) or a 26-character ULID")
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

// projection serves one projection, whole or (pathKey) one config of it.
// It answers once the state it shows is durable (the engine runs ahead of
// the fsync by at most one group commit), so a crash never takes back what
// a reader saw. The pipelines view adds stuck and stuck_for by the clock.
func (d *daemon) projection(name, pathKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.ready.Load() {
			writeRefusal(w, event.Errorf(event.CodeUnavailable, "", "retry when GET /readyz answers 200",
				"ringriftd is catching up with its journal"))
			return
		}
		var b []byte
		var seq uint64
		var stuck map[string]time.Duration
		d.eng.read(func(g *engine.Engine) {
			b, _ = g.ProjectionJSON(name)
			seq = d.eng.admitted
			if name == "pipelines" {
				stuck = stuckPipelines(g.Machines(), time.Now())
			}
		})
		if err := d.j.WaitDurable(r.Context(), seq); err != nil {
			d.unavailable(w, err)
			return
		}
		if pathKey == "" && len(stuck) == 0 {
			writeRaw(w, b)
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			d.unavailable(w, err)
			return
		}
		for k, age := range stuck {
			m[k] = withStuck(m[k], age)
		}
		if pathKey == "" {
			writeJSON(w, http.StatusOK, m)
			return
		}
		key, ok := event.NormalizeConfigKey(r.PathValue(pathKey))
		if !ok {
			badParam(w, "config", r.PathValue(pathKey), "a config key such as hex8_2p")
			return
		}
		if name == "elo" {
			var configs map[string]json.RawMessage
			_ = json.Unmarshal(m["configs"], &configs)
			m = configs
		}
		one, ok := m[key]
		if !ok {
			writeError(w, http.StatusNotFound, "not_found", "config", fmt.Sprintf("no %s for config %s", name, key), "configs appear with their first event")
			return
		}
		writeRaw(w, one)
	}
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

// withStuck adds "stuck": true and "stuck_for" (a duration such as
// "2h5m0s", to the second) to a pipeline's JSON object.
func withStuck(obj json.RawMessage, age time.Duration) json.RawMessage {
	if len(obj) < 2 {
		return obj
	}
	out := append([]byte(nil), obj[:len(obj)-1]...)
	out = append(out, `,"stuck":true,"stuck_for":`...)
	out = strconv.AppendQuote(out, age.Truncate(time.Second).String())
	return append(out, '}')
}

func (d *daemon) rejected(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := page(w, r)
	if !ok {
		return
	}
	log, err := d.j.Rejected(after+1, int(limit))
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
	}
	out := []sub{}
	for _, s := range d.j.Subscriptions() {
		t := types[s.Name]
		if t == nil {
			t = []string{}
		}
		out = append(out, sub{SubscriptionStats: s, Types: t, DeadLettered: s.Failed})
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
}

func (d *daemon) catalog(w http.ResponseWriter, r *http.Request) {
	type row struct {
		Name         string        `json:"name"`
		Value        string        `json:"value"`
		Category     string        `json:"category"`
		CrossProcess bool          `json:"cross_process"`
		Schema       *event.Schema `json:"schema,omitempty"`
	}
	var rows []row
	for _, t := range event.Default().Types() {
		rows = append(rows, row{Name: t.Name, Value: t.Value, Category: t.Category, CrossProcess: t.CrossProcess, Schema: event.SchemaOf(t.Value)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"types": rows})
}

func (d *daemon) flowDiagram(w http.ResponseWriter, r *http.Request) {
	var text string
	switch m := r.PathValue("machine"); m {
	case flows.PipelineMachine:
		text = flows.PipelineDiagram()
	case flows.RecoveryMachine:
		text = flows.RecoveryDiagram()
	default:
		writeError(w, http.StatusNotFound, "not_found", "machine", fmt.Sprintf("no machine %q", m), "pipeline or recovery")
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

package replay

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
)

// Finding kinds of the lost-event report (replay.md), in report order.
const (
	KindRefused             = "refused"
	KindDuplicate           = "duplicate"
	KindProbableDuplicate   = "probable_duplicate"
	KindDeadLetter          = "dead_letter"
	KindStuck               = "stuck"
	KindBrokenChain         = "broken_chain"
	KindOrphanDecision      = "orphan_decision"
	KindLaggingSubscription = "lagging_subscription"
	KindUnconsumedType      = "unconsumed_type"
	KindUnseenType          = "unseen_type"
)

// Kinds lists every finding kind in report order.
var Kinds = []string{KindRefused, KindDuplicate, KindProbableDuplicate, KindDeadLetter, KindStuck,
	KindBrokenChain, KindOrphanDecision, KindLaggingSubscription, KindUnconsumedType, KindUnseenType}

// Finding is one entry of the lost-event report.
type Finding struct {
	Kind    string   `json:"kind"`
	Seqs    []uint64 `json:"seqs"`
	Key     *string  `json:"key"`
	Message string   `json:"message"`
}

// LostReport is `replay lost --json`: the findings and a count per kind
// checked. A kind the source cannot show is absent from the summary: a file
// or a daemon's export has no rejected log and no subscription state, so its
// summary has no duplicate, and refused only when some of its own lines did
// not decode. Lost streams the findings to a callback and
// returns the report without them; Collect keeps them.
type LostReport struct {
	Findings []Finding      `json:"findings"`
	Summary  map[string]int `json:"summary"`
	// Now is the time stuck flows and windows were judged at.
	Now time.Time `json:"-"`
	// Events is how many events were read.
	Events uint64 `json:"-"`
}

// Total is the number of findings.
func (r *LostReport) Total() int {
	n := 0
	for _, c := range r.Summary {
		n += c
	}
	return n
}

// CollectLost runs Lost and keeps every finding in the report.
func CollectLost(ctx context.Context, src Source, o LostOptions) (*LostReport, error) {
	var fs []Finding
	r, err := Lost(ctx, src, o, func(f *Finding) error { fs = append(fs, *f); return nil })
	if err != nil {
		return nil, err
	}
	if fs == nil {
		fs = []Finding{}
	}
	r.Findings = fs
	return r, nil
}

// Windows are how long an expected follow-up may take before a chain counts
// as broken. A chain still open at "now" but younger than its window is
// pending, not broken.
type Windows struct {
	Training     time.Duration // training_started → its end; default 24 h
	Evaluation   time.Duration // evaluation_started → its end; default 2 h
	Recovery     time.Duration // recovery_initiated → an outcome; default 30 min
	Threshold    time.Duration // training_threshold → training_started; default 30 min
	Distribution time.Duration // model_promoted → model_distribution_complete; default 30 min
}

func (w Windows) withDefaults() Windows {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&w.Training, 24*time.Hour)
	def(&w.Evaluation, 2*time.Hour)
	def(&w.Recovery, 30*time.Minute)
	def(&w.Threshold, 30*time.Minute)
	def(&w.Distribution, 30*time.Minute)
	return w
}

// Consumer is what is known of a subscription's interest: its name and the
// types it consumes (none: every type).
type Consumer struct {
	Name  string   `json:"name"`
	Types []string `json:"types"`
}

// LostOptions tune the lost-event report. The zero value has the defaults.
type LostOptions struct {
	// Now judges stuck flows and open chains; zero means the last event's
	// time.
	Now time.Time
	// DuplicateWindow is the probable-duplicate window (default 30 s, the
	// old system's; negative turns the check off).
	DuplicateWindow time.Duration
	Windows         Windows
	// LagLimit is how many events a subscription may lag (default 10,000);
	// StuckAfter how long it may wait on one seq (default 5 min).
	LagLimit   uint64
	StuckAfter time.Duration
	// Consumers are the subscriptions' types (from the daemon's
	// /v1/subscriptions); when empty, a journal's own (the types stored with
	// its cursors) are used; without either, unconsumed and unseen types are
	// not checked.
	Consumers []Consumer
	Progress  Progress
	// Thresholds are the daemon's (FoldOptions).
	Thresholds flows.Thresholds
}

// Lost builds the lost-event report of a source: the rejected log first
// (refused inputs and dropped duplicates, in the log's order), then one pass
// over the events (probable duplicates, orphan decisions, in seq order),
// then what is still open at "now" (dead letters, broken chains, stuck
// flows) and the subscriptions. Each finding goes to emit as it is found;
// memory stays bounded by the open keys, not by the journal or the number
// of findings.
func Lost(ctx context.Context, src Source, o LostOptions, emit func(*Finding) error) (*LostReport, error) {
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 30 * time.Second
	}
	if o.LagLimit == 0 {
		o.LagLimit = 10_000
	}
	if o.StuckAfter == 0 {
		o.StuckAfter = 5 * time.Minute
	}
	l := newLost(o)
	l.emit = emit
	var cursors []journal.Cursor
	if cs, ok := src.(CursorSource); ok {
		var err error
		if cursors, err = cs.Cursors(); err != nil {
			return nil, err
		}
		for _, c := range cursors {
			l.wantTime[c.Cursor+1] = time.Time{}
		}
	}
	if cs, ok := src.(ConsumerSource); ok && len(o.Consumers) == 0 {
		var err error
		if o.Consumers, _, err = cs.Consumers(); err != nil {
			return nil, err
		}
	}
	if ids, ok := src.(IDSource); ok {
		l.hasID = ids.HasID
	} else {
		l.ids = map[ulid.ULID]struct{}{}
	}
	var total uint64
	if ls, ok := src.(LastSource); ok {
		total = ls.Last()
	}
	pass := func(ctx context.Context) error {
		err := src.Scan(ctx, 1, Filter{}, func(e *event.Event) error {
			l.fold(e)
			if l.err != nil {
				return l.err
			}
			if o.Progress != nil && l.events&16383 == 0 {
				o.Progress(l.events, total)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if o.Progress != nil {
			o.Progress(l.events, l.events)
		}
		l.finish()
		if cursors != nil {
			l.subscriptions(cursors)
		}
		if len(o.Consumers) > 0 {
			l.consumers(o.Consumers)
		}
		return l.err
	}
	rs, hasRejected := src.(RejectedSource)
	var refused, dups int
	rejected := func() error {
		if js, ok := src.(*JournalSource); ok {
			return js.rejectedHeads(func(r *journal.Rejection, h head) error {
				f := rejectionFinding(r, h)
				if f.Kind == KindRefused {
					refused++
				} else {
					dups++
				}
				return emit(&f)
			})
		}
		return rs.Rejected(func(r *journal.Rejection) error {
			f := rejectionFinding(r, rawHead([]byte(r.Raw)))
			if f.Kind == KindRefused {
				refused++
			} else {
				dups++
			}
			return emit(&f)
		})
	}
	var err error
	if _, isJournal := src.(*JournalSource); hasRejected && isJournal {
		err = concurrently(ctx, pass, rejected, l, emit)
	} else {
		l.emit = emit
		err = pass(ctx)
		if err == nil && hasRejected {
			err = rejected()
		}
	}
	if err != nil {
		return nil, err
	}
	if _, lines := src.(*readerSource); lines {
		// A file or a daemon's export has no rejected log: its refusals are
		// its own lines that did not decode, and it has no duplicates.
		if refused > 0 {
			l.summary[KindRefused] = refused
		}
	} else if hasRejected {
		l.summary[KindRefused], l.summary[KindDuplicate] = refused, dups
	}
	return &LostReport{Summary: l.summary, Now: l.now(), Events: l.events}, nil
}

type chain struct {
	seq  uint64
	at   time.Time
	what string
}

type recent struct {
	seq    uint64
	tms    int64
	pre    uint64
	ev     event.Event // payload copied
	key    [32]byte
	hasKey bool
}

type deadLetter struct {
	seq     uint64
	handler string
	failed  int64
}

type lost struct {
	emit    func(*Finding) error
	err     error
	o       LostOptions
	w       Windows
	eng     *engine.Engine
	summary map[string]int
	events  uint64
	last    time.Time
	lastSeq uint64

	entered map[string]uint64 // config → seq that entered its state

	training, evaluation, threshold, promoted map[string]chain // by config (evaluation: config + model)
	recovery                                  map[string]chain // by node
	distributor                               bool

	ring     []recent // the probable-duplicate window, circular
	head     int
	nring    int
	recent   [64]ulid.ULID
	nrecent  int
	ids      map[ulid.ULID]struct{}
	hasID    func(ulid.ULID) bool
	dead     map[string]deadLetter
	types    map[string]uint64 // type → first seq
	counts   map[string]int
	wantTime map[uint64]time.Time
}

func newLost(o LostOptions) *lost {
	l := &lost{o: o, w: o.Windows.withDefaults(), eng: FoldOptions{Thresholds: o.Thresholds}.engine(), summary: map[string]int{},
		entered: map[string]uint64{}, training: map[string]chain{}, evaluation: map[string]chain{},
		threshold: map[string]chain{}, promoted: map[string]chain{}, recovery: map[string]chain{},
		dead: map[string]deadLetter{}, types: map[string]uint64{}, counts: map[string]int{}, wantTime: map[uint64]time.Time{}}
	for _, k := range []string{KindStuck, KindBrokenChain, KindOrphanDecision, KindDeadLetter} {
		l.summary[k] = 0
	}
	if o.DuplicateWindow > 0 {
		l.summary[KindProbableDuplicate] = 0
	}
	return l
}

func keyOf(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (l *lost) add(kind string, key string, msg string, seqs ...uint64) {
	if seqs == nil {
		seqs = []uint64{}
	}
	l.summary[kind]++
	if l.err == nil {
		l.err = l.emit(&Finding{Kind: kind, Seqs: seqs, Key: keyOf(key), Message: msg})
	}
}

func (l *lost) fold(e *event.Event) {
	l.events++
	l.last, l.lastSeq = e.Time, e.Seq
	if _, ok := l.types[e.Type]; !ok {
		l.types[e.Type] = e.Seq
	}
	l.counts[e.Type]++
	if _, ok := l.wantTime[e.Seq]; ok {
		l.wantTime[e.Seq] = e.Time
	}
	decision := strings.HasPrefix(e.Source, event.DecisionSourcePrefix)
	if decision && e.CausationID != "" {
		l.checkCause(e)
	}
	if len(l.dead) > 0 && e.Type == "handler_redelivered" {
		delete(l.dead, e.CausationID)
	}
	if l.o.DuplicateWindow > 0 {
		l.probableDuplicate(e, decision)
	}
	l.remember(e)
	l.chains(e)

	m := l.eng.Machines()
	var before string
	if e.ConfigKey != "" {
		if p := m.Pipeline(e.ConfigKey); p != nil {
			before = p.State
		}
	}
	l.eng.Fold(e)
	if e.ConfigKey != "" {
		if p := m.Pipeline(e.ConfigKey); p != nil && p.State != before {
			l.entered[e.ConfigKey] = e.Seq
		}
	}
}

func (l *lost) remember(e *event.Event) {
	l.recent[l.nrecent%len(l.recent)] = e.ID
	l.nrecent++
	if l.ids != nil {
		l.ids[e.ID] = struct{}{}
	}
}

// checkCause reports a decision whose causation_id names no journaled event.
func (l *lost) checkCause(e *event.Event) {
	id, err := ulid.ParseStrict(e.CausationID)
	if err == nil {
		for i := 0; i < min(l.nrecent, len(l.recent)); i++ {
			if l.recent[i] == id {
				return
			}
		}
		if l.ids != nil {
			if _, ok := l.ids[id]; ok {
				return
			}
		} else if l.hasID != nil && l.hasID(id) {
			return
		}
	}
	l.add(KindOrphanDecision, firstOf(e.ConfigKey, e.NodeID),
		fmt.Sprintf("%s from %s names cause %s, which is not journaled", e.Type, e.Source, e.CausationID), e.Seq)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// preKey hashes what two duplicates must share before their content keys are
// compared: type, config_key and node_id (FNV-1a).
func preKey(e *event.Event) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range []string{e.Type, e.ConfigKey, e.NodeID} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return h
}

// maxRing bounds the probable-duplicate window in events, so that a burst or
// a clock jump cannot grow it without end.
const maxRing = 4096

func (l *lost) probableDuplicate(e *event.Event, decision bool) {
	w := l.o.DuplicateWindow.Milliseconds()
	t := e.Time.UnixMilli()
	if l.ring == nil {
		l.ring = make([]recent, maxRing)
	}
	// Drop what fell out of the window: times mostly rise, and twice the
	// window is kept for producers whose clocks disagree a little.
	for l.nring > 0 && (l.ring[l.head].tms <= t-w-w || l.nring == maxRing) {
		l.head = (l.head + 1) % maxRing
		l.nring--
	}
	pre := preKey(e)
	var key [32]byte
	hasKey := false
	if !decision && !e.NoDedup {
		for k := l.nring - 1; k >= 0; k-- {
			r := &l.ring[(l.head+k)%maxRing]
			if r.pre != pre || abs(t-r.tms) >= w {
				continue
			}
			same := string(r.ev.Payload) == string(e.Payload)
			if !same {
				if !hasKey {
					key, hasKey = event.ContentKey(e), true
				}
				if !r.hasKey {
					r.key, r.hasKey = event.ContentKey(&r.ev), true
				}
				same = r.key == key
			}
			if same {
				d := time.Duration(abs(t-r.tms)) * time.Millisecond
				l.add(KindProbableDuplicate, firstOf(e.ConfigKey, e.NodeID),
					fmt.Sprintf("%s repeats seq %d's content %s later (double emission? dedup is off; mark real repeats \"dedup\": false)", e.Type, r.seq, Human(d)),
					r.seq, e.Seq)
				break
			}
		}
	}
	r := &l.ring[(l.head+l.nring)%maxRing]
	l.nring++
	payload := append(r.ev.Payload[:0], e.Payload...)
	*r = recent{seq: e.Seq, tms: t, pre: pre, key: key, hasKey: hasKey}
	r.ev = event.Event{Type: e.Type, ConfigKey: e.ConfigKey, NodeID: e.NodeID, Payload: payload}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// chains opens and closes the expected follow-ups of replay.md.
func (l *lost) chains(e *event.Event) {
	cfg, node := e.ConfigKey, e.NodeID
	open := func(m map[string]chain, key, what string) {
		if c, ok := m[key]; ok && c.what == what {
			l.broken(key, c, fmt.Sprintf("; another %s came at seq %d first", e.Type, e.Seq))
		}
		m[key] = chain{seq: e.Seq, at: e.Time, what: what}
	}
	switch e.Type {
	case "training_started":
		delete(l.threshold, cfg)
		open(l.training, cfg, "training_started without an end (training_completed, _failed, _early_stopped or _rollback_needed)")
	case "training_completed", "training_failed", "training_early_stopped", "training_rollback_needed":
		delete(l.training, cfg)
	case "evaluation_started":
		model, _ := e.Str("model_path")
		open(l.evaluation, cfg+"\x00"+model, "evaluation_started without an end (evaluation_completed or _failed)")
	case "evaluation_completed", "evaluation_failed":
		model, _ := e.Str("model_path")
		if model == "" {
			for k := range l.evaluation {
				if strings.HasPrefix(k, cfg+"\x00") {
					delete(l.evaluation, k)
				}
			}
		}
		delete(l.evaluation, cfg+"\x00"+model)
	case "recovery_initiated":
		if c, ok := l.recovery[node]; !ok || c.what == "" {
			l.recovery[node] = chain{seq: e.Seq, at: e.Time, what: "recovery_initiated without an outcome (recovery_completed, recovery_failed, or the node back or down)"}
		}
	case "recovery_completed", "recovery_failed", "node_recovered", "health_check_passed", "host_online", "host_offline", "health_alert":
		delete(l.recovery, node)
	case "training_threshold":
		if _, ok := l.threshold[cfg]; !ok {
			l.threshold[cfg] = chain{seq: e.Seq, at: e.Time, what: "training_threshold without training_started"}
		}
	case "model_distribution_started":
		l.distributor = true
	case "model_distribution_complete":
		delete(l.promoted, cfg)
	case "model_promoted":
		if c, ok := l.promoted[cfg]; ok && l.distributor {
			l.broken(cfg, c, fmt.Sprintf("; %s promoted again at seq %d", cfg, e.Seq))
		}
		l.promoted[cfg] = chain{seq: e.Seq, at: e.Time, what: "model_promoted without model_distribution_complete"}
	case "handler_failed":
		h, _ := e.Str("handler")
		n, _ := e.Int("event_seq")
		l.dead[e.ID.String()] = deadLetter{seq: e.Seq, handler: h, failed: n}
	}
}

func (l *lost) broken(key string, c chain, why string) {
	k, _, _ := strings.Cut(key, "\x00")
	l.add(KindBrokenChain, k, fmt.Sprintf("%s: %s%s", k, c.what, why), c.seq)
}

func (l *lost) now() time.Time {
	if !l.o.Now.IsZero() {
		return l.o.Now
	}
	return l.last
}

// finish judges what is still open at "now".
func (l *lost) finish() {
	now := l.now()
	for _, set := range []struct {
		m      map[string]chain
		window time.Duration
		skip   bool
	}{{l.training, l.w.Training, false}, {l.evaluation, l.w.Evaluation, false}, {l.recovery, l.w.Recovery, false},
		{l.threshold, l.w.Threshold, false}, {l.promoted, l.w.Distribution, !l.distributor}} {
		if set.skip {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(set.m)) {
			c := set.m[k]
			if age := now.Sub(c.at); age > set.window {
				l.broken(k, c, fmt.Sprintf(" within %s (open for %s)", Human(set.window), Span(c.at, now)))
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(l.dead)) {
		d := l.dead[id]
		l.add(KindDeadLetter, "", fmt.Sprintf("handler %s gave up on seq %d; no handler_redelivered names dead letter %s in its causation_id (redeliver: POST /v1/subscriptions/%s/redeliver?seq=%d)",
			d.handler, d.failed, id, d.handler, d.seq), d.seq)
	}
	m := l.eng.Machines()
	for _, k := range m.PipelineKeys() {
		p := m.Pipeline(k)
		limit, ok := flows.StuckLimits[p.State] // the API's: replay and the API agree on stuck
		if !ok || p.EnteredAt.IsZero() {
			continue
		}
		if age := now.Sub(p.EnteredAt); age > limit {
			x := m.Explain(k)
			wait := strings.Join(x.Accepts, ", ")
			if len(x.Paused) > 0 {
				wait += "; paused: " + strings.Join(x.Paused, ", ")
			}
			var seqs []uint64
			if s, ok := l.entered[k]; ok {
				seqs = []uint64{s}
			}
			l.add(KindStuck, k, fmt.Sprintf("%s has been %s for %s (limit %s); waiting for %s", k, p.State, Span(p.EnteredAt, now), Human(limit), wait), seqs...)
		}
	}
}

func (l *lost) subscriptions(cs []journal.Cursor) {
	l.summary[KindLaggingSubscription] = 0
	now := l.now()
	lastSeq := l.lastSeq
	for _, c := range cs {
		if c.Cursor >= lastSeq {
			continue
		}
		lag := lastSeq - c.Cursor
		t := l.wantTime[c.Cursor+1]
		switch {
		case !t.IsZero() && now.Sub(t) > l.o.StuckAfter:
			l.add(KindLaggingSubscription, "", fmt.Sprintf("subscription %s is stuck on seq %d for %s (%d events behind)", c.Name, c.Cursor+1, Span(t, now), lag), c.Cursor+1)
		case lag > l.o.LagLimit:
			l.add(KindLaggingSubscription, "", fmt.Sprintf("subscription %s lags %d events behind (cursor %d)", c.Name, lag, c.Cursor), c.Cursor+1)
		}
	}
}

func (l *lost) consumers(cs []Consumer) {
	l.summary[KindUnconsumedType], l.summary[KindUnseenType] = 0, 0
	consumed := map[string][]string{}
	all := false
	for _, c := range cs {
		if len(c.Types) == 0 {
			all = true
		}
		for _, t := range c.Types {
			consumed[t] = append(consumed[t], c.Name)
		}
	}
	if !all {
		for _, t := range slices.Sorted(maps.Keys(l.types)) {
			if _, ok := consumed[t]; !ok {
				l.add(KindUnconsumedType, "", fmt.Sprintf("%s was journaled %d times but no subscription consumes it", t, l.counts[t]), l.types[t])
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(consumed)) {
		if _, ok := l.types[t]; !ok {
			l.add(KindUnseenType, "", fmt.Sprintf("%s is consumed by %s but never journaled", t, strings.Join(consumed[t], ", ")))
		}
	}
}

// concurrently reads the rejected log (first, emitting as it goes) while
// the pass over the events runs on the other core, its findings queued
// (bounded: past maxQueued the pass waits) and emitted after the log's, so
// that the output's order does not depend on timing.
func concurrently(ctx context.Context, pass func(context.Context) error, rejected func() error, l *lost, emit func(*Finding) error) error {
	const maxQueued = 100_000
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan Finding, maxQueued)
	l.emit = func(f *Finding) error {
		select {
		case ch <- *f:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- pass(ctx)
		close(ch)
	}()
	fail := func(err error) error {
		cancel()
		for range ch {
		}
		<-done
		return err
	}
	if err := rejected(); err != nil {
		return fail(err)
	}
	for f := range ch {
		if err := emit(&f); err != nil {
			return fail(err)
		}
	}
	return <-done
}

// rejectionFinding turns a rejected-log entry into a finding. Its message
// is appended by hand, not by fmt: lost writes one per entry of the log,
// which can hold a million.
func rejectionFinding(r *journal.Rejection, h head) Finding {
	typ, key := h.Type, h.key()
	if r.Code == "duplicate" {
		return Finding{Kind: KindDuplicate, Key: keyOf(key), Seqs: []uint64{r.DuplicateOf},
			Message: orUnknown(typ) + " dropped as a duplicate of seq " + strconv.FormatUint(r.DuplicateOf, 10) + ": " + oneLine(r.Message)}
	}
	msg := oneLine(r.Message)
	b := make([]byte, 0, 96+len(typ)+len(r.Code)+len(msg)+len(r.Hint))
	b = append(append(b, orUnknown(typ)...), " refused ("...)
	b = append(append(append(b, r.Code...), "): "...), msg...)
	if r.Code == event.CodeUnknownEventType && r.Hint != "" {
		b = append(append(b, "; "...), r.Hint...)
	}
	if r.Batch > 0 {
		b = strconv.AppendInt(append(b, " (atomic batch of "...), int64(r.Batch), 10)
		if r.Batch == 1 {
			b = append(b, " event: none landed)"...)
		} else {
			b = append(b, " events: none landed)"...)
		}
	}
	if r.Remote == fileLine {
		b = append(b, " [line "...)
	} else {
		b = append(b, " [rejected #"...)
	}
	b = strconv.AppendUint(b, r.Seq, 10)
	if !r.Time.IsZero() {
		b = r.Time.UTC().AppendFormat(append(b, " at "...), time.RFC3339)
	}
	return Finding{Kind: KindRefused, Key: keyOf(key), Seqs: []uint64{}, Message: string(append(b, ']'))}
}

func orUnknown(s string) string {
	if s == "" {
		return "an event"
	}
	return s
}

// oneLine folds the whitespace of s into single spaces and trims it
// (strings.Fields, joined by spaces). A message already on one line — all
// of them but a few, and replay lost reads a million — is returned as is.
func oneLine(s string) string {
	if isOneLine(s) {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// isOneLine reports whether oneLine would leave s unchanged: ASCII (other
// runes may be spaces to strings.Fields) with no space but single ones
// between words.
func isOneLine(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ' && s[i+1] == ' ':
			return false
		}
	}
	return true
}

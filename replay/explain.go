package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// Iteration is one ended iteration of a config's pipeline.
type Iteration struct {
	Iteration int    `json:"iteration"`
	Outcome   string `json:"outcome"`
	Gate      string `json:"gate,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Model     string `json:"model,omitempty"`
	Seq       uint64 `json:"seq"`
	Type      string `json:"type"`
	Time      Time   `json:"time"`
	// Started is when its training started (zero if not seen).
	Started Time `json:"started,omitzero"`
}

// Move is an event the current state accepts and where it leads.
type Move struct {
	Event string `json:"event"`
	To    string `json:"to"`
	// Blocked names the pause reasons that would refuse it now.
	Blocked []string `json:"blocked,omitempty"`
}

// Pause is an active pause reason and the event that set it.
type Pause struct {
	Reason string `json:"reason"`
	Scope  string `json:"scope"` // config or cluster
	SetBy  *Ref   `json:"set_by"`
	Since  Time   `json:"since,omitzero"`
}

// Story is `replay explain CONFIG`.
type Story struct {
	Config    string          `json:"config"`
	State     string          `json:"state"`
	Since     *Time           `json:"since"`
	ForSec    float64         `json:"for_seconds"`
	Limit     string          `json:"limit,omitempty"`
	Stuck     bool            `json:"stuck"`
	Iteration int             `json:"iteration"`
	Model     string          `json:"model,omitempty"`
	Champion  string          `json:"champion,omitempty"`
	Waiting   []Move          `json:"waiting_for"`
	Pauses    []Pause         `json:"pauses"`
	History   []Iteration     `json:"iterations"`
	Recent    []Entry         `json:"recent"`
	Events    int             `json:"events"`
	Pipeline  json.RawMessage `json:"pipeline"`
	Now       Time            `json:"now"`
}

// maxRecent is how many of the last transitions a story shows.
const maxRecent = 12

// pauseSetters says which event types set a pause reason.
var pauseSetters = map[string]string{
	"training_blocked_by_quality": flows.PauseQuality,
	"regression_severe":           flows.PauseRegression,
	"regression_critical":         flows.PauseRegression,
	"regression_moderate":         flows.PausePromotionHold,
}

// Explain tells a config's story from the whole source. now zero means the
// last event's time.
func Explain(ctx context.Context, src Source, config string, now time.Time, o FoldOptions) (*Story, error) {
	if k, ok := event.WellFormedConfigKey(config); ok { // any board: the journal was validated against the daemon's
		config = k
	}
	x := newExplainer(config, o)
	last, err := foldAll(ctx, src, o.Progress, x.fold)
	if err != nil {
		return nil, err
	}
	return x.story(firstTime(now, last))
}

// foldAll calls fold with every event of src in order, telling progress;
// it returns the last event's time.
func foldAll(ctx context.Context, src Source, progress Progress, fold func(*event.Event)) (last time.Time, err error) {
	total := lastOf(src)
	var n uint64
	err = src.Scan(ctx, 1, Filter{}, func(e *event.Event) error {
		if n++; progress != nil && n&16383 == 0 {
			progress(n, total)
		}
		last = e.Time
		fold(e)
		return nil
	})
	return last, err
}

// firstTime is t, or else (zero) the default.
func firstTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// explainer is the state of one Explain: the engine it folds, the story
// so far, and the events that set each pause.
type explainer struct {
	config string
	eng    *engine.Engine
	m      *flows.Machines
	st     *Story
	// setters are the last event that set each pause, by "scope/reason"
	// (backpressure by "config/…" or "cluster/…" like the others).
	setters map[string]setter
	started time.Time // the current iteration's training_started
}

type setter struct {
	ref Ref
	at  time.Time
}

func newExplainer(config string, o FoldOptions) *explainer {
	eng := o.engine()
	return &explainer{config: config, eng: eng, m: eng.Machines(), setters: map[string]setter{},
		st: &Story{Config: config, Waiting: []Move{}, Pauses: []Pause{}, History: []Iteration{}, Recent: []Entry{}}}
}

// fold folds one event; the config's own events add to its story.
func (x *explainer) fold(e *event.Event) {
	mine := e.ConfigKey == x.config
	if mine || e.ConfigKey == "" {
		scope := "config"
		if !mine {
			scope = "cluster"
		}
		if r, ok := pauseSetters[e.Type]; ok {
			x.setters[scope+"/"+r] = setter{Ref{Seq: e.Seq, Type: e.Type}, e.Time}
		}
		if e.Type == "backpressure_activated" {
			x.setters[scope+"/"+flows.PauseBackpressure] = setter{Ref{Seq: e.Seq, Type: e.Type}, e.Time}
		}
	}
	if !mine {
		x.eng.Fold(e)
		return
	}
	x.st.Events++
	before, outcome := flows.Collecting, (*flows.Outcome)(nil)
	if p := x.m.Pipeline(x.config); p != nil {
		before, outcome = p.State, p.LastOutcome
	}
	x.eng.Fold(e)
	p := x.m.Pipeline(x.config)
	if p == nil {
		return
	}
	if e.Type == "training_started" && p.State == flows.Training {
		x.started = e.Time
	}
	if p.LastOutcome != nil && p.LastOutcome != outcome {
		o := p.LastOutcome
		reason, _ := e.Str("reason")
		x.st.History = append(x.st.History, Iteration{Iteration: o.Iteration, Outcome: o.Outcome, Gate: o.Gate, Reason: reason,
			Model: o.Model, Seq: e.Seq, Type: e.Type, Time: Time{Time: e.Time}, Started: Time{Time: x.started}})
		x.started = time.Time{}
	}
	if p.State != before {
		x.st.Recent = append(x.st.Recent, Entry{Seq: e.Seq, Time: Time{Time: e.Time}, Type: e.Type, Source: e.Source,
			Transition: &Transition{Machine: "pipeline", From: before, To: p.State}})
		if len(x.st.Recent) > maxRecent {
			x.st.Recent = append(x.st.Recent[:0], x.st.Recent[1:]...)
		}
	}
}

// story finishes the story at now: the state and for how long, what would
// move it, the pauses and what set them.
func (x *explainer) story(now time.Time) (*Story, error) {
	st := x.st
	st.Now = Time{Time: now}
	p := x.m.Pipeline(x.config)
	if p == nil {
		return nil, fmt.Errorf("config %q has no event and is not canonical", x.config)
	}
	st.State, st.Iteration, st.Model, st.Champion = p.State, p.Iteration, p.Model, p.Champion()
	if !p.EnteredAt.IsZero() {
		t := p.EnteredAt
		st.Since = &Time{Time: t}
		st.ForSec = Seconds(t, now)
		if limit, ok := flows.StuckLimits[p.State]; ok {
			st.Limit = Human(limit)
			st.Stuck = now.Sub(t) > limit // Sub saturates: right for any span
		}
	}
	ex := x.m.Explain(x.config)
	for _, ev := range ex.Accepts {
		mv := Move{Event: ev, To: nextState(p.State, ev)}
		switch ev {
		case "training_threshold", "training_started":
			mv.Blocked = ex.TrainingPaused
		case "promotion_started", "model_promoted":
			mv.Blocked = ex.PromotionPaused
		}
		st.Waiting = append(st.Waiting, mv)
	}
	for _, r := range ex.Paused {
		st.Pauses = append(st.Pauses, x.pauses(p, r)...)
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(x.eng.JSON(engine.Pipelines), &all) == nil {
		st.Pipeline = all[x.config]
	}
	return st, nil
}

// pauses are the scopes that pause the config for reason r, each with the
// event that set it: the config's own, else the cluster-wide one. Both
// scopes of backpressure may block at once (the health projection knows
// which do): each is listed.
func (x *explainer) pauses(p *flows.Pipeline, r string) []Pause {
	with := func(scope string) Pause {
		pz := Pause{Reason: r, Scope: scope}
		if s, ok := x.setters[scope+"/"+r]; ok {
			ref := s.ref
			pz.SetBy, pz.Since = &ref, Time{Time: s.at}
		}
		return pz
	}
	if r == flows.PauseBackpressure {
		h := x.eng.Health()
		var out []Pause
		if h.Blocks(x.config) {
			out = append(out, with("config"))
		}
		if h.Blocks("") || len(out) == 0 {
			out = append(out, with("cluster"))
		}
		return out
	}
	if _, ok := x.setters["config/"+r]; ok && p.Paused[r] {
		return []Pause{with("config")}
	}
	if _, ok := x.setters["cluster/"+r]; ok {
		return []Pause{with("cluster")}
	}
	return []Pause{{Reason: r, Scope: "config"}}
}

func lastOf(src Source) uint64 {
	if ls, ok := src.(LastSource); ok {
		return ls.Last()
	}
	return 0
}

// nextState is where event ev leads from state in the pipeline machine
// (a conditional event lists its destinations).
func nextState(state, ev string) string {
	var tos []string
	for _, t := range flows.PipelineDefinition().Transitions {
		base, _, _ := strings.Cut(t.Event, "/")
		if base == ev && slices.Contains(t.From, state) && !slices.Contains(tos, t.To) {
			tos = append(tos, t.To)
		}
	}
	return strings.Join(tos, " or ")
}

// WriteText tells the story in plain words.
func (st *Story) WriteText(w io.Writer, s Style) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is %s", s.Bold(st.Config), s.Bold(st.State))
	if st.Since != nil {
		fmt.Fprintf(&b, " since %s (%s", st.Since.UTC().Format("2006-01-02 15:04:05"), Span(st.Since.Time, st.Now.Time))
		if st.Limit != "" {
			fmt.Fprintf(&b, "; limit %s", st.Limit)
		}
		b.WriteString(")")
	}
	b.WriteString(", iteration " + fmt.Sprint(st.Iteration))
	if st.Stuck {
		b.WriteString(" — " + s.Red("STUCK"))
	}
	b.WriteString(".\n")
	if st.Model != "" {
		fmt.Fprintf(&b, "  model:    %s\n", st.Model)
	}
	if st.Champion != "" {
		fmt.Fprintf(&b, "  champion: %s\n", st.Champion)
	}
	if len(st.Pauses) > 0 {
		b.WriteString("\nPaused:\n")
		for _, pz := range st.Pauses {
			fmt.Fprintf(&b, "  %s (%s)", s.Yellow(pz.Reason), pz.Scope)
			if pz.SetBy != nil {
				fmt.Fprintf(&b, ": set by #%d %s, %s", pz.SetBy.Seq, pz.SetBy.Type, s.Ago(pz.Since.Time))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\nWaiting for:\n")
	if len(st.Waiting) == 0 {
		b.WriteString("  nothing: no event moves it\n")
	}
	t := &table{}
	for _, mv := range st.Waiting {
		blocked := ""
		if len(mv.Blocked) > 0 {
			blocked = "blocked by " + strings.Join(mv.Blocked, ", ")
		}
		to := mv.To
		if to == st.State {
			to += " (stays)"
		}
		t.painted([]func(string) string{nil, nil, nil, s.Red}, "  "+mv.Event, "→", to, blocked)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := t.write(w); err != nil {
		return err
	}
	b.Reset()
	fmt.Fprintf(&b, "\nIterations (%d ended):\n", len(st.History))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	t = &table{}
	from := max(0, len(st.History)-20)
	if from > 0 {
		t.row("  …", fmt.Sprintf("%d earlier", from))
	}
	for _, it := range st.History[from:] {
		why := it.Gate
		switch {
		case it.Reason != "" && strings.HasPrefix(it.Reason, it.Gate):
			why = it.Reason
		case it.Reason != "" && why != "":
			why += ": " + it.Reason
		case it.Reason != "":
			why = it.Reason
		}
		paint := s.Green
		if it.Outcome != flows.OutcomePromoted {
			paint = s.Red
		}
		t.painted([]func(string) string{nil, paint}, fmt.Sprintf("  #%d", it.Iteration), it.Outcome, fmt.Sprintf("seq %d", it.Seq), s.Ago(it.Time.Time), it.Model, why)
	}
	if err := t.write(w); err != nil {
		return err
	}
	if len(st.Recent) > 0 {
		if _, err := io.WriteString(w, "\nLast transitions:\n"); err != nil {
			return err
		}
		t = &table{}
		for _, en := range st.Recent {
			t.row(fmt.Sprintf("  %d", en.Seq), s.Ago(en.Time.Time), en.Type, en.Transition.From+" → "+en.Transition.To, dash(en.Source))
		}
		return t.write(w)
	}
	return nil
}

// At is the time the story is told as of.
func (st *Story) At() time.Time { return st.Now.Time }

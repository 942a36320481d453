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
	Iteration int       `json:"iteration"`
	Outcome   string    `json:"outcome"`
	Gate      string    `json:"gate,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Model     string    `json:"model,omitempty"`
	Seq       uint64    `json:"seq"`
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	// Started is when its training started (zero if not seen).
	Started time.Time `json:"started,omitzero"`
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
	Reason string    `json:"reason"`
	Scope  string    `json:"scope"` // config or cluster
	SetBy  *Ref      `json:"set_by"`
	Since  time.Time `json:"since,omitzero"`
}

// Story is `replay explain CONFIG`.
type Story struct {
	Config    string          `json:"config"`
	State     string          `json:"state"`
	Since     *time.Time      `json:"since"`
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
	Now       time.Time       `json:"now"`
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
func Explain(ctx context.Context, src Source, config string, now time.Time, progress Progress) (*Story, error) {
	if k, ok := event.WellFormedConfigKey(config); ok { // any board: the journal was validated against the daemon's
		config = k
	}
	eng := engine.New(engine.Options{})
	m := eng.Machines()
	st := &Story{Config: config, Waiting: []Move{}, Pauses: []Pause{}, History: []Iteration{}, Recent: []Entry{}}
	setters := map[string]Ref{} // scope/reason → event
	setAt := map[string]time.Time{}
	var backpressure Ref
	var backpressureAt time.Time
	var started time.Time
	var last time.Time
	var n uint64
	total := lastOf(src)
	err := src.Scan(ctx, 1, Filter{}, func(e *event.Event) error {
		if n++; progress != nil && n&16383 == 0 {
			progress(n, total)
		}
		last = e.Time
		mine := e.ConfigKey == config
		if r, ok := pauseSetters[e.Type]; ok && (mine || e.ConfigKey == "") {
			scope := "config"
			if !mine {
				scope = "cluster"
			}
			setters[scope+"/"+r] = Ref{Seq: e.Seq, Type: e.Type}
			setAt[scope+"/"+r] = e.Time
		}
		if e.Type == "backpressure_activated" && (mine || e.ConfigKey == "") {
			backpressure, backpressureAt = Ref{Seq: e.Seq, Type: e.Type}, e.Time
		}
		if !mine {
			eng.Fold(e)
			return nil
		}
		st.Events++
		p := m.Pipeline(config)
		before, outcome := "collecting", (*flows.Outcome)(nil)
		if p != nil {
			before, outcome = p.State, p.LastOutcome
		}
		eng.Fold(e)
		p = m.Pipeline(config)
		if p == nil {
			return nil
		}
		if e.Type == "training_started" && p.State == flows.Training {
			started = e.Time
		}
		if p.LastOutcome != nil && p.LastOutcome != outcome {
			o := p.LastOutcome
			reason, _ := e.Str("reason")
			st.History = append(st.History, Iteration{Iteration: o.Iteration, Outcome: o.Outcome, Gate: o.Gate, Reason: reason,
				Model: o.Model, Seq: e.Seq, Type: e.Type, Time: e.Time, Started: started})
			started = time.Time{}
		}
		if p.State != before {
			st.Recent = append(st.Recent, Entry{Seq: e.Seq, Time: e.Time, Type: e.Type, Source: e.Source,
				Transition: &Transition{Machine: "pipeline", From: before, To: p.State}})
			if len(st.Recent) > maxRecent {
				st.Recent = append(st.Recent[:0], st.Recent[1:]...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = last
	}
	st.Now = now
	p := m.Pipeline(config)
	if p == nil {
		return nil, fmt.Errorf("config %q has no event and is not canonical", config)
	}
	st.State, st.Iteration, st.Model, st.Champion = p.State, p.Iteration, p.Model, p.Champion()
	if !p.EnteredAt.IsZero() {
		t := p.EnteredAt
		st.Since = &t
		st.ForSec = now.Sub(t).Seconds()
		if limit, ok := StuckLimits[p.State]; ok {
			st.Limit = Human(limit)
			st.Stuck = now.Sub(t) > limit
		}
	}
	x := m.Explain(config)
	for _, ev := range x.Accepts {
		mv := Move{Event: ev, To: nextState(p.State, ev)}
		switch ev {
		case "training_threshold", "training_started":
			mv.Blocked = x.TrainingPaused
		case "promotion_started", "model_promoted":
			mv.Blocked = x.PromotionPaused
		}
		st.Waiting = append(st.Waiting, mv)
	}
	for _, r := range x.Paused {
		pz := Pause{Reason: r, Scope: "config"}
		if r == flows.PauseBackpressure {
			if backpressure.Seq != 0 {
				b := backpressure
				pz.SetBy, pz.Since = &b, backpressureAt
			}
		} else if ref, ok := setters["config/"+r]; ok && p.Paused[r] {
			pz.SetBy, pz.Since = &ref, setAt["config/"+r]
		} else if ref, ok := setters["cluster/"+r]; ok {
			pz.Scope, pz.SetBy, pz.Since = "cluster", &ref, setAt["cluster/"+r]
		}
		st.Pauses = append(st.Pauses, pz)
	}
	if js, ok := eng.ProjectionJSON("pipelines"); ok {
		var all map[string]json.RawMessage
		if json.Unmarshal(js, &all) == nil {
			st.Pipeline = all[config]
		}
	}
	return st, nil
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
		fmt.Fprintf(&b, " since %s (%s", st.Since.UTC().Format("2006-01-02 15:04:05"), Human(time.Duration(st.ForSec*float64(time.Second))))
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
				fmt.Fprintf(&b, ": set by #%d %s, %s", pz.SetBy.Seq, pz.SetBy.Type, s.Ago(pz.Since))
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
		t.painted([]func(string) string{nil, paint}, fmt.Sprintf("  #%d", it.Iteration), it.Outcome, fmt.Sprintf("seq %d", it.Seq), s.Ago(it.Time), it.Model, why)
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
			t.row(fmt.Sprintf("  %d", en.Seq), s.Ago(en.Time), en.Type, en.Transition.From+" → "+en.Transition.To, dash(en.Source))
		}
		return t.write(w)
	}
	return nil
}

package replay

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// Recovery is one recovery attempt of a node and how it ended.
type Recovery struct {
	Seq     uint64 `json:"seq"`
	Time    Time   `json:"time"`
	Attempt int    `json:"attempt"`
	Action  string `json:"action,omitempty"`
	Source  string `json:"source,omitempty"`
	// Outcome is the event that ended it (nil while it runs).
	Outcome   *Ref `json:"outcome"`
	OutcomeAt Time `json:"outcome_at,omitzero"`
}

// NodeStory is `replay node NODE`.
type NodeStory struct {
	Node       string   `json:"node"`
	State      string   `json:"state"`
	Since      *Time    `json:"since"`
	Failures   int      `json:"failures"`
	Attempts   int      `json:"attempts"`
	LastAction string   `json:"last_action,omitempty"`
	Accepts    []string `json:"accepts"`
	// History is the node's state changes (the last maxHistory), Changes
	// how many there were.
	History     []Entry    `json:"history"`
	Changes     int        `json:"changes"`
	Recoveries  []Recovery `json:"recoveries"`
	Escalations []Entry    `json:"escalations"`
	Events      int        `json:"events"`
	Now         Time       `json:"now"`
}

const maxHistory = 50

// ExplainNode tells a node's story: health history, recovery attempts and
// escalations (entering escalated, health_alert, and the decisions about
// the node).
func ExplainNode(ctx context.Context, src Source, node string, now time.Time, o FoldOptions) (*NodeStory, error) {
	x := newNodeExplainer(node, o)
	last, err := foldAll(ctx, src, o.Progress, x.fold)
	if err != nil {
		return nil, err
	}
	return x.story(firstTime(now, last))
}

// nodeExplainer is the state of one ExplainNode: the engine it folds and
// the node's story so far.
type nodeExplainer struct {
	node  string
	eng   *engine.Engine
	m     *flows.Machines
	st    *NodeStory
	since time.Time // the last state change
}

func newNodeExplainer(node string, o FoldOptions) *nodeExplainer {
	eng := o.engine()
	return &nodeExplainer{node: node, eng: eng, m: eng.Machines(),
		st: &NodeStory{Node: node, History: []Entry{}, Recoveries: []Recovery{}, Escalations: []Entry{}, Accepts: []string{}}}
}

// state is the node's state, unknown before its first event.
func (x *nodeExplainer) state() string {
	if nd := x.m.Node(x.node); nd != nil {
		return nd.State
	}
	return flows.Unknown
}

// keep appends to a list that keeps its last maxHistory entries.
func keep[T any](list []T, v T) []T {
	list = append(list, v)
	if len(list) > maxHistory {
		list = append(list[:0], list[1:]...)
	}
	return list
}

// fold folds one event; the node's own events add to its story.
func (x *nodeExplainer) fold(e *event.Event) {
	if e.NodeID != x.node {
		x.eng.Fold(e)
		return
	}
	st := x.st
	st.Events++
	before := x.state()
	x.eng.Fold(e)
	after := x.state()
	en := Entry{Seq: e.Seq, Time: Time{Time: e.Time}, Type: e.Type, Source: e.Source}
	if after != before {
		en.Transition = &Transition{Machine: "recovery", From: before, To: after}
		x.since = e.Time
		st.Changes++
		st.History = keep(st.History, en)
	}
	decision := strings.HasPrefix(e.Source, event.DecisionSourcePrefix)
	if after == flows.Escalated && before != flows.Escalated || e.Type == "health_alert" || decision && e.Type != "recovery_initiated" {
		st.Escalations = keep(st.Escalations, en)
	}
	x.recovery(e, before, after)
}

// recovery follows the recovery attempts: recovery_initiated starts one
// (ending the one before, if it still ran), leaving recovering ends it.
func (x *nodeExplainer) recovery(e *event.Event, before, after string) {
	rs := x.st.Recoveries
	open := len(rs) > 0 && rs[len(rs)-1].Outcome == nil
	starts := e.Type == "recovery_initiated" && after == flows.Recovering
	if open && (starts || e.Type != "recovery_initiated" && before == flows.Recovering && after != flows.Recovering) {
		rs[len(rs)-1].Outcome = &Ref{Seq: e.Seq, Type: e.Type}
		rs[len(rs)-1].OutcomeAt = Time{Time: e.Time}
	}
	if !starts {
		return
	}
	r := Recovery{Seq: e.Seq, Time: Time{Time: e.Time}, Source: e.Source}
	if nd := x.m.Node(x.node); nd != nil {
		r.Attempt, r.Action = nd.Attempts, nd.LastAction
	}
	if a, ok := e.Str("action"); ok {
		r.Action = a
	}
	x.st.Recoveries = keep(rs, r)
}

// story finishes the story at now.
func (x *nodeExplainer) story(now time.Time) (*NodeStory, error) {
	st := x.st
	st.Now = Time{Time: now}
	nd := x.m.Node(x.node)
	if nd == nil {
		return nil, fmt.Errorf("node %q is named by no event", x.node)
	}
	st.State, st.Failures, st.Attempts, st.LastAction = nd.State, nd.Failures, nd.Attempts, nd.LastAction
	if !x.since.IsZero() {
		st.Since = &Time{Time: x.since}
	}
	st.Accepts = x.m.ExplainNode(x.node).Accepts
	return st, nil
}

// WriteText tells the node's story in plain words.
func (st *NodeStory) WriteText(w io.Writer, s Style) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is %s", s.Bold(st.Node), s.Bold(st.State))
	if st.Since != nil {
		fmt.Fprintf(&b, " since %s (%s)", st.Since.UTC().Format("2006-01-02 15:04:05"), Span(st.Since.Time, st.Now.Time))
	}
	fmt.Fprintf(&b, ": %d consecutive failed checks, %d recovery attempts", st.Failures, st.Attempts)
	if st.LastAction != "" {
		fmt.Fprintf(&b, ", last action %s", st.LastAction)
	}
	fmt.Fprintf(&b, ".\n  accepts: %s\n", strings.Join(st.Accepts, ", "))
	fmt.Fprintf(&b, "\nHealth history (%d changes", st.Changes)
	if st.Changes > len(st.History) {
		fmt.Fprintf(&b, ", the last %d", len(st.History))
	}
	b.WriteString("):\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	t := &table{}
	for _, en := range st.History {
		paint := s.Green
		if en.Transition.To != flows.Healthy {
			paint = s.Yellow
		}
		t.painted([]func(string) string{nil, nil, nil, paint}, fmt.Sprintf("  %d", en.Seq), s.Ago(en.Time.Time), en.Type, en.Transition.From+" → "+en.Transition.To, dash(en.Source))
	}
	if err := t.write(w); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "\nRecovery attempts (%d):\n", len(st.Recoveries)); err != nil {
		return err
	}
	t = &table{}
	for _, r := range st.Recoveries {
		out := s.Yellow("still running")
		if r.Outcome != nil {
			out = fmt.Sprintf("ended by #%d %s after %s", r.Outcome.Seq, r.Outcome.Type, Span(r.Time.Time, r.OutcomeAt.Time))
		}
		t.row(fmt.Sprintf("  %d", r.Seq), s.Ago(r.Time.Time), fmt.Sprintf("attempt %d", r.Attempt), dash(r.Action), out)
	}
	if err := t.write(w); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "\nEscalations and decisions (%d):\n", len(st.Escalations)); err != nil {
		return err
	}
	t = &table{}
	for _, en := range st.Escalations {
		what := ""
		if en.Transition != nil {
			what = en.Transition.From + " → " + en.Transition.To
		}
		t.painted([]func(string) string{nil, nil, s.Red}, fmt.Sprintf("  %d", en.Seq), s.Ago(en.Time.Time), en.Type, dash(what), dash(en.Source))
	}
	return t.write(w)
}

// At is the time the story is told as of.
func (st *NodeStory) At() time.Time { return st.Now.Time }

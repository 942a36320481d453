package replay

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
)

// Transition is the state change an event caused in its machine.
type Transition struct {
	Machine string `json:"machine"` // pipeline or recovery
	From    string `json:"from"`
	To      string `json:"to"`
}

// Ref names an event by seq and type.
type Ref struct {
	Seq  uint64 `json:"seq"`
	Type string `json:"type"`
}

// Refusal is why an input was refused (from the rejected log), or why a
// journaled event was a lenient-mode violation.
type Refusal struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// RSeq is the rejected-log entry; 0 for a journaled violation and for
	// a line of a file or stream that was left out (Line).
	RSeq uint64 `json:"rseq,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Entry is one line of the timeline: a journaled event and its effect, or a
// refused input (Seq 0) with why.
type Entry struct {
	Seq        uint64      `json:"seq"`
	Time       Time        `json:"time,omitzero"` // none for a line of a file that was not read
	Type       string      `json:"type"`
	Key        string      `json:"key,omitempty"`
	Source     string      `json:"source,omitempty"`
	Transition *Transition `json:"transition,omitempty"`
	// Decisions are the decisions this event caused, in journal order.
	Decisions []Ref `json:"decisions,omitempty"`
	// DecisionOf is the seq of the cause of a decision.
	DecisionOf uint64   `json:"decision_of,omitempty"`
	Violation  *Refusal `json:"violation,omitempty"`
	Refused    *Refusal `json:"refused,omitempty"`

	id string
}

// TimelineOptions choose what the timeline shows.
type TimelineOptions struct {
	Filter Filter
	// Refused merges the rejected log (when the source has one) into the
	// timeline, by the time each input reached ringriftd.
	Refused  bool
	Progress Progress
	// Thresholds are the daemon's (FoldOptions).
	Thresholds flows.Thresholds
}

// Timeline calls emit with each matching entry in journal order. Every event
// is folded (so effects are right whatever the filter); only matching ones
// are emitted. With Refused, a line of a file or stream source that does
// not decode is a refused entry in its place, and a journal's refused
// inputs are merged by the time each reached ringriftd. A failure to read the rejected
// log ends the timeline with its error.
func Timeline(ctx context.Context, src Source, o TimelineOptions, emit func(*Entry) error) error {
	tl := newTimeline(o, emit)
	if ss, ok := src.(skipSource); ok {
		if o.Refused { // its Rejected is known only after the scan
			ss.onSkip(tl.skipped)
			defer ss.onSkip(nil)
		}
	} else if rs, ok := src.(RejectedSource); ok && o.Refused {
		stop := tl.pullRejected(rs)
		defer stop()
	}
	total := lastOf(src)
	err := src.Scan(ctx, 1, Filter{}, func(e *event.Event) error {
		if tl.n++; o.Progress != nil && tl.n&16383 == 0 {
			o.Progress(tl.n, total)
		}
		return tl.fold(e)
	})
	if err != nil {
		return err
	}
	if err := tl.flush(time.Time{}); err != nil {
		return err
	}
	if o.Progress != nil {
		o.Progress(tl.n, tl.n)
	}
	return nil
}

// timeline is the state of one Timeline: the engine it folds, the entries
// of the last input and its decisions (emitted once the next input comes,
// with the decisions they caused), and the rejected log being merged.
type timeline struct {
	o       TimelineOptions
	emit    func(*Entry) error
	eng     *engine.Engine
	m       *flows.Machines
	pending []*Entry
	byID    map[string]*Entry
	n       uint64
	// nextRej pulls the next rejected-log entry (nil: none are merged);
	// rej is the one not emitted yet, rejErr how reading the log ended.
	nextRej func() (*journal.Rejection, bool)
	rej     *journal.Rejection
	rejErr  error
}

func newTimeline(o TimelineOptions, emit func(*Entry) error) *timeline {
	eng := FoldOptions{Thresholds: o.Thresholds}.engine()
	return &timeline{o: o, emit: emit, eng: eng, m: eng.Machines(), byID: map[string]*Entry{}}
}

// pullRejected starts reading the rejected log, one entry at a time; stop
// ends the reading.
func (tl *timeline) pullRejected(rs RejectedSource) (stop func()) {
	tl.nextRej, stop = iter.Pull(func(yield func(*journal.Rejection) bool) {
		tl.rejErr = rs.Rejected(func(r *journal.Rejection) error {
			c := *r
			if !yield(&c) {
				return journal.ErrStop
			}
			return nil
		})
	})
	tl.pull()
	return stop
}

func (tl *timeline) pull() { tl.rej, _ = tl.nextRej() }

// flush emits the pending entries, then the refused inputs that reached
// ringriftd by upTo (all that are left for a zero upTo). It fails once
// the rejected log failed.
func (tl *timeline) flush(upTo time.Time) error {
	for _, en := range tl.pending {
		if err := tl.emit(en); err != nil {
			return err
		}
	}
	tl.pending = tl.pending[:0]
	clear(tl.byID)
	if tl.nextRej == nil {
		return nil
	}
	for tl.rej != nil && (upTo.IsZero() || !tl.rej.Time.After(upTo)) {
		if err := tl.refused(tl.rej); err != nil {
			return err
		}
		tl.pull()
	}
	if tl.rej == nil && tl.rejErr != nil {
		return fmt.Errorf("replay: reading the rejected log: %w", tl.rejErr)
	}
	return nil
}

// refused emits a refused input, when it matches the filter.
func (tl *timeline) refused(r *journal.Rejection) error {
	if en, ev := refusedEntry(r); matchRefused(&tl.o.Filter, ev) {
		return tl.emit(en)
	}
	return nil
}

// skipped is told of a line of a file or stream that was not read: it is
// emitted in its place, after the entries before it.
func (tl *timeline) skipped(r *journal.Rejection) error {
	if err := tl.flush(time.Time{}); err != nil {
		return err
	}
	return tl.refused(r)
}

// fold folds one event and queues its entry: a decision joins its cause's
// entry; any other event first flushes what came before it.
func (tl *timeline) fold(e *event.Event) error {
	cause, isDecision := tl.byID[e.CausationID]
	isDecision = isDecision && strings.HasPrefix(e.Source, event.DecisionSourcePrefix)
	if !isDecision {
		if err := tl.flush(e.RecordedAt); err != nil {
			return err
		}
	}
	en := &Entry{Seq: e.Seq, Time: Time{Time: e.Time}, Type: e.Type, Key: firstOf(e.ConfigKey, e.NodeID), Source: e.Source, id: e.ID.String()}
	if isDecision {
		en.DecisionOf = cause.Seq
		cause.Decisions = append(cause.Decisions, Ref{Seq: e.Seq, Type: e.Type})
	}
	if ref := tl.eng.Check(e); ref != nil {
		en.Violation = &Refusal{Code: string(ref.Code), Message: ref.Message}
	}
	machine, before := tl.state(e)
	tl.eng.Fold(e)
	if _, after := tl.state(e); machine != "" && after != "" && after != before {
		en.Transition = &Transition{Machine: machine, From: before, To: after}
	}
	tl.byID[en.id] = en
	if tl.o.Filter.Match(e) {
		tl.pending = append(tl.pending, en)
	}
	return nil
}

// state is the machine e belongs to (pipeline by config, recovery by node,
// "" for neither) and its key's state there ("" when the key has none
// yet, before e as after it: the caller supplies the initial state).
func (tl *timeline) state(e *event.Event) (machine, state string) {
	switch {
	case e.ConfigKey != "":
		if p := tl.m.Pipeline(e.ConfigKey); p != nil {
			return "pipeline", p.State
		}
		return "pipeline", flows.Collecting
	case e.NodeID != "":
		if nd := tl.m.Node(e.NodeID); nd != nil {
			return "recovery", nd.State
		}
		return "recovery", flows.Unknown
	}
	return "", ""
}

// matchRefused applies the filter to what is known of a refused input; a
// seq range never matches one (it has no seq).
func matchRefused(f *Filter, e *event.Event) bool {
	if f.FromSeq != 0 || f.ToSeq != 0 {
		return false
	}
	return f.Match(e)
}

func refusedEntry(r *journal.Rejection) (*Entry, *event.Event) {
	h := rawHead([]byte(r.Raw))
	en := &Entry{Time: Time{Time: r.Time}, Type: orUnknown(h.Type), Key: h.key(), Source: h.Source}
	ev := &event.Event{Type: h.Type, ConfigKey: h.ConfigKey, NodeID: h.NodeID, Time: r.Time}
	if r.Code == "duplicate" {
		en.Refused = &Refusal{Code: "duplicate", Message: fmt.Sprintf("duplicate of seq %d", r.DuplicateOf), RSeq: r.Seq}
		return en, ev
	}
	en.Refused = &Refusal{Code: string(r.Code), Message: oneLine(r.Message), Hint: r.Hint, RSeq: r.Seq}
	if r.Remote == fileLine {
		en.Refused.RSeq, en.Refused.Line = 0, r.Index
		en.Refused.Message = fmt.Sprintf("line %d not read: %s", r.Index, en.Refused.Message)
	}
	return en, ev
}

// TimelineText writes timeline entries as aligned columns. Lines are
// buffered a block at a time so that columns align within each block of
// 256 entries.
type TimelineText struct {
	W     io.Writer
	Style Style
	t     *table
	rows  int
}

// Add queues one entry.
func (tt *TimelineText) Add(en *Entry) error {
	if tt.t == nil {
		tt.t = &table{}
		tt.t.painted([]func(string) string{tt.Style.Bold, tt.Style.Bold, tt.Style.Bold, tt.Style.Bold, tt.Style.Bold, tt.Style.Bold, tt.Style.Bold},
			"SEQ", "TIME", "AGO", "TYPE", "KEY", "SOURCE", "EFFECT")
	}
	seq := "-"
	if en.Seq != 0 {
		seq = strconv.FormatUint(en.Seq, 10)
	}
	effect, paint := tt.effect(en)
	s := tt.Style
	tt.t.painted([]func(string) string{nil, s.Dim, s.Dim, nil, s.Cyan, s.Dim, paint},
		seq, clock(en.Time.Time), s.Ago(en.Time.Time), en.Type, dash(en.Key), dash(en.Source), effect)
	if tt.rows++; tt.rows%256 == 0 {
		return tt.Flush()
	}
	return nil
}

// Flush writes what is queued.
func (tt *TimelineText) Flush() error {
	if tt.t == nil {
		return nil
	}
	err := tt.t.write(tt.W)
	tt.t = &table{}
	return err
}

// clock is a time in the text tables; "-" for none (a line of a file that
// was not read).
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (tt *TimelineText) effect(en *Entry) (string, func(string) string) {
	s := tt.Style
	var parts []string
	paint := func(x string) string { return x }
	if en.Refused != nil {
		msg := "refused " + en.Refused.Code + ": " + en.Refused.Message
		if en.Refused.Code == "duplicate" {
			msg = "dropped: " + en.Refused.Message
		}
		if en.Refused.Code == string(event.CodeUnknownEventType) && en.Refused.Hint != "" {
			msg += "; " + en.Refused.Hint
		}
		return msg, s.Red
	}
	if en.Violation != nil {
		parts = append(parts, "violation "+en.Violation.Code+": "+en.Violation.Message)
		paint = s.Red
	}
	if en.Transition != nil {
		parts = append(parts, en.Transition.From+" → "+en.Transition.To)
		if en.Violation == nil {
			paint = s.Green
		}
	}
	if en.DecisionOf != 0 {
		parts = append(parts, fmt.Sprintf("decided on #%d", en.DecisionOf))
	}
	if len(en.Decisions) > 0 {
		ds := make([]string, len(en.Decisions))
		for i, d := range en.Decisions {
			ds[i] = fmt.Sprintf("#%d %s", d.Seq, d.Type)
		}
		parts = append(parts, "decided: "+strings.Join(ds, ", "))
	}
	return strings.Join(parts, "; "), paint
}

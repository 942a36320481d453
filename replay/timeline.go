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
	// RSeq is the rejected-log entry; 0 for a journaled violation.
	RSeq uint64 `json:"rseq,omitempty"`
}

// Entry is one line of the timeline: a journaled event and its effect, or a
// refused input (Seq 0) with why.
type Entry struct {
	Seq        uint64      `json:"seq"`
	Time       Time        `json:"time"`
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
}

// Timeline calls emit with each matching entry in journal order. Every event
// is folded (so effects are right whatever the filter); only matching ones
// are emitted.
func Timeline(ctx context.Context, src Source, o TimelineOptions, emit func(*Entry) error) error {
	eng := engine.New(engine.Options{})
	m := eng.Machines()
	var pending []*Entry
	byID := map[string]*Entry{}
	var total, n uint64
	if ls, ok := src.(LastSource); ok {
		total = ls.Last()
	}
	var nextRej func() (*journal.Rejection, bool)
	var rej *journal.Rejection
	if rs, ok := src.(RejectedSource); ok && o.Refused {
		var stop func()
		nextRej, stop = iter.Pull(func(yield func(*journal.Rejection) bool) {
			_ = rs.Rejected(func(r *journal.Rejection) error {
				c := *r
				if !yield(&c) {
					return journal.ErrStop
				}
				return nil
			})
		})
		defer stop()
		rej, _ = nextRej()
	}
	flush := func(upTo time.Time) error {
		for _, en := range pending {
			if err := emit(en); err != nil {
				return err
			}
		}
		pending = pending[:0]
		clear(byID)
		// refused inputs that reached ringriftd before the next event
		for rej != nil && (upTo.IsZero() || !rej.Time.After(upTo)) {
			if en, ev := refusedEntry(rej); matchRefused(&o.Filter, ev) {
				if err := emit(en); err != nil {
					return err
				}
			}
			rej, _ = nextRej()
		}
		return nil
	}
	if nextRej == nil {
		flush = func(time.Time) error {
			for _, en := range pending {
				if err := emit(en); err != nil {
					return err
				}
			}
			pending = pending[:0]
			clear(byID)
			return nil
		}
	}
	err := src.Scan(ctx, 1, Filter{}, func(e *event.Event) error {
		if n++; o.Progress != nil && n&16383 == 0 {
			o.Progress(n, total)
		}
		cause, isDecision := byID[e.CausationID]
		isDecision = isDecision && strings.HasPrefix(e.Source, event.DecisionSourcePrefix)
		if !isDecision {
			at := e.RecordedAt
			if err := flush(at); err != nil {
				return err
			}
		}
		en := &Entry{Seq: e.Seq, Time: Time{e.Time}, Type: e.Type, Key: firstOf(e.ConfigKey, e.NodeID), Source: e.Source, id: e.ID.String()}
		if isDecision {
			en.DecisionOf = cause.Seq
			cause.Decisions = append(cause.Decisions, Ref{Seq: e.Seq, Type: e.Type})
		}
		if ref := eng.Check(e); ref != nil {
			en.Violation = &Refusal{Code: string(ref.Code), Message: ref.Message}
		}
		var before string
		machine := ""
		switch {
		case e.ConfigKey != "":
			machine = "pipeline"
			if p := m.Pipeline(e.ConfigKey); p != nil {
				before = p.State
			} else {
				before = "collecting"
			}
		case e.NodeID != "":
			machine = "recovery"
			if nd := m.Node(e.NodeID); nd != nil {
				before = nd.State
			} else {
				before = "unknown"
			}
		}
		eng.Fold(e)
		var after string
		switch machine {
		case "pipeline":
			if p := m.Pipeline(e.ConfigKey); p != nil {
				after = p.State
			}
		case "recovery":
			if nd := m.Node(e.NodeID); nd != nil {
				after = nd.State
			}
		}
		if machine != "" && after != "" && after != before {
			en.Transition = &Transition{Machine: machine, From: before, To: after}
		}
		byID[en.id] = en
		if o.Filter.Match(e) {
			pending = append(pending, en)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(time.Time{}); err != nil {
		return err
	}
	if o.Progress != nil {
		o.Progress(n, n)
	}
	return nil
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
	en := &Entry{Time: Time{r.Time}, Type: orUnknown(h.Type), Key: h.key(), Source: h.Source}
	ev := &event.Event{Type: h.Type, ConfigKey: h.ConfigKey, NodeID: h.NodeID, Time: r.Time}
	if r.Code == "duplicate" {
		en.Refused = &Refusal{Code: "duplicate", Message: fmt.Sprintf("duplicate of seq %d", r.DuplicateOf), RSeq: r.Seq}
		return en, ev
	}
	en.Refused = &Refusal{Code: string(r.Code), Message: oneLine(r.Message), Hint: r.Hint, RSeq: r.Seq}
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
		seq, en.Time.UTC().Format("2006-01-02 15:04:05"), s.Ago(en.Time.Time), en.Type, dash(en.Key), dash(en.Source), effect)
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

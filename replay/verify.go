package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// DecisionView is a decision as verify shows it.
type DecisionView struct {
	Seq     uint64          `json:"seq,omitempty"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Key     string          `json:"key,omitempty"`
	Source  string          `json:"source"`
	Payload json.RawMessage `json:"payload"`
}

// Mismatch is a cause whose journaled decisions differ from today's.
type Mismatch struct {
	Cause    Ref            `json:"cause"`
	Key      string         `json:"key,omitempty"`
	Expected []DecisionView `json:"expected"`
	Found    []DecisionView `json:"found"`
}

// VerifyReport is `replay verify`.
type VerifyReport struct {
	Events     uint64     `json:"events"`
	Policies   string     `json:"policies"`
	Mismatches []Mismatch `json:"mismatches"`
}

// Verify re-runs today's policies (cfg) over the source and lists every
// cause whose journaled decisions differ (engine.Verifier).
func Verify(ctx context.Context, src Source, cfg flows.PolicyConfig, progress Progress) (*VerifyReport, error) {
	v := engine.NewVerifier(engine.Options{Policies: cfg})
	r := &VerifyReport{Policies: cfg.Enabled.String(), Mismatches: []Mismatch{}}
	total := lastOf(src)
	add := func(ds []engine.Difference) {
		for _, d := range ds {
			r.Mismatches = append(r.Mismatches, Mismatch{Cause: Ref{Seq: d.Cause.Seq, Type: d.Cause.Type},
				Key: firstOf(d.Cause.ConfigKey, d.Cause.NodeID), Expected: views(d.Expected), Found: views(d.Found)})
		}
	}
	err := src.Scan(ctx, 1, Filter{}, func(e *event.Event) error {
		r.Events++
		if progress != nil && r.Events&16383 == 0 {
			progress(r.Events, total)
		}
		add(v.Fold(e))
		return nil
	})
	if err != nil {
		return nil, err
	}
	add(v.Close())
	return r, nil
}

func views(es []event.Event) []DecisionView {
	out := make([]DecisionView, len(es))
	for i, e := range es {
		p := e.Payload
		if len(p) == 0 {
			p = json.RawMessage("{}")
		}
		out[i] = DecisionView{Seq: e.Seq, ID: e.ID.String(), Type: e.Type, Key: firstOf(e.ConfigKey, e.NodeID), Source: e.Source, Payload: p}
	}
	return out
}

// WriteText lists each mismatch with what today's policies decide and what
// the journal holds.
func (r *VerifyReport) WriteText(w io.Writer, s Style) error {
	show := func(ds []DecisionView) string {
		if len(ds) == 0 {
			return "nothing"
		}
		parts := make([]string, len(ds))
		for i, d := range ds {
			parts[i] = d.Type + " " + string(d.Payload)
			if d.Seq != 0 {
				parts[i] = fmt.Sprintf("#%d ", d.Seq) + parts[i]
			}
		}
		return strings.Join(parts, "; ")
	}
	for _, m := range r.Mismatches {
		if _, err := fmt.Fprintf(w, "%s #%d %s %s\n  today:   %s\n  journal: %s\n", s.Yellow("differs"), m.Cause.Seq, m.Cause.Type, dash(m.Key),
			show(m.Expected), show(m.Found)); err != nil {
			return err
		}
	}
	line := fmt.Sprintf("%d causes differ in %d events (policies: %s)", len(r.Mismatches), r.Events, r.Policies)
	if len(r.Mismatches) == 0 {
		line = s.Green(line)
	} else {
		line = s.Red(line)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

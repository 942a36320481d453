package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/projections"
)

// FoldOptions say how a command folds a source: with the daemon's
// thresholds, telling progress.
type FoldOptions struct {
	Progress Progress
	// Thresholds are the daemon's (its --thresholds file): they decide the
	// health projection's cluster status, and the policies' decisions of
	// verify. Zero means flows.DefaultThresholds.
	Thresholds flows.Thresholds
}

// engine is an engine that folds as the daemon does (no policy decides:
// the journal holds the decisions).
func (o FoldOptions) engine() *engine.Engine {
	return engine.New(engine.Options{Policies: flows.PolicyConfig{Thresholds: o.Thresholds}})
}

// At is the point a rebuild reflects: the last event folded.
type At struct {
	Seq    uint64 `json:"seq"`
	Time   *Time  `json:"time"`
	Events uint64 `json:"events"`
}

// Projections are all projections as of a point, as the API shows them.
type Projections struct {
	At         At              `json:"at"`
	Pipelines  json.RawMessage `json:"pipelines"`
	Elo        json.RawMessage `json:"elo"`
	Curriculum json.RawMessage `json:"curriculum"`
	Health     json.RawMessage `json:"health"`
}

func render(eng *engine.Engine, at At) *Projections {
	p := &Projections{At: at}
	p.Pipelines, p.Elo = eng.JSON(engine.Pipelines), eng.JSON(engine.Elo)
	p.Curriculum, p.Health = eng.JSON(engine.Curriculum), eng.JSON(engine.Health)
	return p
}

// Rebuild folds the source up to the point (a zero point: to the end) and
// renders every projection.
func Rebuild(ctx context.Context, src Source, at Point, o FoldOptions) (*Projections, error) {
	ps, err := rebuildAt(ctx, src, []Point{at}, o)
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// rebuildAt folds once and renders the projections at each point. The
// points may come in any order and mix seqs and times: each is rendered
// just before the first event that lies after it (Point.After), or at the
// end.
func rebuildAt(ctx context.Context, src Source, points []Point, o FoldOptions) ([]*Projections, error) {
	eng := o.engine()
	progress := o.Progress
	out := make([]*Projections, len(points))
	left := len(points)
	var cur At
	total := lastOf(src)
	err := src.Scan(ctx, 1, Filter{}, func(e *event.Event) error {
		for i, p := range points {
			if out[i] == nil && p.After(e) {
				out[i] = render(eng, cur)
				left--
			}
		}
		if left == 0 {
			return journal.ErrStop
		}
		eng.Fold(e)
		cur = At{Seq: e.Seq, Time: &Time{Time: e.Time}, Events: cur.Events + 1}
		if progress != nil && cur.Events&16383 == 0 {
			progress(cur.Events, total)
		}
		return nil
	})
	if err != nil && !errors.Is(err, journal.ErrStop) {
		return nil, err
	}
	for i := range out {
		if out[i] == nil {
			out[i] = render(eng, cur)
		}
	}
	return out, nil
}

// WriteText shows the projections as tables.
func (p *Projections) WriteText(w io.Writer, s Style) error {
	var (
		pipes  projections.PipelinesView
		elo    projections.EloView
		cur    projections.CurriculumView
		health projections.HealthView
	)
	for _, x := range []struct {
		raw json.RawMessage
		dst any
	}{{p.Pipelines, &pipes}, {p.Elo, &elo}, {p.Curriculum, &cur}, {p.Health, &health}} {
		if err := json.Unmarshal(x.raw, x.dst); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	if p.At.Seq == 0 {
		b.WriteString("Before the first event.\n")
	} else {
		fmt.Fprintf(&b, "As of seq %d (%s, %s), %d events folded.\n", p.At.Seq, p.At.Time.UTC().Format("2006-01-02 15:04:05"), s.Ago(p.At.Time.Time), p.At.Events)
	}
	b.WriteString("\n" + s.Bold("Pipelines") + "\n")
	t := &table{}
	t.row("CONFIG", "STATE", "ITER", "FOR", "GAMES", "MODEL", "CHAMPION", "PAUSED", "VIOL")
	for _, k := range slices.Sorted(maps.Keys(pipes)) {
		x := pipes[k]
		since := "-"
		if x.EnteredAt != nil {
			since = s.Ago(x.EnteredAt.Time)
			since = strings.TrimSuffix(since, " ago")
		}
		t.painted([]func(string) string{s.Cyan, nil, nil, nil, nil, nil, nil, s.Yellow}, k, x.State, fmt.Sprint(x.Iteration), since, fmt.Sprint(x.GamesSinceTraining),
			deref(x.Model), deref(x.Champion), dash(strings.Join(x.Paused, ",")), fmt.Sprint(x.Violations))
	}
	t.write(&b)
	b.WriteString("\n" + s.Bold("Elo") + "\n")
	t = &table{}
	t.row("CONFIG", "CHAMPION", "ELO", "VELOCITY", "TREND", "RATED")
	for _, k := range slices.Sorted(maps.Keys(elo.Configs)) {
		x := elo.Configs[k]
		t.painted([]func(string) string{s.Cyan}, k, deref(x.Champion), num(x.ChampionElo, 2), num(x.Velocity, 2), x.Trend, fmt.Sprint(len(x.Ratings)))
	}
	t.write(&b)
	b.WriteString("\n" + s.Bold("Curriculum") + "\n")
	t = &table{}
	t.row("CONFIG", "WEIGHT", "TIER", "SHARE")
	for _, k := range slices.Sorted(maps.Keys(cur.Weights)) {
		t.painted([]func(string) string{s.Cyan}, k, fmt.Sprintf("%.3f", cur.Weights[k]), fmt.Sprint(cur.Tiers[k]), fmt.Sprintf("%.3f", cur.Shares[k]))
	}
	t.write(&b)
	fmt.Fprintf(&b, "\n%s: cluster %s, leader %s, backpressure queue %s resource %s", s.Bold("Health"), health.Cluster, deref(health.Leader),
		health.Backpressure.Queue, health.Backpressure.Resource)
	if len(health.DiskLow) > 0 {
		fmt.Fprintf(&b, ", disk low on %s", strings.Join(health.DiskLow, ", "))
	}
	b.WriteString("\n")
	if len(health.Backpressure.Configs) > 0 {
		t = &table{}
		t.row("  CONFIG", "QUEUE", "RESOURCE")
		for _, k := range slices.Sorted(maps.Keys(health.Backpressure.Configs)) {
			c := health.Backpressure.Configs[k]
			t.row("  "+k, c.Queue, c.Resource)
		}
		t.write(&b)
	}
	if len(health.Nodes) > 0 {
		t = &table{}
		t.row("  NODE", "STATE", "FAILURES", "ATTEMPTS", "LAST ACTION", "UPDATED")
		for _, k := range slices.Sorted(maps.Keys(health.Nodes)) {
			n := health.Nodes[k]
			up := "-"
			if n.UpdatedAt != nil {
				up = s.Ago(n.UpdatedAt.Time)
			}
			paint := s.Green
			if n.State != "healthy" {
				paint = s.Yellow
			}
			t.painted([]func(string) string{nil, paint}, "  "+k, n.State, fmt.Sprint(n.Failures), fmt.Sprint(n.Attempts), deref(n.LastAction), up)
		}
		t.write(&b)
	}
	if len(health.Daemons) > 0 {
		t = &table{}
		t.row("  DAEMON", "STATUS", "LAST SEEN")
		for _, k := range slices.Sorted(maps.Keys(health.Daemons)) {
			d := health.Daemons[k]
			seen := "-"
			if d.LastSeen != nil {
				seen = s.Ago(d.LastSeen.Time)
			}
			t.row("  "+k, d.Status, seen)
		}
		t.write(&b)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func deref(s projections.NullString) string { return dash(string(s)) }

func num(f *projections.Float, prec int) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, *f)
}

// Change is one difference between two renderings of the projections.
type Change struct {
	Path string          `json:"path"`
	From json.RawMessage `json:"from"` // null when added
	To   json.RawMessage `json:"to"`   // null when removed
}

// DiffReport is `replay diff A B`.
type DiffReport struct {
	A       At       `json:"a"`
	B       At       `json:"b"`
	Changes []Change `json:"changes"`
}

// Diff rebuilds the projections at a and at b (in one pass; each a seq, a
// time or the end, in either order) and lists every value that differs
// from a to b, by JSON path.
func Diff(ctx context.Context, src Source, a, b Point, o FoldOptions) (*DiffReport, error) {
	ps, err := rebuildAt(ctx, src, []Point{a, b}, o)
	if err != nil {
		return nil, err
	}
	pa, pb := ps[0], ps[1]
	r := &DiffReport{A: pa.At, B: pb.At, Changes: []Change{}}
	for _, x := range []struct {
		name string
		a, b json.RawMessage
	}{{"pipelines", pa.Pipelines, pb.Pipelines}, {"elo", pa.Elo, pb.Elo}, {"curriculum", pa.Curriculum, pb.Curriculum}, {"health", pa.Health, pb.Health}} {
		fa, fb := map[string]json.RawMessage{}, map[string]json.RawMessage{}
		if err := flatten(x.name, x.a, fa); err != nil {
			return nil, err
		}
		if err := flatten(x.name, x.b, fb); err != nil {
			return nil, err
		}
		keys := map[string]bool{}
		for k := range fa {
			keys[k] = true
		}
		for k := range fb {
			keys[k] = true
		}
		var paths []string
		for k := range keys {
			if !bytes.Equal(fa[k], fb[k]) {
				paths = append(paths, k)
			}
		}
		sort.Strings(paths)
		for _, k := range paths {
			r.Changes = append(r.Changes, Change{Path: k, From: orNull(fa[k]), To: orNull(fb[k])})
		}
	}
	return r, nil
}

func orNull(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}

// flatten maps every leaf of a JSON document (objects walked, arrays kept
// whole) to its dotted path.
func flatten(prefix string, raw json.RawMessage, out map[string]json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		out[prefix] = raw
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if len(m) == 0 {
		out[prefix] = json.RawMessage("{}")
	}
	for k, v := range m {
		if err := flatten(prefix+"."+k, v, out); err != nil {
			return err
		}
	}
	return nil
}

// WriteText lists the changes as "path: from → to".
func (d *DiffReport) WriteText(w io.Writer, s Style) error {
	at := func(a At) string {
		if a.Seq == 0 {
			return "the start"
		}
		return fmt.Sprintf("seq %d (%s)", a.Seq, a.Time.UTC().Format("2006-01-02 15:04:05"))
	}
	if _, err := fmt.Fprintf(w, "From %s to %s: %d changes\n", at(d.A), at(d.B), len(d.Changes)); err != nil {
		return err
	}
	t := &table{}
	for _, c := range d.Changes {
		from, to := string(c.From), string(c.To)
		switch {
		case from == "null" && to != "null":
			t.painted([]func(string) string{nil, s.Green}, c.Path, "+ "+to)
		case to == "null":
			t.painted([]func(string) string{nil, s.Red}, c.Path, "- "+from)
		default:
			t.painted([]func(string) string{nil, s.Yellow}, c.Path, from+" → "+to)
		}
	}
	return t.write(w)
}

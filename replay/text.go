package replay

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Style says how text output looks: colour only on a terminal, times
// relative to Now.
type Style struct {
	Color bool
	Now   time.Time
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

func (s Style) paint(code, text string) string {
	if !s.Color || text == "" {
		return text
	}
	return code + text + ansiReset
}

// Red, Green, Yellow, Cyan, Bold and Dim colour text on a terminal.
func (s Style) Red(t string) string    { return s.paint(ansiRed, t) }
func (s Style) Green(t string) string  { return s.paint(ansiGreen, t) }
func (s Style) Yellow(t string) string { return s.paint(ansiYellow, t) }
func (s Style) Cyan(t string) string   { return s.paint(ansiCyan, t) }
func (s Style) Bold(t string) string   { return s.paint(ansiBold, t) }
func (s Style) Dim(t string) string    { return s.paint(ansiDim, t) }

// Ago says how long before Now t was: "3h12m ago", "in 5m" for the future,
// "-" for a zero time. Any two times a journal can hold are told apart,
// however far (Span).
func (s Style) Ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if s.Now.IsZero() {
		return t.UTC().Format("2006-01-02 15:04:05")
	}
	if !t.After(s.Now) && s.Now.Sub(t) < time.Second {
		return "now"
	}
	if t.After(s.Now) {
		return "in " + Span(s.Now, t)
	}
	return Span(t, s.Now) + " ago"
}

// year is the Gregorian mean year, the unit of the longest spans.
const year = 31_556_952 * time.Second

// Human writes a duration the short way people read it: 45s, 3m20s, 2h5m,
// 3d4h, 3y12d. Every duration has a form, math.MinInt64 included.
func Human(d time.Duration) string {
	if d < 0 {
		return "-" + human(-uint64(d)) // two's complement: exact for math.MinInt64 too
	}
	return human(uint64(d))
}

func human(u uint64) string {
	const (
		ms  = uint64(time.Millisecond)
		sec = uint64(time.Second)
		min = uint64(time.Minute)
		hr  = uint64(time.Hour)
		day = 24 * hr
		yr  = uint64(year)
	)
	pair := func(a uint64, ua string, b uint64, ub string) string {
		if b == 0 {
			return strconv.FormatUint(a, 10) + ua
		}
		return strconv.FormatUint(a, 10) + ua + strconv.FormatUint(b, 10) + ub
	}
	switch {
	case u < sec:
		return strconv.FormatUint(u/ms, 10) + "ms"
	case u < min:
		return strconv.FormatUint(u/sec, 10) + "s"
	case u < hr:
		return pair(u/min, "m", u%min/sec, "s")
	case u < 48*hr:
		return pair(u/hr, "h", u%hr/min, "m")
	case u < 2*yr:
		return pair(u/day, "d", u%day/hr, "h")
	}
	return pair(u/yr, "y", u%yr/day, "d")
}

// Span is Human(to − from) for any two times a journal can hold: a span
// beyond time.Duration's ±292 years (which Sub saturates) is told in
// years, e.g. "56836y".
func Span(from, to time.Time) string {
	d := to.Sub(from)
	if d != math.MaxInt64 && d != math.MinInt64 {
		return Human(d)
	}
	years := (float64(to.UnixMilli()) - float64(from.UnixMilli())) / float64(year/time.Millisecond)
	return strconv.FormatFloat(math.Trunc(years), 'f', 0, 64) + "y"
}

// Seconds is to − from in seconds, for any two times a journal can hold.
func Seconds(from, to time.Time) float64 {
	d := to.Sub(from)
	if d != math.MaxInt64 && d != math.MinInt64 {
		return d.Seconds()
	}
	return (float64(to.UnixMilli()) - float64(from.UnixMilli())) / 1000
}

// table writes aligned columns. Colour codes must not change a column's
// width, so cells are padded before they are painted: Row takes the cells
// and an optional painter per cell.
type table struct {
	rows   [][]string
	paints [][]func(string) string
	widths []int
}

func (t *table) row(cells ...string) {
	t.rows = append(t.rows, cells)
	t.paints = append(t.paints, nil)
}

func (t *table) painted(paint []func(string) string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.paints = append(t.paints, paint)
}

func (t *table) write(w io.Writer) error {
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(t.widths) {
				t.widths = append(t.widths, 0)
			}
			t.widths[i] = max(t.widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for ri, r := range t.rows {
		b.Reset()
		for i, c := range r {
			cell := c
			if i < len(r)-1 {
				cell += strings.Repeat(" ", t.widths[i]-len([]rune(c))+2)
			}
			if p := t.paints[ri]; p != nil && i < len(p) && p[i] != nil {
				cell = p[i](c) + cell[len(c):]
			}
			b.WriteString(cell)
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(w, strings.TrimRight(b.String(), " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func seqList(seqs []uint64) string {
	if len(seqs) == 0 {
		return "-"
	}
	parts := make([]string, len(seqs))
	for i, s := range seqs {
		parts[i] = strconv.FormatUint(s, 10)
	}
	return strings.Join(parts, ",")
}

// LostText writes findings for people as aligned columns, a block of 256
// at a time; the caller writes SummaryLine after the last.
type LostText struct {
	W     io.Writer
	Style Style
	t     *table
	rows  int
}

// Add queues one finding.
func (lt *LostText) Add(f *Finding) error {
	s := lt.Style
	if lt.t == nil {
		lt.t = &table{}
		lt.t.painted([]func(string) string{s.Bold, s.Bold, s.Bold, s.Bold}, "KIND", "SEQS", "KEY", "CAUSE")
	}
	key := "-"
	if f.Key != nil {
		key = *f.Key
	}
	lt.t.painted([]func(string) string{s.Yellow, nil, s.Cyan}, f.Kind, seqList(f.Seqs), key, f.Message)
	if lt.rows++; lt.rows%256 == 0 {
		return lt.Flush()
	}
	return nil
}

// Flush writes what is queued.
func (lt *LostText) Flush() error {
	if lt.t == nil {
		return nil
	}
	err := lt.t.write(lt.W)
	lt.t = &table{}
	return err
}

// WriteText writes a collected report for people (CollectLost).
func (r *LostReport) WriteText(w io.Writer, s Style) error {
	lt := &LostText{W: w, Style: s}
	for i := range r.Findings {
		if err := lt.Add(&r.Findings[i]); err != nil {
			return err
		}
	}
	if err := lt.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, r.SummaryLine(s))
	return err
}

// SummaryLine is "N findings (by kind …)".
func (r *LostReport) SummaryLine(s Style) string {
	var parts []string
	var checked []string
	for _, k := range Kinds {
		n, ok := r.Summary[k]
		if !ok {
			continue
		}
		checked = append(checked, k)
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	n := r.Total()
	if n == 0 {
		return s.Green(fmt.Sprintf("0 findings in %d events (checked: %s)", r.Events, strings.Join(checked, ", ")))
	}
	word := "findings"
	if n == 1 {
		word = "finding"
	}
	return s.Red(fmt.Sprintf("%d %s (%s) in %d events", n, word, strings.Join(parts, ", "), r.Events))
}

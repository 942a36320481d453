package replay

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ringrift/ringriftd/event"
)

// Count is a name and how many events it had.
type Count struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// Bucket is the events of one period.
type Bucket struct {
	Start  Time   `json:"start"`
	Events uint64 `json:"events"`
}

// Stats is `replay stats`.
type Stats struct {
	Events    uint64 `json:"events"`
	Decisions uint64 `json:"decisions"`
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	First     Time   `json:"first,omitzero"`
	Last      Time   `json:"last,omitzero"`
	// PerMinute is the mean rate over the span.
	PerMinute  float64 `json:"per_minute"`
	ByType     []Count `json:"by_type"`
	ByCategory []Count `json:"by_category"`
	BySource   []Count `json:"by_source"`
	ByConfig   []Count `json:"by_config"`
	ByNode     []Count `json:"by_node"`
	// Period is the width of the Rates buckets (an hour, or a day for
	// spans longer than 7 days).
	Period string   `json:"period"`
	Rates  []Bucket `json:"rates"`
	// Busiest are the ten keys (configs and nodes) with the most events.
	Busiest []Count `json:"busiest"`
}

// maxBuckets bounds the rate series; older buckets are merged pairwise.
const maxBuckets = 2000

// CollectStats counts the matching events of a source.
func CollectStats(ctx context.Context, src Source, f Filter, progress Progress) (*Stats, error) {
	st := &Stats{}
	types, cats, sources, configs, nodes := map[string]uint64{}, map[string]uint64{}, map[string]uint64{}, map[string]uint64{}, map[string]uint64{}
	hours := map[int64]uint64{}
	total := lastOf(src)
	var n uint64
	var first, last time.Time
	err := src.Scan(ctx, 1, f, func(e *event.Event) error {
		if n++; progress != nil && n&16383 == 0 {
			progress(e.Seq, total)
		}
		st.Events++
		if st.FirstSeq == 0 {
			st.FirstSeq, first, last = e.Seq, e.Time, e.Time
		}
		st.LastSeq = e.Seq
		if e.Time.After(last) {
			last = e.Time
		}
		if e.Time.Before(first) {
			first = e.Time
		}
		if strings.HasPrefix(e.Source, event.DecisionSourcePrefix) {
			st.Decisions++
		}
		types[e.Type]++
		sources[e.Source]++
		if e.ConfigKey != "" {
			configs[e.ConfigKey]++
		}
		if e.NodeID != "" {
			nodes[e.NodeID]++
		}
		hours[e.Time.Unix()/3600]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	for t, c := range types {
		cat := "unknown"
		if ty, ok := event.Default().ByValue(t); ok {
			cat = ty.Category
		}
		cats[cat] += c
	}
	if sources[""] > 0 {
		sources["(none)"] = sources[""]
		delete(sources, "")
	}
	st.ByType, st.ByCategory, st.BySource = counts(types), counts(cats), counts(sources)
	st.ByConfig, st.ByNode = counts(configs), counts(nodes)
	keys := map[string]uint64{}
	for k, c := range configs {
		keys[k] = c
	}
	for k, c := range nodes {
		keys["node "+k] = c
	}
	st.Busiest = counts(keys)
	if len(st.Busiest) > 10 {
		st.Busiest = st.Busiest[:10]
	}
	st.First, st.Last = Time{Time: first}, Time{Time: last}
	if span := Seconds(first, last); span > 0 {
		st.PerMinute = float64(st.Events) / (span / 60)
	}
	period := int64(1)
	st.Period = "hour"
	if last.Sub(first) > 7*24*time.Hour {
		period, st.Period = 24, "day"
	}
	merged := map[int64]uint64{}
	for h, c := range hours {
		b := h / period * period
		if h < 0 && h%period != 0 {
			b -= period
		}
		merged[b] += c
	}
	hs := slices.Sorted(maps.Keys(merged))
	if len(hs) > maxBuckets {
		hs = hs[len(hs)-maxBuckets:]
	}
	for _, h := range hs {
		st.Rates = append(st.Rates, Bucket{Start: Time{Time: time.Unix(h*3600, 0).UTC()}, Events: merged[h]})
	}
	if st.Rates == nil {
		st.Rates = []Bucket{}
	}
	return st, nil
}

func counts(m map[string]uint64) []Count {
	out := make([]Count, 0, len(m))
	for k, c := range m {
		out = append(out, Count{Name: k, Count: c})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Count != out[b].Count {
			return out[a].Count > out[b].Count
		}
		return out[a].Name < out[b].Name
	})
	return out
}

// WriteText shows the counts as tables, the rates as a bar chart.
func (st *Stats) WriteText(w io.Writer, s Style) error {
	if st.Events == 0 {
		_, err := fmt.Fprintln(w, "No events.")
		return err
	}
	if _, err := fmt.Fprintf(w, "%d events (seq %d–%d), %d decisions, from %s to %s (%s), %.1f events/min\n",
		st.Events, st.FirstSeq, st.LastSeq, st.Decisions, st.First.UTC().Format("2006-01-02 15:04:05"),
		st.Last.UTC().Format("2006-01-02 15:04:05"), Span(st.First.Time, st.Last.Time), st.PerMinute); err != nil {
		return err
	}
	section := func(title string, cs []Count, limit int) error {
		if len(cs) == 0 {
			return nil
		}
		if _, err := fmt.Fprintf(w, "\n%s\n", s.Bold(title)); err != nil {
			return err
		}
		t := &table{}
		for i, c := range cs {
			if limit > 0 && i == limit { // 0: every row
				t.row("  …", fmt.Sprintf("%d more", len(cs)-limit))
				break
			}
			t.row("  "+c.Name, fmt.Sprint(c.Count), fmt.Sprintf("%.1f%%", 100*float64(c.Count)/float64(st.Events)))
		}
		return t.write(w)
	}
	for _, sec := range []struct {
		title string
		cs    []Count
		limit int // rows shown; 0 = all (categories are few, busiest keys ten)
	}{{"By type", st.ByType, 25}, {"By category", st.ByCategory, 0}, {"By source", st.BySource, 15},
		{"By config", st.ByConfig, 0}, {"By node", st.ByNode, 30}, {"Busiest keys", st.Busiest, 0}} {
		if err := section(sec.title, sec.cs, sec.limit); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(w, "\n%s\n", s.Bold("Events per "+st.Period)); err != nil {
		return err
	}
	rates := st.Rates
	if len(rates) > 48 {
		if _, err := fmt.Fprintf(w, "  (the last 48 of %d)\n", len(rates)); err != nil {
			return err
		}
		rates = rates[len(rates)-48:]
	}
	var peak uint64
	for _, b := range rates {
		peak = max(peak, b.Events)
	}
	t := &table{}
	for _, b := range rates {
		bar := strings.Repeat("█", int(40*b.Events/max(peak, 1)))
		t.painted([]func(string) string{nil, nil, s.Cyan}, "  "+b.Start.Format("2006-01-02 15:04"), fmt.Sprint(b.Events), bar)
	}
	return t.write(w)
}

package sim

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Stats are the simulator's figures, as the daemon answered.
type Stats struct {
	Sent, Appended, Duplicates, Refused int
	RefusedBy                           map[string]int
	Decisions                           map[string]int
	// Requests counts HTTP requests (appends, retries and reads), Retries
	// the appends sent again, Errors the requests that failed.
	Requests, Retries, Errors int
	// Unanswered counts the events of appends that failed: their fate is
	// unknown (a later re-send of one answers duplicate if it landed).
	Unanswered int
	// Compat counts the events sent in the compatibility shape.
	Compat int
	// BadRefused and BadAccepted split the events sent wrong on purpose;
	// UnexpectedDups counts duplicates answered to events sent once.
	BadRefused, BadAccepted, UnexpectedDups int
	// StepsRefused counts by code the refused events of the cluster's own
	// flow (a paused training start, a step the state no longer allows).
	StepsRefused map[string]int

	// Iterations counts the iterations the configs completed during the
	// run, Champions the configs with a champion at its end.
	Iterations, Champions int

	baseIterations, baseChampions int
}

func newStats() *Stats {
	return &Stats{RefusedBy: map[string]int{}, Decisions: map[string]int{}, StepsRefused: map[string]int{}}
}

func (st *Stats) decisions() int {
	n := 0
	for _, v := range st.Decisions {
		n += v
	}
	return n
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// progress prints the one-line progress report.
func (st *Stats) progress(w io.Writer, elapsed time.Duration, world *World) {
	st.Iterations, st.Champions = world.iterations()-st.baseIterations, world.champions()
	fmt.Fprintf(w, "simulate %6.1fs  sent %d (%.0f/s)  appended %d  duplicates %d  refused %d  decisions %d  iterations +%d  champions %d  failing nodes %d\n",
		elapsed.Seconds(), st.Sent, perSecond(st.Sent, elapsed), st.Appended, st.Duplicates, st.Refused, st.decisions(),
		st.Iterations, st.Champions, world.failing())
}

// summary prints the final report.
func (st *Stats) summary(w io.Writer, elapsed time.Duration, world *World) {
	st.Iterations, st.Champions = world.iterations()-st.baseIterations, world.champions()
	fmt.Fprintf(w, "simulate: done after %.1fs: sent %d events (%.0f/s) in %d requests (%d retried, %d failed)\n",
		elapsed.Seconds(), st.Sent, perSecond(st.Sent, elapsed), st.Requests, st.Retries, st.Errors)
	fmt.Fprintf(w, "  appended %d, duplicates %d, refused %d%s\n", st.Appended, st.Duplicates, st.Refused, counts(st.RefusedBy))
	if st.Unanswered > 0 {
		fmt.Fprintf(w, "  unanswered %d (their appends failed)\n", st.Unanswered)
	}
	if n := st.Refused - st.BadRefused; n > 0 {
		fmt.Fprintf(w, "  refused steps of the cluster's own flow: %d%s; the other %d were sent wrong on purpose\n", n, counts(st.StepsRefused), st.BadRefused)
	}
	fmt.Fprintf(w, "  decisions %d%s\n", st.decisions(), counts(st.Decisions))
	if st.BadAccepted > 0 || st.UnexpectedDups > 0 {
		fmt.Fprintf(w, "  unexpected: %d events sent wrong on purpose were appended, %d events sent once answered duplicate\n",
			st.BadAccepted, st.UnexpectedDups)
	}
	fmt.Fprintf(w, "  pipelines: %d iterations completed, %d configs with a champion; nodes: %d failing, cluster %s\n",
		st.Iterations, st.Champions, world.failing(), orDash(world.cluster))
}

// counts writes " (a 1, b 2)" in key order, "" when empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, m[k])
	}
	return " (" + b.String() + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

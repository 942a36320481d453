// Package sim is the simulated cluster behind `ringriftd simulate`
// (daemon.md, Simulator): twelve configs going through self-play, sync,
// training, evaluation and promotion, nodes failing and recovering,
// backpressure, occasional bad and duplicate events, driven against a
// running daemon over HTTP. The daemon's policies decide; the simulated
// workers follow the state the daemon reports.
//
// The simulated clock advances by Config.Step per event, but never past the
// wall clock: the daemon refuses event times too far ahead of its own
// (events.md, --max-future). By default the run starts far enough in the
// past to cover its expected span at full speed, then keeps pace.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Config configures a simulation. DefaultConfig gives the defaults the
// command's flags start from.
type Config struct {
	URL   string
	Token string
	// Rate is the events per second to send; 0 sends as fast as the
	// daemon answers.
	Rate float64
	// Duration ends the run (0 = until interrupted); Events ends it after
	// that many events (0 = no limit).
	Duration time.Duration
	Events   int
	Seed     uint64
	// Batch is the events per POST (NDJSON when > 1).
	Batch int
	// Step is the simulated time per event: the cluster runs Step×Rate
	// times faster than real time, until it reaches the wall clock.
	Step time.Duration
	// Start is the simulated time of the first event (zero: DefaultStart).
	Start time.Time
	Nodes int
	// Bad, Dup and Compat are the shares of events that are bad on
	// purpose, re-sent with an id already journaled, and posted in the
	// Python workers' compatibility shape.
	Bad, Dup, Compat float64
	// Every is the interval of the progress line (0 = summary only).
	Every time.Duration
	// Clock is the wall clock the simulated one may not pass (nil:
	// time.Now).
	Clock func() time.Time
}

// DefaultConfig is the configuration of `ringriftd simulate` without
// flags.
func DefaultConfig() Config {
	return Config{
		URL:    "http://127.0.0.1:8765",
		Rate:   100,
		Seed:   1,
		Batch:  10,
		Step:   2 * time.Second,
		Nodes:  24,
		Bad:    0.02,
		Dup:    0.01,
		Compat: 0.1,
		Every:  5 * time.Second,
	}
}

// Validate checks the configuration; errors name the flag and say what
// would be accepted.
func (c *Config) Validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("--%s: %s", name, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return bad("url", "%q: want http://host:port", c.URL)
	case c.Rate < 0:
		return bad("rate", "%v: want events per second ≥ 0", c.Rate)
	case c.Duration < 0:
		return bad("duration", "%v: want ≥ 0", c.Duration)
	case c.Events < 0:
		return bad("events", "%d: want ≥ 0", c.Events)
	case c.Batch < 1 || c.Batch > 10_000:
		return bad("batch", "%d: want 1 to 10000", c.Batch)
	case c.Step <= 0:
		return bad("step", "%v: want a positive duration", c.Step)
	case c.Nodes < 1 || c.Nodes > 1000:
		return bad("nodes", "%d: want 1 to 1000", c.Nodes)
	case c.Every < 0:
		return bad("every", "%v: want ≥ 0", c.Every)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"bad", c.Bad}, {"dup", c.Dup}, {"compat", c.Compat}} {
		if !(s.v >= 0 && s.v <= 0.5) {
			return bad(s.name, "%v: want a share in [0, 0.5]", s.v)
		}
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return nil
}

// assumedRate is the events per second DefaultStart assumes for --rate 0.
const assumedRate = 1000

// DefaultStart is the start of a run without Start: now minus the
// simulated span the run is expected to cover at full speed (Events, or
// Rate × Duration, or an hour at Rate when it runs until interrupted), so
// that the simulated clock reaches the wall clock about when the run ends.
func (c *Config) DefaultStart(now time.Time) time.Time {
	rate := c.Rate
	if rate == 0 {
		rate = assumedRate
	}
	events := float64(c.Events)
	if events == 0 {
		d := c.Duration
		if d == 0 {
			d = time.Hour
		}
		events = rate * d.Seconds()
	}
	span := time.Duration(events * float64(c.Step))
	if span < 0 || span > 10*365*24*time.Hour { // an overflow or an absurd span
		span = 10 * 365 * 24 * time.Hour
	}
	return now.Add(-span).UTC().Truncate(time.Second)
}

// maxFailed is how many requests in a row may fail (after their retries)
// before the simulator gives up on the daemon.
const maxFailed = 5

// Run drives the daemon at c.URL until ctx ends or c.Duration / c.Events
// is reached, printing progress and a summary to out, and returns its
// figures. c must be valid (Validate).
func Run(ctx context.Context, c Config, out io.Writer) (*Stats, error) {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	cl := NewClient(c)
	if err := cl.waitReady(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	if c.Start.IsZero() {
		c.Start = c.DefaultStart(c.Clock())
	}
	if now := c.Clock(); c.Start.After(now) {
		return nil, fmt.Errorf("--start: %s is in the future (now %s): the daemon refuses events ahead of its clock",
			c.Start.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	w := newWorld(c)
	st := newStats()
	if err := w.refresh(ctx, cl, st, refreshAll); err != nil {
		return nil, err
	}
	st.baseIterations, st.baseChampions = w.iterations(), w.champions()
	lastPrint, failed := start, 0
	end := time.Time{}
	if c.Duration > 0 {
		end = start.Add(c.Duration)
	}
	var runErr error
	for runErr == nil && ctx.Err() == nil && (end.IsZero() || time.Now().Before(end)) && (c.Events == 0 || st.Sent < c.Events) {
		if c.Rate > 0 {
			due := start.Add(time.Duration(float64(st.Sent) / c.Rate * float64(time.Second)))
			if !end.IsZero() && due.After(end) {
				due = end
			}
			if !sleepUntil(ctx, due) || (!end.IsZero() && !time.Now().Before(end)) {
				break
			}
		}
		n := c.Batch
		if c.Events > 0 {
			n = min(n, c.Events-st.Sent)
		}
		batch := w.batch(n)
		st.Sent += len(batch)
		ans, err := cl.append(ctx, batch, st)
		what := refreshPipelines
		switch {
		case errors.Is(err, ErrFatal):
			runErr = err
			continue
		case err != nil:
			st.Errors++
			st.Unanswered += len(batch)
			if failed++; failed >= maxFailed {
				runErr = fmt.Errorf("%w: %d requests in a row failed, the last: %w", ErrFatal, failed, err)
				continue
			}
			w.unanswered(batch)
		default:
			failed = 0
			what = w.answer(batch, ans, st)
		}
		if err := w.refresh(ctx, cl, st, what); errors.Is(err, ErrFatal) {
			runErr = err
		}
		if c.Every > 0 && time.Since(lastPrint) >= c.Every {
			lastPrint = time.Now()
			st.progress(out, time.Since(start), w)
		}
	}
	st.summary(out, time.Since(start), w)
	return st, runErr
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// simOptions configure `ringriftd simulate` (daemon.md, Simulator): flags
// with environment twins, as the daemon's.
type simOptions struct {
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
	// times faster than real time.
	Step time.Duration
	// Start is the simulated time of the first event (zero = now).
	Start time.Time
	Nodes int
	// Bad, Dup and Compat are the shares of events that are bad on
	// purpose, re-sent with an id already journaled, and posted in the
	// Python workers' compatibility shape.
	Bad, Dup, Compat float64
	// Every is the interval of the progress line (0 = summary only).
	Every time.Duration
}

// parseSimulate reads the simulator's flags (with defaults from getenv).
// --help prints the usage to stderr and returns flag.ErrHelp.
func parseSimulate(args []string, getenv func(string) string, stderr io.Writer) (simOptions, error) {
	var o simOptions
	fs := flag.NewFlagSet("ringriftd simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var envErrs []error
	env := func(name string, parse func(string) error) {
		if v := getenv(envName(name)); v != "" {
			if err := parse(v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%w: %s=%q: %w", errConfig, envName(name), v, err))
			}
		}
	}
	usage := func(name, u string) string { return u + " (env " + envName(name) + ")" }
	str := func(p *string, name, def, u string) {
		*p = def
		env(name, func(v string) error { *p = v; return nil })
		fs.StringVar(p, name, *p, usage(name, u))
	}
	dur := func(p *time.Duration, name string, def time.Duration, u string) {
		*p = def
		env(name, func(v string) (err error) { *p, err = time.ParseDuration(v); return err })
		fs.DurationVar(p, name, *p, usage(name, u))
	}
	num := func(p *float64, name string, def float64, u string) {
		*p = def
		env(name, func(v string) (err error) { *p, err = strconv.ParseFloat(v, 64); return err })
		fs.Float64Var(p, name, *p, usage(name, u))
	}
	integer := func(p *int, name string, def int, u string) {
		*p = def
		env(name, func(v string) (err error) { *p, err = strconv.Atoi(v); return err })
		fs.IntVar(p, name, *p, usage(name, u))
	}
	str(&o.URL, "url", "http://127.0.0.1:8765", "the daemon's base URL")
	// The token's environment twin is read after parsing, so that --help
	// never prints it as a default.
	fs.StringVar(&o.Token, "token", "", usage("token", "bearer token, when the daemon has one (never printed)"))
	num(&o.Rate, "rate", 100, "events per second, 0 = as fast as the daemon answers")
	dur(&o.Duration, "duration", 0, "how long to run, 0 = until interrupted")
	integer(&o.Events, "events", 0, "stop after this many events, 0 = no limit")
	o.Seed = 1
	env("seed", func(v string) (err error) { o.Seed, err = strconv.ParseUint(v, 10, 64); return err })
	fs.Uint64Var(&o.Seed, "seed", o.Seed, usage("seed", "random seed: the same seed sends the same events (timing aside)"))
	integer(&o.Batch, "batch", 10, "events per POST, NDJSON when > 1")
	dur(&o.Step, "step", 2*time.Second, "simulated time per event; larger runs the cluster faster (1m: an iteration in a few hundred events)")
	var start string
	str(&start, "start", "", "simulated time of the first event, RFC 3339 (default now)")
	integer(&o.Nodes, "nodes", 24, "GPU nodes in the simulated cluster")
	num(&o.Bad, "bad", 0.02, "share of events that are wrong on purpose (unknown types, bad config keys, flow violations …)")
	num(&o.Dup, "dup", 0.01, "share of events re-sent with an id already journaled")
	num(&o.Compat, "compat", 0.1, "share of self-play events posted in the Python workers' compatibility shape")
	dur(&o.Every, "every", 5*time.Second, "interval of the progress line, 0 = summary only")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ringriftd simulate [flags]\n\n"+
			"Drives a running ringriftd over HTTP with a simulated cluster: twelve configs\n"+
			"through self-play, sync, training and evaluation, the daemon's policies deciding\n"+
			"thresholds, promotions and recoveries, nodes failing, backpressure, bad and\n"+
			"duplicate events. Every flag has an environment twin.\n\n")
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	if o.Token == "" {
		o.Token = getenv(envName("token"))
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return o, err
		}
		return o, fmt.Errorf("%w: simulate: %w", errConfig, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: simulate: unexpected argument %q", errConfig, fs.Arg(0))
	}
	if err := errors.Join(envErrs...); err != nil {
		return o, err
	}
	if start != "" {
		t, err := time.Parse(time.RFC3339Nano, start)
		if err != nil {
			return o, fmt.Errorf("%w: --start: %q: want an RFC 3339 time such as 2026-01-01T00:00:00Z", errConfig, start)
		}
		o.Start = t
	}
	return o, o.validate()
}

// validate checks the options; errors name the flag.
func (o *simOptions) validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: --%s: %s", errConfig, name, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return bad("url", "%q: want http://host:port", o.URL)
	case o.Rate < 0:
		return bad("rate", "%v: want events per second ≥ 0", o.Rate)
	case o.Duration < 0:
		return bad("duration", "%v: want ≥ 0", o.Duration)
	case o.Events < 0:
		return bad("events", "%d: want ≥ 0", o.Events)
	case o.Batch < 1 || o.Batch > 10_000:
		return bad("batch", "%d: want 1 to 10000", o.Batch)
	case o.Step <= 0:
		return bad("step", "%v: want a positive duration", o.Step)
	case o.Nodes < 1 || o.Nodes > 1000:
		return bad("nodes", "%d: want 1 to 1000", o.Nodes)
	case o.Every < 0:
		return bad("every", "%v: want ≥ 0", o.Every)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"bad", o.Bad}, {"dup", o.Dup}, {"compat", o.Compat}} {
		if !(s.v >= 0 && s.v <= 0.5) {
			return bad(s.name, "%v: want a share in [0, 0.5]", s.v)
		}
	}
	o.URL = strings.TrimRight(o.URL, "/")
	return nil
}

// runSimulate is `ringriftd simulate`: it drives the daemon at --url until
// ctx ends or --duration / --events is reached, printing progress and a
// summary to stdout.
func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseSimulate(args, getenv, stderr)
	if err != nil {
		return err
	}
	_, err = simulate(ctx, o, stdout)
	return err
}

// simMaxFailed is how many requests in a row may fail (after their
// retries) before the simulator gives up on the daemon.
const simMaxFailed = 5

// simulate runs the simulation and returns its figures.
func simulate(ctx context.Context, o simOptions, stdout io.Writer) (*simStats, error) {
	cl := newSimClient(o)
	if err := cl.waitReady(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	if o.Start.IsZero() {
		o.Start = start.UTC().Truncate(time.Second)
	}
	w := newSimWorld(o)
	st := newSimStats()
	if err := w.refresh(ctx, cl, st, refreshAll); err != nil {
		return nil, err
	}
	st.baseIterations, st.baseChampions = w.iterations(), w.champions()
	lastPrint, failed := start, 0
	end := time.Time{}
	if o.Duration > 0 {
		end = start.Add(o.Duration)
	}
	var runErr error
	for runErr == nil && ctx.Err() == nil && (end.IsZero() || time.Now().Before(end)) && (o.Events == 0 || st.Sent < o.Events) {
		if o.Rate > 0 {
			due := start.Add(time.Duration(float64(st.Sent) / o.Rate * float64(time.Second)))
			if !end.IsZero() && due.After(end) {
				due = end
			}
			if !sleepUntil(ctx, due) || (!end.IsZero() && !time.Now().Before(end)) {
				break
			}
		}
		n := o.Batch
		if o.Events > 0 {
			n = min(n, o.Events-st.Sent)
		}
		batch := w.batch(n)
		st.Sent += len(batch)
		ans, err := cl.append(ctx, batch, st)
		what := refreshPipelines
		switch {
		case errors.Is(err, errSimFatal):
			runErr = err
			continue
		case err != nil:
			st.Errors++
			st.Unanswered += len(batch)
			if failed++; failed >= simMaxFailed {
				runErr = fmt.Errorf("%w: %d requests in a row failed, the last: %w", errSimFatal, failed, err)
				continue
			}
			w.unanswered(batch)
		default:
			failed = 0
			what = w.answer(batch, ans, st)
		}
		if err := w.refresh(ctx, cl, st, what); errors.Is(err, errSimFatal) {
			runErr = err
		}
		if o.Every > 0 && time.Since(lastPrint) >= o.Every {
			lastPrint = time.Now()
			st.progress(stdout, time.Since(start), w)
		}
	}
	st.summary(stdout, time.Since(start), w)
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

package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ringrift/ringriftd/internal/sim"
)

const simulateUsage = `usage: ringriftd simulate [flags]

Drives a running ringriftd over HTTP with a simulated cluster: twelve configs
through self-play, sync, training and evaluation, the daemon's policies deciding
thresholds, promotions and recoveries, nodes failing, backpressure, bad and
duplicate events. The simulated clock never runs ahead of the wall clock (the
daemon refuses events too far in its future): by default it starts in the past
by the span the run covers and then keeps pace. Every flag has an environment
twin.

`

// parseSimulate reads the simulator's flags over sim.DefaultConfig, with
// the environment twins from getenv. --help prints the usage to help and
// returns flag.ErrHelp.
func parseSimulate(args []string, getenv func(string) string, help io.Writer) (sim.Config, error) {
	c := sim.DefaultConfig()
	f := newEnvFlags("ringriftd simulate", simulateUsage, getenv)
	f.String(&c.URL, "url", "the daemon's base URL")
	f.Secret(&c.Token, "token", "bearer token, when the daemon has one (never printed)")
	f.Float64(&c.Rate, "rate", "events per second, 0 = as fast as the daemon answers")
	f.Duration(&c.Duration, "duration", "how long to run, 0 = until interrupted")
	f.Int(&c.Events, "events", "stop after this many events, 0 = no limit")
	f.Uint64(&c.Seed, "seed", "random seed: the same seed sends the same events (timing aside)")
	f.Int(&c.Batch, "batch", "events per POST, NDJSON when > 1")
	f.Duration(&c.Step, "step", "simulated time per event; larger runs the cluster faster (1m: an iteration in a few hundred events)")
	var start string
	f.String(&start, "start", "simulated time of the first event, RFC 3339 (default: the span of the run before now)")
	f.Int(&c.Nodes, "nodes", "GPU nodes in the simulated cluster")
	f.Float64(&c.Bad, "bad", "share of events that are wrong on purpose (unknown types, bad config keys, flow violations …)")
	f.Float64(&c.Dup, "dup", "share of events re-sent with an id already journaled")
	f.Float64(&c.Compat, "compat", "share of self-play events posted in the Python workers' compatibility shape")
	f.Duration(&c.Every, "every", "interval of the progress line, 0 = summary only")
	if err := f.Parse(args, help); err != nil {
		return c, err
	}
	if start != "" {
		t, err := time.Parse(time.RFC3339Nano, start)
		if err != nil {
			return c, fmt.Errorf("%w: --start: %q: want an RFC 3339 time such as 2026-01-01T00:00:00Z", errConfig, start)
		}
		c.Start = t
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", errConfig, err)
	}
	return c, nil
}

// runSimulate is `ringriftd simulate`: it drives the daemon at --url until
// ctx ends or --duration / --events is reached, printing progress and a
// summary to stdout.
func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c, err := parseSimulate(args, getenv, stdout)
	if err != nil {
		return err
	}
	_, err = sim.Run(ctx, c, stdout)
	return err
}

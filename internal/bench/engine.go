package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
)

// generated returns n events of realistic generated traffic.
func generated(n int, seed uint64) []event.Event {
	g := gen.New(gen.Options{Seed: seed})
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = g.Next()
	}
	return evs
}

// engineFigures measures the fold of machines and projections:
// replay.rebuild, restart.checkpoint_ms, sequencer.enforce_overhead and
// sequencer.policies_overhead.
func (s *suite) engineFigures() error {
	if s.want("replay.rebuild") || s.want("restart.checkpoint") {
		if err := s.rebuildFigures(); err != nil {
			return err
		}
	}
	if s.want("sequencer.enforce_overhead") {
		if err := s.enforceOverhead(); err != nil {
			return err
		}
	}
	if s.want("sequencer.policies_overhead") {
		return s.policiesOverhead()
	}
	return nil
}

func (s *suite) rebuildFigures() error {
	dir := s.tempDir()
	// The journal a daemon with its defaults writes: decisions included.
	live := engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
	j, err := journal.Open(dir, journal.Options{Hook: live})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.log, "appending %d generated events through the engine for the rebuild figures\n", s.scanEvents)
	var cpSeq uint64
	var cp []byte
	// The checkpoint a daemon would have written a little before the end.
	err = appendGenerated(s, j, func() error {
		if cp == nil && j.Durable()+10_000 >= uint64(s.scanEvents) {
			var err error
			if cp, err = live.MarshalCheckpoint(); err != nil {
				return err
			}
			cpSeq = j.Durable()
		}
		return nil
	})
	if err != nil {
		j.Close()
		return err
	}
	if err := j.SaveCheckpoint("engine", journal.Checkpoint{Version: engine.CheckpointVersion, Seq: cpSeq, Data: cp}); err != nil {
		j.Close()
		return err
	}
	total := j.Durable()
	if err := j.Close(); err != nil {
		return err
	}
	if s.want("replay.rebuild") {
		j, err := journal.Open(dir, journal.Options{})
		if err != nil {
			return err
		}
		defer j.Close()
		s.settle(j)
		if _, err := s.median("replay.rebuild.events_per_sec", func() (float64, error) {
			eng := engine.New(engine.Options{})
			start := time.Now()
			err := j.Scan(1, journal.Filter{}, func(e *event.Event) error { eng.Fold(e); return nil })
			if err != nil {
				return 0, err
			}
			return rate(int(total), time.Since(start)), nil
		}); err != nil {
			return err
		}
		j.Close()
	}
	if s.want("restart.checkpoint") {
		if _, err := s.median("restart.checkpoint_ms", func() (float64, error) {
			start := time.Now()
			j, err := journal.Open(dir, journal.Options{})
			if err != nil {
				return 0, err
			}
			defer j.Close()
			c, err := j.LoadCheckpoint("engine")
			if err != nil {
				return 0, err
			}
			eng := engine.New(engine.Options{})
			if err := eng.UnmarshalCheckpoint(c.Data); err != nil {
				return 0, err
			}
			if err := j.Scan(c.Seq+1, journal.Filter{}, func(e *event.Event) error { eng.Fold(e); return nil }); err != nil {
				return 0, err
			}
			return float64(time.Since(start).Microseconds()) / 1000, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// settle waits (at most a minute) for the compactions of a journal just
// written, so that read figures measure reads on a settled journal, as
// replay meets a stopped daemon's directory.
func (s *suite) settle(j *journal.Journal) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	settled := j.Settle(ctx)
	fmt.Fprintf(s.log, "waited %v for compactions to settle (settled: %v)\n", time.Since(start).Round(time.Millisecond), settled)
}

// enforceOverhead compares durable append throughput of 64 concurrent
// appenders of generated traffic with the engine as the sequencer's hook and
// without it.
func (s *suite) enforceOverhead() error {
	return s.ratio("sequencer.enforce_overhead",
		"sequencer.enforce_on.events_per_sec", s.appendRate(func() journal.Hook { return engine.New(engine.Options{}) }),
		"sequencer.enforce_off.events_per_sec", s.appendRate(func() journal.Hook { return nil }))
}

// policiesOverhead compares the same traffic through the engine with every
// policy on and with every policy off.
func (s *suite) policiesOverhead() error {
	return s.ratio("sequencer.policies_overhead",
		"sequencer.policies_on.events_per_sec", s.appendRate(func() journal.Hook {
			return engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
		}),
		"sequencer.policies_off.events_per_sec", s.appendRate(func() journal.Hook { return engine.New(engine.Options{}) }))
}

// appendRate returns a measurement of durable append throughput: 64
// concurrent appenders, one generated event per append, into a fresh
// journal with the hook hook() (nil for none).
func (s *suite) appendRate(hook func() journal.Hook) func() (float64, error) {
	const writers, each = 64, 600
	evs := generated(writers*each, 11)
	return func() (float64, error) {
		opts := journal.Options{}
		if h := hook(); h != nil {
			opts.Hook = h
		}
		j, err := journal.Open(s.tempDir(), opts)
		if err != nil {
			return 0, err
		}
		defer j.Close()
		var next atomic.Int64
		d, err := concurrently(writers, each, func(_, _ int) error {
			e := evs[next.Add(1)-1]
			_, err := j.Append(s.ctx, []event.Event{e}, journal.AppendOptions{})
			return err
		})
		if err != nil {
			return 0, err
		}
		return rate(writers*each, d), nil
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
)

// checkpointName is the engine checkpoint's name in the journal.
const checkpointName = "engine"

// lockedEngine is the engine as the journal's sequencer hook, behind a
// read-write lock: the sequencer holds the write lock from Begin to Commit
// or Rollback (the journal guarantees one of them follows every Begin), and
// HTTP readers render projections under the read lock, so a reader never
// sees half an append.
type lockedEngine struct {
	mu sync.RWMutex
	g  *engine.Engine
	// admitted is the last seq the state reflects (decisions included);
	// pending is what it will be at Commit. Both under mu.
	admitted, pending uint64
	// onCommit sees every event the transaction kept, with its decisions
	// (metrics and trace; may be nil); staged holds them until Commit, so
	// that a rolled-back atomic append is never counted.
	onCommit func(e *event.Event, decisions []event.Event)
	staged   []stagedEvent
}

type stagedEvent struct {
	e         *event.Event
	decisions []event.Event
}

var _ journal.Hook = (*lockedEngine)(nil)

func (l *lockedEngine) Begin(atomic bool) {
	l.mu.Lock()
	l.begin(atomic)
}

// begin, commit and rollback are the transaction under a lock held by the
// caller.
func (l *lockedEngine) begin(atomic bool) {
	l.pending = l.admitted
	l.staged = l.staged[:0]
	l.g.Begin(atomic)
}

func (l *lockedEngine) Admit(e *event.Event) ([]event.Event, *event.Error) {
	ds, err := l.g.Admit(e)
	if err == nil {
		l.pending = e.Seq + uint64(len(ds))
		if l.onCommit != nil {
			l.staged = append(l.staged, stagedEvent{e, ds})
		}
	}
	return ds, err
}

func (l *lockedEngine) Commit() {
	l.commit()
	l.mu.Unlock()
}

func (l *lockedEngine) commit() {
	l.g.Commit()
	l.admitted = l.pending
	for _, s := range l.staged {
		l.onCommit(s.e, s.decisions)
	}
	l.staged = l.staged[:0]
}

func (l *lockedEngine) Rollback() {
	l.rollback()
	l.mu.Unlock()
}

func (l *lockedEngine) rollback() {
	l.g.Rollback()
	l.staged = l.staged[:0]
}

// read runs f on the engine under the read lock.
func (l *lockedEngine) read(f func(g *engine.Engine)) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	f(l.g)
}

// daemon is the running service: the journal, the engine in its sequencer,
// the in-process handlers and the HTTP API.
type daemon struct {
	cfg       Config
	log       *slog.Logger
	j         *journal.Journal
	eng       *lockedEngine
	validator *event.Validator
	metrics   *metrics
	ready     atomic.Bool
	subsMu    sync.Mutex
	subs      []*registered // under subsMu
	start     time.Time
	stopping  chan struct{} // closed when the HTTP server shuts down: streams end
	dead      *journal.DeadLetters
	cluster   *clusterState // cluster mode (cluster.go), nil on one node
	fan       *fanout       // the SSE streams' shared reader (fanout.go)
}

// openDaemon opens the journal with the engine as its hook. The engine is
// empty until catchUp.
func openDaemon(cfg Config, log *slog.Logger, m *metrics) (*daemon, error) {
	opts := engine.Options{Enforcement: cfg.Enforcement,
		Policies: flows.PolicyConfig{Enabled: cfg.Policies, Thresholds: cfg.Thresholds}}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	d := &daemon{cfg: cfg, log: log, metrics: m, validator: event.NewValidator(cfg.MaxPayload, cfg.Boards...), start: time.Now(), stopping: make(chan struct{})}
	d.validator.MaxFuture = cfg.MaxFuture // input only: decisions and folds are not checked against the clock
	d.validator.Now = time.Now
	opts.Validator = d.validator
	d.eng = &lockedEngine{g: engine.New(opts)}
	d.eng.onCommit = d.admitted
	jopts := journal.Options{Hook: d.eng, DedupWindow: cfg.Dedup,
		Check: d.validator.Validate, Logger: log, OnCommit: m.committed}
	if err := journal.Held(cfg.DataDir); err != nil {
		return nil, err // before the cluster node writes its store there
	}
	if err := d.clusterOpen(&jopts); err != nil {
		return nil, err
	}
	j, err := journal.Open(cfg.DataDir, jopts)
	if err != nil {
		d.clusterClose()
		return nil, err
	}
	d.j = j
	d.dead = journal.NewDeadLetters(j)
	d.fan = newFanout(j, log, cfg.StreamQueue, cfg.StreamWindow)
	return d, nil
}

// admitted is called by the sequencer for every event an append kept.
func (d *daemon) admitted(e *event.Event, decisions []event.Event) {
	d.metrics.admitted(e, decisions)
	if d.cfg.Trace {
		d.log.Info("append", "type", e.Type, "seq", e.Seq, "source", e.Source, "decisions", len(decisions))
		for i := range decisions {
			d.log.Info("append", "type", decisions[i].Type, "seq", e.Seq+1+uint64(i), "source", decisions[i].Source)
		}
	}
}

// catchUp loads the engine checkpoint (if its version is this build's) and
// folds the rest of the journal, under the engine's lock; then the daemon is
// ready. A checkpoint that does not load is ignored: it is a cache.
func (d *daemon) catchUp(ctx context.Context) error {
	start := time.Now()
	var from uint64 = 1
	d.eng.mu.Lock()
	defer d.eng.mu.Unlock()
	g := d.eng.g
	cp, err := d.j.LoadCheckpoint(checkpointName)
	switch {
	case err == nil && cp.Version == engine.CheckpointVersion:
		if uerr := g.UnmarshalCheckpoint(cp.Data); errors.Is(uerr, engine.ErrThresholdsChanged) {
			d.log.Warn("the thresholds changed since the engine checkpoint; refolding the whole journal with the new ones", "err", uerr)
		} else if uerr != nil {
			d.log.Warn("ignoring the engine checkpoint; rebuilding from the journal", "err", uerr)
		} else {
			from = cp.Seq + 1
		}
	case err == nil:
		d.log.Info("ignoring an engine checkpoint of another version; rebuilding", "version", cp.Version, "want", engine.CheckpointVersion)
	case !errors.Is(err, journal.ErrNotFound):
		return fmt.Errorf("load checkpoint: %w", err)
	}
	hwm := d.j.Durable() // nothing appends before ready: Scan ends here too
	n := 0
	err = d.j.Scan(from, journal.Filter{}, func(e *event.Event) error {
		g.Fold(e)
		n++
		if n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	d.eng.admitted = hwm
	d.ready.Store(true)
	d.log.Info("caught up", "checkpoint_seq", from-1, "folded", n, "seq", hwm, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkpoint writes the engine state at the seq it reflects, once that seq
// is durable (a checkpoint must never hold an event the journal lost).
func (d *daemon) checkpoint(ctx context.Context) error {
	if !d.ready.Load() {
		return nil
	}
	var data []byte
	var seq uint64
	var err error
	d.eng.read(func(g *engine.Engine) {
		seq = d.eng.admitted
		data, err = g.MarshalCheckpoint()
	})
	if err != nil {
		return err
	}
	if err := d.j.WaitDurable(ctx, seq); err != nil {
		return err
	}
	if err := d.j.SaveCheckpoint(checkpointName, journal.Checkpoint{Version: engine.CheckpointVersion, Seq: seq, Data: data}); err != nil {
		return err
	}
	d.log.Debug("checkpoint written", "seq", seq, "bytes", len(data))
	return nil
}

// checkpointer writes the engine checkpoint. It is registered as the
// subscription "checkpointer", so it follows the journal like any handler
// (its cursor and lag are visible, daemon.md): on an event, once
// CheckpointEvery has passed since its last checkpoint, it writes one. A
// quiet journal needs none; shutdown writes the last.
type checkpointer struct {
	d    *daemon
	last time.Time // only its subscription's goroutine touches it
}

func (c *checkpointer) Name() string    { return "checkpointer" }
func (c *checkpointer) Types() []string { return nil }

func (c *checkpointer) Handle(ctx context.Context, _ *event.Event) error {
	if time.Since(c.last) < c.d.cfg.CheckpointEvery {
		return nil
	}
	if err := c.d.checkpoint(ctx); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	c.last = time.Now()
	return nil
}

// close closes the handlers, then writes the final checkpoint and closes
// the journal.
func (d *daemon) close() error {
	var subErrs []error // each subscription's last cursor save
	d.subsMu.Lock()
	for _, s := range d.subs {
		subErrs = append(subErrs, s.close())
	}
	d.subsMu.Unlock()
	d.fan.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cpErr := d.checkpoint(ctx)
	if cpErr != nil {
		d.log.Warn("final checkpoint failed", "err", cpErr)
	}
	err := d.j.Close()
	d.clusterClose()
	return errors.Join(append(subErrs, cpErr, err)...)
}

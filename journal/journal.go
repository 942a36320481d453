package journal

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
)

// Options configure a Journal. The zero value is usable: defaults are filled
// by Open.
type Options struct {
	// FS is the file system; nil means the OS. Tests pass vfs.NewMem().
	FS vfs.FS
	// InMemory keeps the whole journal in memory (a fresh vfs.NewMem; dir
	// only names it), for fixtures and tests outside this package. It
	// overrides FS.
	InMemory bool
	// DedupWindow turns content deduplication on (0 = off, the default).
	DedupWindow time.Duration
	// RejectedMax bounds the rejected log; the oldest entries are dropped
	// first. Default 1,000,000.
	RejectedMax int
	// Hook, when set, takes part in every append (state machines, policies).
	Hook Hook
	// Check validates every appended event (and every decision) before it is
	// sequenced; nil means event.Validate. Events that do not pass are refused.
	Check func(*event.Event) *event.Error
	// Logger receives the journal's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock for recorded_at; nil means time.Now.
	Now func() time.Time
	// MaxGroupEvents bounds how many events one group commit carries.
	// Default 16,384.
	MaxGroupEvents int
	// OnCommit, when set, is called after each group commit's fsync with
	// what it carried (for metrics). It runs on the journal's sync
	// goroutine: keep it short.
	OnCommit func(CommitStats)
	// OnRejected, when set, is called with the rejected-log entries of each
	// group commit once they are durable (cluster mode copies them to the
	// replicated rejected log). It runs on the journal's sync goroutine:
	// keep it short (hand the entries over).
	OnRejected func([]Rejection)
	// CacheSize and MemTableSize tune Pebble; defaults 32 MiB and 16 MiB,
	// so that a 1M-event journal peaks well under 150 MB RSS. (A 32 MiB
	// memtable was measured: a quarter less CPU on append_batch1000, but
	// 115 MB peak RSS instead of 78, WAL files twice as large, and a disk
	// reserve (Options.DiskReserve) to grow with it.)
	CacheSize    int64
	MemTableSize uint64
	// DiskReserve is the free space (bytes) an append must leave on the
	// journal's file system: below it appends are refused with ErrDiskFull
	// before anything is written, and resume once space is freed (package
	// doc, "Faults"). 0 means DefaultDiskReserve (64 MiB); -1 turns the guard
	// off. The guard is off too where free space cannot be measured.
	DiskReserve int64
	// Replica, when set, makes the journal a replica of a log of record
	// (cluster mode, replica.go).
	Replica *ReplicaOptions
	// pauseIndexer (tests) starts the journal with its indexer standing
	// still (Journal.indexPaused).
	pauseIndexer bool
}

// CommitStats describe one group commit.
type CommitStats struct {
	Requests int           // appends (and rejected-log writes) it answered
	Events   int           // seqs it journaled, decisions included
	Sync     time.Duration // from handing the batch to Pebble to its fsync
}

// Validate reports option values that cannot work, naming the field.
func (o *Options) Validate() error {
	switch {
	case o.DedupWindow < 0:
		return fmt.Errorf("journal: Options.DedupWindow: %v is negative; want 0 (off) or a positive duration", o.DedupWindow)
	case o.RejectedMax < 0:
		return fmt.Errorf("journal: Options.RejectedMax: %d is negative; want 0 (default 1,000,000) or more", o.RejectedMax)
	case o.DiskReserve < -1:
		return fmt.Errorf("journal: Options.DiskReserve: %d; want 0 (default %d bytes), a number of bytes, or -1 (no guard)", o.DiskReserve, DefaultDiskReserve)
	case o.MaxGroupEvents < 0:
		return fmt.Errorf("journal: Options.MaxGroupEvents: %d is negative", o.MaxGroupEvents)
	}
	return nil
}

func (o *Options) fill() {
	if o.RejectedMax == 0 {
		o.RejectedMax = 1_000_000
	}
	if o.InMemory {
		o.FS = vfs.NewMem()
	}
	if o.Check == nil {
		o.Check = event.Validate
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxGroupEvents == 0 {
		o.MaxGroupEvents = 16384
	}
	if o.CacheSize == 0 {
		o.CacheSize = 32 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 16 << 20
	}
	if o.DiskReserve == 0 {
		o.DiskReserve = DefaultDiskReserve
	}
}

// Journal is an open journal. All methods are safe for concurrent use.
type Journal struct {
	opts Options
	db   *pebble.DB
	log  *slog.Logger

	reqs    chan *request
	syncs   chan *group
	stop    chan struct{} // closed by Close: the sequencer drains and exits
	seqDone chan struct{} // closed when the sequencer has exited
	synDone chan struct{} // closed when the syncer has exited

	durable atomic.Uint64 // the durable high-water mark
	indexed atomic.Uint64 // the index watermark (index.go)
	// idxStop is closed by Close after the last sync: the indexer indexes
	// what is left and closes idxDone. Both nil on a read-only journal.
	idxStop, idxDone chan struct{}
	indexPaused      atomic.Bool           // tests: the indexer stands still (and Close leaves its lag)
	idxErr           atomic.Pointer[error] // why the indexer stopped (a corrupt record)
	notifyMu         sync.Mutex
	notify           chan struct{} // closed and replaced at each publish

	failed atomic.Pointer[error]
	closed atomic.Bool
	// wmu serializes every write handed to Pebble (handOver); wedged says
	// Pebble panicked on one, leaving its commit pipeline locked.
	wmu     sync.Mutex
	wedged  atomic.Bool
	closeMu sync.RWMutex // Append holds it shared so Close never races a send

	subsMu sync.Mutex
	subs   map[string]*Subscription

	fs  vfs.FS // where the journal is, for the free-space guard
	dir string

	rej rejectedState // owned by the sequencer after Open
	// rejAdded are the entries the current group added to the rejected
	// log (sequencer only; for Options.OnRejected).
	rejAdded []Rejection
	rejBuf   []byte // addRejection's encoding buffer (sequencer only)
	// owned by the sequencer goroutine:
	next    uint64 // the next seq to assign
	entropy *ulid.MonotonicEntropy
	// legacyDedup: the journal holds dedup memory of the older 'h' form.
	legacyDedup bool
	// diskFull and spaceUnknown are the guard's last state, for its logs.
	diskFull, spaceUnknown bool
	replica                *replicaState // cluster mode; owned by the sequencer
	gat                    gatherState   // how groups are shaped (gather.go)
}

// Open opens (or creates) the journal in dir.
func Open(dir string, opts Options) (*Journal, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.fill()
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		FS:                          opts.FS,
		Cache:                       cache,
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: 2, // bounds memory: at most two memtables queued
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       1000,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
		Logger:                      pebbleLogger{opts.Logger},
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, openError(dir, err)
	}
	j := &Journal{
		opts:    opts,
		db:      db,
		log:     opts.Logger,
		reqs:    make(chan *request, 1024),
		syncs:   make(chan *group, 2),
		stop:    make(chan struct{}),
		seqDone: make(chan struct{}),
		synDone: make(chan struct{}),
		notify:  make(chan struct{}),
		idxStop: make(chan struct{}),
		idxDone: make(chan struct{}),
		subs:    map[string]*Subscription{},
		entropy: ulid.Monotonic(rand.Reader, 0),
		fs:      opts.FS,
		dir:     dir,
	}
	j.gat.wake = make(chan struct{}, 1)
	if j.fs == nil {
		j.fs = vfs.Default
	}
	if err := j.initReplica(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := j.recover(); err != nil {
		_ = db.Close()
		return nil, err
	}
	go j.sequence()
	go j.syncLoop()
	j.indexPaused.Store(opts.pauseIndexer)
	go j.indexLoop()
	j.log.Info("journal open", "dir", dir, "last_seq", j.next-1, "dedup_window", opts.DedupWindow)
	return j, nil
}

// recover reads the format byte, the last seq, the index watermark (a
// format-1 journal is upgraded, index.go) and the rejected log's bounds.
func (j *Journal) recover() error {
	format := byte(FormatVersion)
	v, closer, err := j.db.Get([]byte{prefixFormat})
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := j.db.Set([]byte{prefixFormat}, []byte{FormatVersion}, pebble.Sync); err != nil {
			return fmt.Errorf("journal: write format: %w", err)
		}
	case err != nil:
		return fmt.Errorf("journal: read format: %w", err)
	default:
		format = v[0]
		closer.Close()
		if format > FormatVersion {
			return fmt.Errorf("%w: format %d, this build reads up to %d", ErrFormat, format, FormatVersion)
		}
	}
	last, err := j.lastKeySeq(prefixEvent)
	if err != nil {
		return err
	}
	j.next = last + 1
	j.durable.Store(last)
	if err := j.openIndex(format, last); err != nil {
		return err
	}
	if j.legacyDedup, err = hasLegacyDedup(j.db); err != nil {
		return err
	}
	return j.rej.load(j.db)
}

// lastKeySeq returns the seq of the last key under a one-byte seq prefix.
func (j *Journal) lastKeySeq(prefix byte) (uint64, error) {
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 9 {
		return 0, fmt.Errorf("%w: key %q", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// Durable returns the durable high-water mark: every seq up to it is on disk.
func (j *Journal) Durable() uint64 { return j.durable.Load() }

// Changed returns a channel closed at the next publish of the high-water mark.
func (j *Journal) Changed() <-chan struct{} {
	j.notifyMu.Lock()
	defer j.notifyMu.Unlock()
	return j.notify
}

// WaitDurable blocks until the high-water mark reaches seq or ctx ends.
func (j *Journal) WaitDurable(ctx context.Context, seq uint64) error {
	for {
		ch := j.Changed()
		if j.Durable() >= seq {
			return nil
		}
		if j.closed.Load() {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (j *Journal) publish(seq uint64) {
	j.durable.Store(seq)
	j.notifyMu.Lock()
	close(j.notify)
	j.notify = make(chan struct{})
	j.notifyMu.Unlock()
}

// Err returns the error that failed the journal, or nil.
func (j *Journal) Err() error {
	if p := j.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (j *Journal) fail(err error) {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	if j.failed.CompareAndSwap(nil, &err) {
		j.log.Error("journal failed; appends are refused until restart", "err", err)
	}
}

// Close stops the subscriptions, answers every append already queued, waits
// for the last sync and closes Pebble. It returns what went wrong on the way:
// a subscription's last cursor save, Pebble's close. A journal wedged by a
// failed write (package doc, "Faults") cannot close Pebble: it says so and leaves it
// open, for the process to exit.
func (j *Journal) Close() error {
	j.closeMu.Lock()
	if j.closed.Swap(true) {
		j.closeMu.Unlock()
		return ErrClosed
	}
	close(j.stop)
	j.closeMu.Unlock()

	j.subsMu.Lock()
	subs := make([]*Subscription, 0, len(j.subs))
	for _, s := range j.subs {
		subs = append(subs, s)
	}
	j.subsMu.Unlock()
	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	<-j.seqDone
	<-j.synDone
	if j.idxStop != nil {
		close(j.idxStop)
		<-j.idxDone
	}
	j.publish(j.durable.Load()) // wake waiters so they see closed
	if j.wedged.Load() {
		errs = append(errs, fmt.Errorf("journal: close: Pebble is left open, wedged by a failed write: %w", j.Err()))
	} else if err := j.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("journal: close: %w", err))
	}
	return errors.Join(errs...)
}

// pebbleLogger sends Pebble's logs to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}

package journal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/oklog/ulid/v2"
)

// Snapshot is a read-only view of a journal directory for tools (replay). It
// never writes to the directory it reads. See OpenSnapshot.
type Snapshot struct {
	*Journal
	// Copied is true when the directory was held by another process and the
	// snapshot reads a copy of it (Dir names the copy).
	Copied bool
	Dir    string
	lock   *pebble.Lock
	tmp    string
}

// snapshotAttempts bounds how often OpenSnapshot retries a copy that a
// concurrent compaction or manifest rotation made inconsistent.
const snapshotAttempts = 5

// OpenSnapshot opens the journal in dir for reading only; appends on it fail.
//
// When no other process holds the directory's lock, OpenSnapshot takes the
// lock for as long as the snapshot is open and opens Pebble read-only in
// place: nothing is written, and a daemon cannot start on the directory
// meanwhile. When a daemon holds it, Pebble cannot be opened there (a
// read-only open takes the lock too, and a checkpoint needs an open DB), so
// OpenSnapshot copies the directory into a temporary one and opens the copy:
// first the WAL files, then the markers, OPTIONS and MANIFEST, then the
// tables (hard links where the file system allows, copies otherwise). In that
// order the copy is always a prefix of the journal: the WALs read first hold
// every write the copied MANIFEST has not flushed, up to the moment they were
// read. A table deleted by a compaction while copying, or a manifest rotated,
// makes Pebble's consistency check fail at open; OpenSnapshot then retries
// with a fresh copy. Close removes the copy.
//
// The copy is made in a new directory under os.TempDir ($TMPDIR, else
// /tmp). The tables are hard-linked when TMPDIR is on the journal's file
// system and copied otherwise: for a large journal, point TMPDIR at a
// directory on the same file system. ctx ends a copy early (the copy is
// removed and ctx's error returned); an open in place does not wait on it.
func OpenSnapshot(ctx context.Context, dir string, opts Options) (*Snapshot, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if ents, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*")); err != nil || len(ents) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoJournal, dir)
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err == nil {
		j, err := openReadOnly(dir, opts, lock)
		if err != nil {
			_ = lock.Close()
			return nil, err
		}
		return &Snapshot{Journal: j, Dir: dir, lock: lock}, nil
	}
	var last error
	for attempt := 0; attempt < snapshotAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("journal: snapshot of %s: %w", dir, err)
		}
		tmp, err := os.MkdirTemp("", "ringrift-snapshot-")
		if err != nil {
			return nil, fmt.Errorf("journal: snapshot: %w", err)
		}
		if err := copyLive(ctx, dir, tmp); err != nil {
			os.RemoveAll(tmp)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("journal: snapshot of %s: %w", dir, ctx.Err())
			}
			last = err
			continue
		}
		j, err := openReadOnly(tmp, opts, nil)
		if err != nil {
			last = err
			os.RemoveAll(tmp)
			continue
		}
		return &Snapshot{Journal: j, Copied: true, Dir: tmp, tmp: tmp}, nil
	}
	return nil, fmt.Errorf("journal: snapshot of %s (held by another process): %w", dir, last)
}

// Close closes the journal, releases the lock and removes a copy.
func (s *Snapshot) Close() error {
	err := s.Journal.Close()
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
	}
	if s.tmp != "" {
		err = errors.Join(err, os.RemoveAll(s.tmp))
	}
	return err
}

func openReadOnly(dir string, opts Options, lock *pebble.Lock) (*Journal, error) {
	opts.fill()
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		FS:           vfs.Default,
		Cache:        cache,
		MemTableSize: opts.MemTableSize,
		ReadOnly:     true,
		Lock:         lock,
		Logger:       pebbleLogger{opts.Logger},
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s read-only: %w", dir, err)
	}
	j := &Journal{
		opts: opts, db: db, log: opts.Logger,
		reqs: make(chan *request, 1), syncs: make(chan *group, 1),
		stop: make(chan struct{}), seqDone: make(chan struct{}), synDone: make(chan struct{}),
		notify: make(chan struct{}), subs: map[string]*Subscription{},
		entropy: ulid.Monotonic(rand.Reader, 0),
	}
	if v, closer, err := db.Get([]byte{prefixFormat}); err != nil {
		_ = db.Close()
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s has no format key", ErrNoJournal, dir)
		}
		return nil, fmt.Errorf("journal: read format: %w", err)
	} else {
		ver := v[0]
		closer.Close()
		if ver > FormatVersion {
			_ = db.Close()
			return nil, fmt.Errorf("%w: format %d, this build reads up to %d", ErrFormat, ver, FormatVersion)
		}
	}
	last, err := j.lastKeySeq(prefixEvent)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	j.next = last + 1
	j.durable.Store(last)
	// A format-1 journal has no watermark (0): its reads scan the log.
	w, err := loadIndexed(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	j.indexed.Store(min(w, last))
	if err := j.rej.load(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	j.fail(ErrReadOnly)
	go j.sequence()
	go j.syncLoop()
	return j, nil
}

// copyLive copies a journal directory that another process may be writing,
// in the order OpenSnapshot documents, until ctx ends.
func copyLive(ctx context.Context, src, dst string) error {
	list := func() ([]string, error) {
		ents, err := os.ReadDir(src)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		return names, nil
	}
	names, err := list()
	if err != nil {
		return err
	}
	for _, n := range names { // 1: the WALs
		if strings.HasSuffix(n, ".log") {
			if err := copyFile(ctx, filepath.Join(src, n), filepath.Join(dst, n)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	if names, err = list(); err != nil {
		return err
	}
	for _, pass := range []string{"marker.", "OPTIONS-", "MANIFEST-"} { // 2: markers, options, manifest
		for _, n := range names {
			if strings.HasPrefix(n, pass) {
				if err := copyFile(ctx, filepath.Join(src, n), filepath.Join(dst, n)); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
		}
	}
	for _, n := range names { // 3: the tables and blob files, immutable
		if strings.HasSuffix(n, ".sst") || strings.HasSuffix(n, ".blob") {
			s, d := filepath.Join(src, n), filepath.Join(dst, n)
			if err := os.Link(s, d); err != nil {
				if os.IsNotExist(err) {
					continue // compacted away; the open's consistency check decides
				}
				if err := copyFile(ctx, s, d); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
		}
	}
	return nil
}

// copyChunk is how much copyFile copies between two looks at ctx.
const copyChunk = 8 << 20

// copyFile copies src to dst, a chunk at a time (each chunk in the kernel
// where it can), until ctx ends.
func copyFile(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		if _, err = io.CopyN(out, in, copyChunk); err != nil {
			break
		}
	}
	if err == io.EOF {
		return out.Close()
	}
	out.Close()
	return err
}

// Cursors returns every stored subscription cursor, by name: what is known of
// subscriptions when no daemon runs them.
func (j *Journal) Cursors() ([]Cursor, error) {
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixCursor}, UpperBound: []byte{prefixCursor + 1}})
	if err != nil {
		return nil, fmt.Errorf("journal: cursors: %w", err)
	}
	defer it.Close()
	var out []Cursor
	for ok := it.First(); ok; ok = it.Next() {
		c, err := decodeCursor(string(it.Key()[1:]), it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, it.Error()
}

// EachRejected calls fn with the stored JSON of every rejected-log entry
// (a Rejection) from rseq from on, in order, with one iterator: the cheap
// way to read a large rejected log. value is valid only during the call.
func (j *Journal) EachRejected(from uint64, fn func(rseq uint64, value []byte) error) error {
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: seqKey(prefixRejected, from), UpperBound: []byte{prefixRejected + 1}})
	if err != nil {
		return fmt.Errorf("journal: rejected log: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("journal: rejected log: %w", err)
		}
		if err := fn(seqSuffix(it.Key()), v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return it.Error()
}

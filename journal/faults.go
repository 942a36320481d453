package journal

import (
	"errors"
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// What the journal does when storage fails is in the package doc (doc.go,
// "Faults"); this file holds it.

// DefaultDiskReserve is Options.DiskReserve's default: room for a memtable
// flush (MemTableSize, 16 MiB by default), compaction output and a manifest
// rotation, with headroom.
const DefaultDiskReserve = 64 << 20

// applyGroup hands a group's batch to Pebble, synced but without waiting
// for the sync (the sync loop waits). An error is the answer of the group's
// requests that have none of their own.
func (j *Journal) applyGroup(g *group) error {
	if g.batch.Empty() {
		g.batch.Close()
		g.batch = nil
		return nil
	}
	g.applied = time.Now()
	if err := j.handOver(g.batch, true); err != nil {
		// Not closed: after a failed commit Pebble may still hold the batch.
		g.batch = nil
		if errors.Is(err, errNotHanded) {
			return j.refusedAfterFailure()
		}
		return outcomeUnknown(err)
	}
	return nil
}

// syncGroup waits for the fsync of a group's batch. An error is the answer
// of the group's requests that have none of their own.
func (j *Journal) syncGroup(g *group) error {
	written := g.batch != nil
	if written {
		err := g.batch.SyncWait()
		g.batch.Close()
		if err != nil {
			j.fail(fmt.Errorf("sync: %w", err))
			return outcomeUnknown(err)
		}
	}
	if err := j.Err(); err != nil {
		if written {
			// Synced, but an earlier group failed: if that one is not on
			// disk, neither is this one (the log is replayed in order).
			return outcomeUnknown(err)
		}
		// Nothing written: its duplicates may name events whose outcome
		// is unknown, so they cannot be answered as such.
		return j.refusedAfterFailure()
	}
	return nil
}

// refusedAfterFailure is the answer to a request not handed to Pebble
// because the journal had failed.
func (j *Journal) refusedAfterFailure() error {
	err := j.Err()
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return notLanded(err)
}

// handOver applies b to Pebble: synced without waiting (the caller calls
// b.SyncWait), or unsynced and waited for. It is the one door of writes
// after Open: it refuses once the journal failed (errNotHanded), and fails
// the journal on an error. Pebble panics (or calls Logger.Fatalf) when its
// log cannot be written; that is recovered here, and Pebble's commit
// pipeline is then stuck: the journal is wedged and Close leaves Pebble
// open.
func (j *Journal) handOver(b *pebble.Batch, sync bool) (err error) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if ferr := j.Err(); ferr != nil {
		return fmt.Errorf("%w: %w", errNotHanded, ferr)
	}
	defer func() {
		if r := recover(); r != nil {
			j.wedged.Store(true)
			err = fmt.Errorf("pebble panicked on a write: %v", r)
			j.fail(err)
		}
	}()
	if sync {
		err = j.db.ApplyNoSyncWait(b, pebble.Sync)
	} else {
		err = j.db.Apply(b, pebble.NoSync)
	}
	if err != nil {
		err = fmt.Errorf("apply: %w", err)
		j.fail(err)
	}
	return err
}

// writeMeta writes what fill puts in a batch (a cursor, a checkpoint)
// through handOver, synced or not.
func (j *Journal) writeMeta(sync bool, fill func(b *pebble.Batch)) error {
	b := j.db.NewBatch()
	fill(b)
	if err := j.handOver(b, sync); err != nil {
		if errors.Is(err, errNotHanded) {
			b.Close()
		}
		return err
	}
	if sync {
		if err := b.SyncWait(); err != nil {
			b.Close()
			err = fmt.Errorf("sync: %w", err)
			j.fail(err)
			return err
		}
	}
	b.Close()
	return nil
}

// freeSpace measures the free space of the journal's file system for the
// guard, or returns -1 when the guard is off or space cannot be measured.
func (j *Journal) freeSpace() int64 {
	if j.opts.DiskReserve < 0 {
		return -1
	}
	u, err := j.fs.GetDiskUsage(j.dir)
	if err != nil {
		if !j.spaceUnknown {
			j.spaceUnknown = true
			level := j.log.Warn
			if errors.Is(err, vfs.ErrUnsupported) {
				level = j.log.Debug
			}
			level("free space cannot be measured: the disk reserve is not enforced", "err", err)
		}
		return -1
	}
	j.spaceUnknown = false
	return int64(min(u.AvailBytes, math.MaxInt64))
}

// roomFor refuses (ErrDiskFull) a request that would leave less than the
// reserve free, counting what the group holds already.
func (j *Journal) roomFor(g *group, r *request) error {
	if g.space < 0 {
		return nil
	}
	free := g.space - int64(g.batch.Len())
	if free-requestBytes(r) >= j.opts.DiskReserve {
		if j.diskFull {
			j.diskFull = false
			j.log.Info("disk space is back above the reserve: appends resume", "free", free, "reserve", j.opts.DiskReserve)
		}
		return nil
	}
	if !j.diskFull {
		j.diskFull = true
		j.log.Warn("disk full: appends are refused until space is freed", "free", free, "reserve", j.opts.DiskReserve, "dir", j.dir)
	}
	return fmt.Errorf("%w: %d bytes free on the journal's file system, %d kept in reserve; free space and retry",
		ErrDiskFull, max(free, 0), j.opts.DiskReserve)
}

// requestBytes estimates what a request adds to the disk: each record
// twice (log and, written by the indexer behind it, the covering config
// index) plus its index keys, and its rejected-log entries.
func requestBytes(r *request) int64 {
	var n int64
	for i := range r.events {
		e := &r.events[i]
		n += 2*int64(64+len(e.Payload)+len(e.Type)+len(e.ConfigKey)+len(e.NodeID)+len(e.Source)+len(e.CausationID)+len(e.CorrelationID)) + 160
	}
	for _, rej := range r.reject {
		n += int64(256 + len(rej.Raw) + len(rej.Message) + len(rej.Hint))
	}
	return n
}

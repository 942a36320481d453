package journal

import (
	"sync/atomic"
	"time"
)

// Gathering: how the sequencer shapes group commits.
//
// Pebble syncs its log one fsync at a time, and starts the next one as soon
// as the last ends, with whatever was written meanwhile. Left to that, a
// group handed to Pebble while an fsync is in flight, or the first request
// of a returning crowd handed over alone, rides an fsync of its own: with
// 64 appenders answered together, the first to come back got an fsync and
// the other 63 the next one, two fsyncs per round where one would do (the
// group sizes alternated between 1 and 60). The sequencer therefore
//
//   - keeps collecting while a group is in flight (it could not be synced
//     before that group's fsync ends anyway), unless it already carries
//     gatherHoldEvents events: a large group (an NDJSON batch) gains little
//     from merging and is better handed to Pebble at once, so that its
//     memtable apply overlaps the fsync in flight, and
//   - once the log is idle, waits for the appenders the last fsync answered
//     to come back, for at most one fsync's time (the running estimate of
//     Sync), so that a crowd rides one fsync.
//
// Only a crowd is waited for: at least gatherMinCrowd appenders answered
// and not back yet. A lone appender never waits (the one it was answered
// with is back), nor does one that shares its groups with a few others that
// may not come back soon (a handler's dead letter, a cursor save): waiting
// an fsync's time for them every round would double its latency for
// little. An estimate that outlives its appenders (they stopped appending)
// is dropped at the first wait that runs out. This is commit_delay in
// PostgreSQL and binlog_group_commit_sync_delay in MySQL, with the delay
// and the crowd measured instead of configured. A replica (cluster mode)
// does not gather: its groups wait for the log of record, not for an fsync.
type gatherState struct {
	// inflight: groups handed to the sync loop and not yet answered.
	inflight atomic.Int64
	// returning: requests answered by the sync loop and not yet seen again
	// (an estimate: a new appender counts as a returning one).
	returning atomic.Int64
	// syncNs: the running estimate of one fsync, in nanoseconds (written by
	// the sync loop only).
	syncNs atomic.Int64
	// wake tells the sequencer that a group was answered (capacity 1).
	wake  chan struct{}
	timer *time.Timer // the sequencer's
}

// gatherMinCrowd is how many answered appenders must be on their way back
// for the sequencer to wait for them (PostgreSQL's commit_siblings).
const gatherMinCrowd = 4

// gatherHoldEvents: a group this large is not held while another is in
// flight.
const gatherHoldEvents = 256

// maxGatherWait bounds the wait for returning appenders, whatever the
// fsync estimate says.
const maxGatherWait = 2 * time.Millisecond

// received counts a request the sequencer took (sequencer only).
func (s *gatherState) received() {
	for {
		v := s.returning.Load()
		if v <= 0 || s.returning.CompareAndSwap(v, v-1) {
			return
		}
	}
}

// handed counts a group handed to the sync loop (sequencer only).
func (s *gatherState) handed() { s.inflight.Add(1) }

// answered counts a group the sync loop is about to answer: n requests,
// synced in d (0: the group wrote nothing). Sync loop only; called before
// the answers go out, so that the sequencer expects them back.
func (s *gatherState) answered(n int, d time.Duration) {
	s.returning.Add(int64(n))
	if d > 0 {
		// an exponentially weighted mean, 1/8 per fsync
		v := s.syncNs.Load()
		s.syncNs.Store(v + (int64(d)-v)/8)
	}
	s.inflight.Add(-1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// gather adds requests to g while the log is busy or appenders are on
// their way back (see gatherState); n is the group's event count so far.
// It returns early when the journal is closing.
func (j *Journal) gather(g *group, n int) {
	s := &j.gat
	if j.replica != nil {
		return
	}
	var deadline time.Time
	for n < j.opts.MaxGroupEvents {
		var timeout <-chan time.Time
		if s.inflight.Load() > 0 && n >= gatherHoldEvents {
			return
		}
		if s.inflight.Load() == 0 {
			back := s.returning.Load()
			if back <= 0 || deadline.IsZero() && back < gatherMinCrowd {
				return
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(min(time.Duration(s.syncNs.Load()), maxGatherWait))
			}
			left := time.Until(deadline)
			if left <= 0 {
				s.returning.Store(0) // they are not coming back soon
				return
			}
			if s.timer == nil {
				s.timer = time.NewTimer(left)
			} else {
				s.timer.Reset(left)
			}
			timeout = s.timer.C
		}
		select {
		case r := <-j.reqs:
			s.received()
			j.take(g, r)
			n += len(r.events) + len(r.reject)
		case <-s.wake:
		case <-timeout:
			s.returning.Store(0)
			return
		case <-j.stop:
			return
		}
		if timeout != nil {
			s.timer.Stop()
		}
	}
}

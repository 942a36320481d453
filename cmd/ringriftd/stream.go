package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// streamBatch is how many events one read of the stream takes.
const streamBatch = 1024

// maxRateLimit is the largest ?max_rate= the stream takes.
const maxRateLimit = 1_000_000

// rateParam reads ?max_rate=: nil without it; ok false after answering a
// bad value.
func rateParam(w http.ResponseWriter, r *http.Request) (capped *rateCap, ok bool) {
	q := r.URL.Query()
	if !q.Has("max_rate") {
		return nil, true
	}
	v := q.Get("max_rate")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < 1 || n > maxRateLimit {
		badParam(w, "max_rate", v, "events a second, an integer 1–1000000 (leave it out for every event)")
		return nil, false
	}
	return newRateCap(int(n)), true
}

// stream is GET /v1/stream: Server-Sent Events with the filters of GET
// /v1/events. It resumes after Last-Event-ID (or ?after=), catches up from
// the journal, then follows the durable tail; without either it starts at
// the head, live (after=0 gives everything). A comment heartbeat keeps idle
// connections open. Live events come from the daemon's fan-out (fanout.go),
// encoded once for every client; a client resuming from further back, or
// one too slow for the fan-out's queue, reads the journal itself until it
// reaches the fan-out again, so a slow client never loses an event.
//
// With ?max_rate=N the client asks for a sample instead (the dashboard
// does, docs/dashboard.md): see rateCap.
func (d *daemon) stream(w http.ResponseWriter, r *http.Request) {
	f, ok := d.filterFrom(w, r, "after", "max_rate")
	if !ok {
		return
	}
	after, ok := uintParam(w, r, "after", 0, 0)
	if !ok {
		return
	}
	capped, ok := rateParam(w, r)
	if !ok {
		return
	}
	atHead := !r.URL.Query().Has("after")
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			badParam(w, "Last-Event-ID", v, "the seq of the last event received")
			return
		}
		after, atHead = n, false
	}
	if atHead {
		// Taken before the answer's headers go out: whatever lands after
		// the client sees 200 is delivered.
		after = d.j.Durable()
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "unavailable", "", "streaming is not supported by this connection", "")
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	d.metrics.streamSubs.Inc()
	defer d.metrics.streamSubs.Dec()

	ctx := r.Context()
	heartbeat := time.NewTicker(d.cfg.Heartbeat)
	defer heartbeat.Stop()
	st := &sseWriter{w: w, rc: rc, flusher: flusher, buf: make([]byte, 0, 16<<10)}
	c := newFanClient(f, capped != nil)
	var q []*frame
	for {
		// Catch up from the journal until the fan-out takes the client.
		var err error
		if after, err = d.catchUpStream(st, f, after, capped); err != nil {
			return
		}
		if !d.fan.join(c, after) {
			continue
		}
		for {
			select {
			case <-ctx.Done():
				d.fan.leave(c)
				return
			case <-d.stopping:
				d.fan.leave(c)
				return
			case <-heartbeat.C:
				if st.write(": heartbeat\n\n") != nil {
					d.fan.leave(c)
					return
				}
				continue
			case <-capped.timer():
			case <-c.wake:
			}
			var dropped bool
			var resume uint64
			q, dropped, resume = c.take(q)
			for i, fr := range q {
				if fr.seq > after { // frames up to the join's position were sent from the journal
					if capped != nil {
						capped.add(fr)
					} else {
						st.buf = fr.appendTo(st.buf)
					}
					after = fr.seq
				}
				q[i] = nil
			}
			if capped != nil {
				capped.write(st, time.Now())
			}
			if err := st.flush(); err != nil {
				d.fan.leave(c)
				return
			}
			if dropped {
				// Too far behind: read the journal from where the queue
				// ended, then join again.
				d.metrics.streamDrops.Inc()
				after = max(after, resume)
				break
			}
		}
	}
}

// sseWriter writes a stream's messages.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	flusher http.Flusher
	buf     []byte
}

func (s *sseWriter) write(msg string) error {
	s.buf = append(s.buf, msg...)
	return s.flush()
}

// flush writes what buf holds, if anything.
func (s *sseWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return err
	}
	s.flusher.Flush()
	return nil
}

// catchUpStream sends the events matching f after `after` from the
// journal, up to its durable mark, and returns the seq it covered. With a
// rate cap they go through it instead (it keeps the newest it may send).
func (d *daemon) catchUpStream(st *sseWriter, f journal.Filter, after uint64, capped *rateCap) (uint64, error) {
	for {
		hwm := d.j.Durable() // the scan covers at least this far
		n := 0
		last := after
		var batch []frame // capped: the events, encoded only if sent
		err := d.j.Scan(after+1, f, func(e *event.Event) error {
			if capped != nil {
				batch = append(batch, frame{seq: e.Seq, ev: *e})
			} else {
				st.buf = appendFrame(st.buf, e)
			}
			last = e.Seq
			n++
			if n >= streamBatch {
				return journal.ErrStop
			}
			return nil
		})
		if err != nil {
			d.log.Warn("stream read failed", "err", err)
			return after, err
		}
		// A filtered scan skips non-matching events: resume after the
		// durable mark it covered, not only after the last match.
		if n < streamBatch {
			last = max(last, hwm)
		}
		if capped != nil {
			for i := range batch {
				capped.add(&batch[i])
			}
			capped.write(st, time.Now())
		}
		if err := st.flush(); err != nil {
			return after, err
		}
		after = last
		if n < streamBatch {
			return after, nil
		}
	}
}

// rateCap is a stream's ?max_rate=N, for a client that wants to see the
// stream move, not every event (a dashboard at tens of thousands of events
// a second): it writes at most ten times a second (every 1/N s when N <
// 10), each time the newest N/10 (at least one) of the matching events
// that arrived since the last write, after one "skipped" message that
// counts the others and names the last of them:
//
//	id: 1234
//	event: skipped
//	data: {"count":873,"through":1234}
//
// Its id is that seq, so a client resuming with Last-Event-ID resumes
// after what was skipped, not before it. Events still go out in seq order,
// and the newest one always goes out (within one interval). A nil
// *rateCap is no cap.
type rateCap struct {
	every   time.Duration
	keep    int
	next    time.Time   // no write before this
	q       []*frame    // waiting, oldest first; at most 2×keep
	count   uint64      // matching events left out since the last write
	through uint64      // the last of them
	t       *time.Timer // fires at next while events wait
	armed   bool
}

func newRateCap(perSec int) *rateCap {
	every := max(100*time.Millisecond, time.Second/time.Duration(perSec))
	keep := max(1, int(int64(perSec)*int64(every)/int64(time.Second)))
	return &rateCap{every: every, keep: keep}
}

// add queues a matching event's frame (from the fan-out, or made from the
// journal in the catch-up: encoded only if it is sent), leaving out the
// oldest waiting when more than keep wait.
func (c *rateCap) add(fr *frame) {
	c.q = append(c.q, fr)
	if len(c.q) >= 2*c.keep {
		c.skip(len(c.q) - c.keep)
	}
}

// skip leaves out the oldest n waiting events.
func (c *rateCap) skip(n int) {
	c.count += uint64(n)
	c.through = c.q[n-1].seq
	m := copy(c.q, c.q[n:])
	clear(c.q[m:]) // let go of the frames
	c.q = c.q[:m]
}

// write appends what may go out now to st's buffer: nothing before the
// interval since the last write is over (the timer is armed for then).
func (c *rateCap) write(st *sseWriter, now time.Time) {
	if c == nil || len(c.q) == 0 {
		return
	}
	c.armed = false
	if now.Before(c.next) {
		c.arm(c.next.Sub(now))
		return
	}
	if n := len(c.q) - c.keep; n > 0 {
		c.skip(n)
	}
	if c.count > 0 {
		st.buf = appendSkipped(st.buf, c.count, c.through)
		c.count = 0
	}
	for i, fr := range c.q {
		st.buf = fr.appendTo(st.buf)
		c.q[i] = nil
	}
	c.q = c.q[:0]
	c.next = now.Add(c.every)
}

// arm makes the timer fire after d (a timer of Go ≥ 1.23: Reset drops a
// value it had sent and nobody received).
func (c *rateCap) arm(d time.Duration) {
	if c.t == nil {
		c.t = time.NewTimer(d)
	} else {
		c.t.Reset(d)
	}
	c.armed = true
}

// timer is the channel to wait on for the next write: nil (never) when
// there is no cap or nothing waits for it.
func (c *rateCap) timer() <-chan time.Time {
	if c == nil || !c.armed {
		return nil
	}
	return c.t.C
}

// appendSkipped appends a capped stream's "skipped" message.
func appendSkipped(b []byte, count, through uint64) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, through, 10)
	b = append(b, "\nevent: skipped\ndata: {\"count\":"...)
	b = strconv.AppendUint(b, count, 10)
	b = append(b, ",\"through\":"...)
	b = strconv.AppendUint(b, through, 10)
	return append(b, "}\n\n"...)
}

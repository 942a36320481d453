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

// stream is GET /v1/stream: Server-Sent Events with the filters of GET
// /v1/events. It resumes after Last-Event-ID (or ?after=), catches up from
// the journal, then follows the durable tail; without either it starts at
// the head, live (after=0 gives everything). A comment heartbeat keeps idle
// connections open. Live events come from the daemon's fan-out (fanout.go),
// encoded once for every client; a client resuming from further back, or
// one too slow for the fan-out's queue, reads the journal itself until it
// reaches the fan-out again, so a slow client never loses an event.
func (d *daemon) stream(w http.ResponseWriter, r *http.Request) {
	f, ok := d.filterFrom(w, r)
	if !ok {
		return
	}
	after, ok := uintParam(w, r, "after", 0, 0)
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
	c := newFanClient(f)
	var q []*frame
	for {
		// Catch up from the journal until the fan-out takes the client.
		var err error
		if after, err = d.catchUpStream(st, f, after); err != nil {
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
			case <-c.wake:
			}
			var dropped bool
			var resume uint64
			q, dropped, resume = c.take(q)
			for i, fr := range q {
				if fr.seq > after { // frames up to the join's position were sent from the journal
					st.buf = append(st.buf, fr.b...)
					after = fr.seq
				}
				q[i] = nil
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
// journal, up to its durable mark, and returns the seq it covered.
func (d *daemon) catchUpStream(st *sseWriter, f journal.Filter, after uint64) (uint64, error) {
	for {
		hwm := d.j.Durable() // the scan covers at least this far
		n := 0
		last := after
		err := d.j.Scan(after+1, f, func(e *event.Event) error {
			st.buf = appendFrame(st.buf, e)
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
		if err := st.flush(); err != nil {
			return after, err
		}
		after = last
		if n < streamBatch {
			return after, nil
		}
	}
}

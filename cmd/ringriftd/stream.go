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
// connections open. Each client reads the journal itself, so a slow client
// slows only itself and never loses an event.
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
	buf := make([]byte, 0, 16<<10)
	for {
		changed := d.j.Changed() // taken before reading: no publish is missed
		hwm := d.j.Durable()     // the scan covers at least this far
		n := 0
		last := after
		err := d.j.Scan(after+1, f, func(e *event.Event) error {
			buf = append(buf, "id: "...)
			buf = strconv.AppendUint(buf, e.Seq, 10)
			buf = append(buf, "\nevent: "...)
			buf = append(buf, e.Type...)
			buf = append(buf, "\ndata: "...)
			buf = e.AppendJSON(buf)
			buf = append(buf, "\n\n"...)
			last = e.Seq
			n++
			if n >= streamBatch {
				return journal.ErrStop
			}
			return nil
		})
		if err != nil {
			d.log.Warn("stream read failed", "err", err)
			return
		}
		// A filtered scan skips non-matching events: resume after the
		// durable mark it covered, not only after the last match.
		if n < streamBatch {
			last = max(last, hwm)
		}
		if len(buf) > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := w.Write(buf); err != nil {
				return
			}
			flusher.Flush()
			buf = buf[:0]
		}
		after = last
		if n >= streamBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-d.stopping:
			return
		case <-changed:
		case <-heartbeat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := w.Write([]byte(": heartbeat\n\n")); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

package main

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// The SSE fan-out: one goroutine reads each durable event once, encodes its
// SSE frame once and hands the shared bytes to every live client of GET
// /v1/stream whose filters match. When every client is a sample
// (?max_rate=, the dashboard), it does not encode at all: each client
// encodes the few events it sends. A client resuming from before the
// fan-out's window, or one that falls more than fanQueue frames behind,
// reads the journal itself until it reaches the fan-out again; the join
// is one step under the fan-out's lock, so nothing is skipped or sent twice.
const (
	// fanWindow is how many recent frames the fan-out keeps, so that a
	// client a little behind it (a reconnect, one just caught up) joins
	// without reading the journal again.
	fanWindow = 8192
	// fanQueue is how many frames a client may have waiting before it is
	// dropped from the fan-out to catch up from the journal itself: a
	// slow client costs memory up to this bound, never an event.
	fanQueue = 16384
)

// frame is one event and its SSE message, encoded once for all clients —
// unless only sampled clients were there to read it (b nil): a client then
// encodes it when it sends it. A frame does not change once dispatched.
type frame struct {
	seq uint64
	ev  event.Event
	b   []byte // "id: …\nevent: …\ndata: …\n\n", or nil
}

// appendTo appends fr's SSE message to b.
func (fr *frame) appendTo(b []byte) []byte {
	if fr.b != nil {
		return append(b, fr.b...)
	}
	return appendFrame(b, &fr.ev)
}

// appendFrame appends e's SSE message to b.
func appendFrame(b []byte, e *event.Event) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	b = e.AppendJSON(b)
	return append(b, "\n\n"...)
}

// matcher is a journal.Filter applied to frames, with the journal's
// semantics: types and category are a union; an unknown category matches
// nothing; since ≤ time < until.
type matcher struct {
	f     journal.Filter
	types map[string]bool // nil: every type
}

func newMatcher(f journal.Filter) matcher {
	m := matcher{f: f}
	if len(f.Types) == 0 && f.Category == "" {
		return m
	}
	m.types = map[string]bool{}
	for _, t := range f.Types {
		m.types[t] = true
	}
	if f.Category != "" {
		for _, t := range event.Default().Category(f.Category) {
			m.types[t] = true
		}
		if len(m.types) == 0 {
			m.types[""] = true
		}
	}
	return m
}

func (m *matcher) match(fr *frame) bool {
	switch {
	case m.types != nil && !m.types[fr.ev.Type],
		m.f.ConfigKey != "" && fr.ev.ConfigKey != m.f.ConfigKey,
		m.f.NodeID != "" && fr.ev.NodeID != m.f.NodeID,
		!m.f.Since.IsZero() && fr.ev.Time.Before(m.f.Since),
		!m.f.Until.IsZero() && !fr.ev.Time.Before(m.f.Until):
		return false
	}
	return true
}

// fanClient is one stream's place in the fan-out.
type fanClient struct {
	m       matcher
	sampled bool          // ?max_rate=: encodes what it sends itself
	wake    chan struct{} // capacity 1: frames are waiting, or it was dropped

	mu      sync.Mutex
	q       []*frame // matching frames not yet written, in seq order
	dropped bool     // removed from the fan-out: catch up from the journal
	resume  uint64   // when dropped: every matching event ≤ resume was queued
}

func newFanClient(f journal.Filter, sampled bool) *fanClient {
	return &fanClient{m: newMatcher(f), sampled: sampled, wake: make(chan struct{}, 1)}
}

func (c *fanClient) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take returns the waiting frames (reusing spare's array) and whether the
// client was dropped, with the seq it covers then.
func (c *fanClient) take(spare []*frame) (q []*frame, dropped bool, resume uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, c.q = c.q, spare[:0]
	return q, c.dropped, c.resume
}

// fanout is the daemon's one reader of the durable tail for the streams.
type fanout struct {
	j             *journal.Journal
	log           *slog.Logger
	quit          chan struct{}
	done          chan struct{}
	wake          chan struct{} // capacity 1: a client joined
	queue, window int           // fanQueue, fanWindow unless configured

	mu      sync.Mutex
	started bool
	closed  bool
	pos     uint64   // every event ≤ pos was handed to the clients joined then
	win     []*frame // the frames pos-len(win)+1 … pos, at most 2×window
	clients map[*fanClient]struct{}
	full    int // clients not sampled: the frames are encoded for them
}

// newFanout makes the fan-out of j; queue and window 0 take fanQueue and
// fanWindow. Its reader starts with the first stream.
func newFanout(j *journal.Journal, log *slog.Logger, queue, window int) *fanout {
	if queue <= 0 {
		queue = fanQueue
	}
	if window <= 0 {
		window = fanWindow
	}
	return &fanout{j: j, log: log, quit: make(chan struct{}), done: make(chan struct{}),
		wake: make(chan struct{}, 1), clients: map[*fanClient]struct{}{}, queue: queue, window: window}
}

// join adds c, which has every matching event ≤ after, to the fan-out. It
// returns false when after is before the fan-out's window: the client
// must read further from the journal first. On success the window's
// matching frames after `after` are already queued for c, and every later
// one will be; frames ≤ after may still arrive and are the client's to
// skip.
func (fo *fanout) join(c *fanClient, after uint64) bool {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if fo.closed {
		return false
	}
	if !fo.started {
		fo.started = true
		go fo.run()
	}
	winStart := fo.pos + 1 - uint64(len(fo.win))
	switch {
	case after >= fo.pos:
		if len(fo.clients) == 0 && after > fo.pos {
			// Nobody to serve in between: move the fan-out up to the
			// client rather than make it wait for old events — never past
			// the durable mark (a Last-Event-ID from the future waits
			// there, skipping what it has), or streams joining from the
			// journal could never reach it.
			pos := min(after, fo.j.Durable())
			if pos > fo.pos {
				fo.pos, fo.win = pos, nil
			}
		}
	case after+1 >= winStart:
		c.mu.Lock()
		for _, fr := range fo.win[after+1-winStart:] {
			if c.m.match(fr) {
				c.q = append(c.q, fr)
			}
		}
		c.mu.Unlock()
		c.signal()
	default:
		return false
	}
	fo.add(c)
	select {
	case fo.wake <- struct{}{}:
	default:
	}
	return true
}

// leave removes c (a no-op when it was dropped).
func (fo *fanout) leave(c *fanClient) {
	fo.mu.Lock()
	fo.remove(c)
	fo.mu.Unlock()
}

// add and remove keep the clients and the count of full ones (fo.mu held).
func (fo *fanout) add(c *fanClient) {
	if _, in := fo.clients[c]; !in && !c.sampled {
		fo.full++
	}
	fo.clients[c] = struct{}{}
}

func (fo *fanout) remove(c *fanClient) {
	if _, in := fo.clients[c]; in && !c.sampled {
		fo.full--
	}
	delete(fo.clients, c)
}

// close stops the reader and waits for it; joins fail from now on.
func (fo *fanout) close() {
	fo.mu.Lock()
	started := fo.started
	if !fo.closed {
		fo.closed = true
		close(fo.quit)
	}
	fo.mu.Unlock()
	if started {
		<-fo.done
	}
}

// run reads the durable tail while there are clients.
func (fo *fanout) run() {
	defer close(fo.done)
	var scratch []byte
	var ends []int
	var frames []*frame
	for {
		changed := fo.j.Changed() // taken before reading: no publish is missed
		fo.mu.Lock()
		idle := len(fo.clients) == 0
		encode := fo.full > 0 // a full client joining after this encodes what it takes
		from := fo.pos + 1
		fo.mu.Unlock()
		hwm := fo.j.Durable()
		if idle || from > hwm {
			var tick <-chan struct{}
			if !idle {
				tick = changed
			}
			select {
			case <-fo.quit:
				return
			case <-fo.wake:
			case <-tick:
			}
			continue
		}
		// One array for the batch's frames and one for their messages
		// (no allocation per event): shared with the clients until they
		// have written them, never reused.
		batch := make([]frame, 0, min(streamBatch, hwm-from+1))
		err := fo.j.Scan(from, journal.Filter{}, func(e *event.Event) error {
			batch = append(batch, frame{seq: e.Seq, ev: *e})
			if len(batch) >= streamBatch {
				return journal.ErrStop
			}
			return nil
		})
		frames = frames[:0]
		for i := range batch {
			frames = append(frames, &batch[i])
		}
		if encode {
			scratch, ends = scratch[:0], ends[:0]
			for _, fr := range frames {
				scratch = appendFrame(scratch, &fr.ev)
				ends = append(ends, len(scratch))
			}
			buf := append([]byte(nil), scratch...)
			start := 0
			for i, fr := range frames {
				fr.b = buf[start:ends[i]:ends[i]]
				start = ends[i]
			}
		}
		if err != nil {
			fo.log.Warn("stream fan-out read failed; streams read the journal themselves", "err", err)
			fo.dropAll()
			select {
			case <-fo.quit:
				return
			case <-time.After(time.Second):
			}
			continue
		}
		fo.dispatch(from, frames)
	}
}

// dispatch hands frames (from, from+1, …) to the clients, unless the
// fan-out was moved while they were read.
func (fo *fanout) dispatch(from uint64, frames []*frame) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if len(frames) == 0 || fo.pos+1 != from {
		return
	}
	for c := range fo.clients {
		c.mu.Lock()
		got := false
		for _, fr := range frames {
			if !c.m.match(fr) {
				continue
			}
			if len(c.q) >= fo.queue {
				c.dropped, c.resume = true, fr.seq-1
				fo.remove(c)
				got = true
				break
			}
			c.q = append(c.q, fr)
			got = true
		}
		c.mu.Unlock()
		if got {
			c.signal()
		}
	}
	fo.win = append(fo.win, frames...)
	if len(fo.win) > 2*fo.window {
		fo.win = append([]*frame(nil), fo.win[len(fo.win)-fo.window:]...)
	}
	fo.pos = frames[len(frames)-1].seq
}

// dropAll sends every client back to the journal.
func (fo *fanout) dropAll() {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	for c := range fo.clients {
		c.mu.Lock()
		c.dropped, c.resume = true, fo.pos
		c.mu.Unlock()
		c.signal()
		fo.remove(c)
	}
}

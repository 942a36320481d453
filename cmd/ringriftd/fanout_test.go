package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sseReader reads the ids and the messages of one stream in the
// background.
type sseReader struct {
	mu   sync.Mutex
	ids  []uint64
	msgs []sseMsg
	err  error
	done chan struct{}
}

// sseMsg is one message of a stream.
type sseMsg struct {
	id   uint64
	typ  string
	data string
}

// openSSE opens GET /v1/stream+q (with Last-Event-ID when lastID != "")
// and records every id; it stops after stopAfter ids (0: never) or when
// ctx ends. slow is a pause after each id, a client reading slower than
// the events come.
func openSSE(t *testing.T, ctx context.Context, base, q, lastID string, stopAfter int, slow time.Duration) *sseReader {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/stream"+q, nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	r := &sseReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var m sseMsg
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				m.typ = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				m.data = v
			} else if line == "" && m.data != "" {
				r.mu.Lock()
				r.msgs = append(r.msgs, m)
				r.mu.Unlock()
				m = sseMsg{}
			}
			v, ok := strings.CutPrefix(line, "id: ")
			if !ok {
				continue
			}
			seq, err := strconv.ParseUint(v, 10, 64)
			m.id = seq
			r.mu.Lock()
			r.ids = append(r.ids, seq)
			if err != nil {
				r.err = fmt.Errorf("bad id %q", v)
			}
			n := len(r.ids)
			r.mu.Unlock()
			if stopAfter > 0 && n >= stopAfter {
				return
			}
			if slow > 0 {
				time.Sleep(slow)
			}
		}
	}()
	return r
}

func (r *sseReader) got() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.ids...)
}

func (r *sseReader) messages() []sseMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sseMsg(nil), r.msgs...)
}

// journaled is what GET /v1/events says the journal holds.
type journaled struct {
	Seq       uint64 `json:"seq"`
	Type      string `json:"type"`
	ConfigKey string `json:"config_key"`
	NodeID    string `json:"node_id"`
}

func readJournal(t *testing.T, base string) []journaled {
	t.Helper()
	resp, err := http.Get(base + "/v1/events?after=0&limit=10000")
	require.NoError(t, err)
	defer resp.Body.Close()
	var page struct{ Events []journaled }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	return page.Events
}

func durableSeq(t *testing.T, base string) uint64 {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct{ Seq uint64 }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	return r.Seq
}

// postMixed posts n batches of 20 events: new_games over three configs and
// health_check_failed over two nodes.
func postMixed(t *testing.T, base string, from, n int) {
	configs := []string{"hex8_2p", "square8_2p", "square8_4p"}
	for b := from; b < from+n; b++ {
		var body strings.Builder
		for i := 0; i < 20; i++ {
			k := b*20 + i
			if k%3 == 0 {
				fmt.Fprintf(&body, `{"type":"health_check_failed","node_id":"gpu-%d","payload":{}}`+"\n", k%2+1)
			} else {
				fmt.Fprintf(&body, `{"type":"new_games","config_key":"%s","payload":{"games":%d}}`+"\n", configs[(k/3)%3], k)
			}
		}
		code, _ := post(t, base+"/v1/events?atomic=false", "application/x-ndjson", body.String())
		assert.Equal(t, 200, code)
	}
}

// TestStreamFanout: many streams with different filters and starting
// points, a slow one, one that reconnects and one that joins under load,
// over a fan-out so small (queue 4, window 8) that every stream keeps
// falling out of it to the journal and back. Each one sees exactly the
// seqs it should, in order, none twice.
func TestStreamFanout(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) {
		c.Policies = 0
		c.StreamQueue, c.StreamWindow = 4, 8
	})
	postMixed(t, base, 0, 3)
	head := durableSeq(t, base)
	require.Equal(t, uint64(60), head)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all := func(journaled) bool { return true }
	type client struct {
		name       string
		q, lastID  string
		after      uint64 // expected: the seqs after this that match
		match      func(journaled) bool
		slow       time.Duration
		r          *sseReader
		reconnectN int // read this many, then reconnect with Last-Event-ID
	}
	clients := []*client{
		{name: "head", after: head, match: all},
		{name: "after=0", q: "?after=0", match: all},
		{name: "Last-Event-ID", lastID: "17", after: 17, match: all},
		{name: "type", q: "?after=0&type=health_check_failed", match: func(e journaled) bool { return e.Type == "health_check_failed" }},
		{name: "config", q: "?after=5&config=hex8_2p", after: 5, match: func(e journaled) bool { return e.ConfigKey == "hex8_2p" }},
		{name: "node at head", q: "?node=gpu-2", after: head, match: func(e journaled) bool { return e.NodeID == "gpu-2" }},
		{name: "slow", q: "?after=0", match: all, slow: 2 * time.Millisecond},
		{name: "slow config", q: "?after=0&config=square8_4p", match: func(e journaled) bool { return e.ConfigKey == "square8_4p" }, slow: time.Millisecond},
		{name: "reconnects", q: "?after=0", match: all, reconnectN: 150},
	}
	// First in the fan-out: a Last-Event-ID from the future. It waits for
	// the journal to get there, and must not take the fan-out with it.
	future := openSSE(t, ctx, base, "", "1000000", 0, 0)
	time.Sleep(20 * time.Millisecond)
	for _, c := range clients {
		c.r = openSSE(t, ctx, base, c.q, c.lastID, c.reconnectN, c.slow)
	}
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			postMixed(t, base, 100+w*100, 15)
		}(w)
	}
	// A stream joining under load from far back, and the reconnect.
	late := &client{name: "late", lastID: "3", after: 3, match: all}
	time.Sleep(50 * time.Millisecond)
	late.r = openSSE(t, ctx, base, "", late.lastID, 0, 0)
	clients = append(clients, late)
	rc := clients[len(clients)-2]
	<-rc.r.done
	first := rc.r.got()
	require.Len(t, first, rc.reconnectN)
	rc.r = openSSE(t, ctx, base, "", strconv.FormatUint(first[len(first)-1], 10), 0, 0)
	wg.Wait()

	events := readJournal(t, base)
	require.Len(t, events, int(durableSeq(t, base)), "every seq in one page")
	for _, c := range clients {
		var want []uint64
		for _, e := range events {
			if e.Seq > c.after && c.match(e) {
				want = append(want, e.Seq)
			}
		}
		require.NotEmpty(t, want, c.name)
		deadline := time.Now().Add(60 * time.Second)
		for {
			got := c.r.got()
			if len(got) > 0 && got[len(got)-1] >= want[len(want)-1] || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		got := c.r.got()
		if c.reconnectN > 0 {
			got = append(first, got...)
		}
		assert.Equal(t, want, got, "stream %q", c.name)
		assert.NoError(t, c.r.err, c.name)
	}
	assert.Empty(t, future.got(), "a stream resuming after seq 1000000")
	// The small queue really sent streams back to the journal.
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var drops float64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ringriftd_stream_catchups_total "); ok {
			drops, _ = strconv.ParseFloat(v, 64)
		}
	}
	assert.Positive(t, drops, "no stream fell out of the fan-out: the test did not exercise the switch")
	cancel()
}

// TestStreamFanoutSampledOnly: while only sampled streams (?max_rate=)
// read the fan-out it does not encode the events; a full stream that then
// joins from the fan-out's window encodes them itself, and gets every
// event, each message its envelope.
func TestStreamFanoutSampledOnly(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sampled := openSSE(t, ctx, base, "?max_rate=10", "", 0, 0)
	waitID := func(r *sseReader, seq uint64) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if got := r.got(); len(got) > 0 && got[len(got)-1] == seq {
				return
			}
			require.True(t, time.Now().Before(deadline), "stream never reached seq %d: %v", seq, r.got())
			time.Sleep(5 * time.Millisecond)
		}
	}
	postMixed(t, base, 0, 1)
	waitID(sampled, 20) // the sampled stream is in the fan-out
	postMixed(t, base, 1, 10)
	head := durableSeq(t, base)
	waitID(sampled, head) // and the fan-out has read everything

	msgs := readStream(t, base, "", "20", func(msgs []sseMsg) bool { return msgs[len(msgs)-1].id == head })
	events := readJournal(t, base)
	require.Len(t, msgs, len(events)-20)
	for i, m := range msgs {
		want := events[20+i]
		require.Equal(t, want.Seq, m.id)
		assert.Equal(t, want.Type, m.typ)
		var e journaled
		require.NoError(t, json.Unmarshal([]byte(m.data), &e), m.data)
		assert.Equal(t, want, e)
	}
}

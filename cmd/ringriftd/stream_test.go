package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// streamIDs opens GET /v1/stream (query q, optional Last-Event-ID) and
// returns its first n ids; then posts, once the stream is open, what
// onOpen returns (nothing when nil).
func streamIDs(t *testing.T, base, q, lastID string, n int, onOpen func()) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := openSSE(t, ctx, base, q, lastID, n, 0)
	if onOpen != nil {
		go onOpen()
	}
	<-r.done
	var ids []string
	for _, seq := range r.got() {
		ids = append(ids, strconv.FormatUint(seq, 10))
	}
	return ids
}

// TestStreamStartsAtHead: without Last-Event-ID or after the stream is live
// (daemon.md): it starts at the head, so the first event it sends is the
// first one appended after it opened; after=0 sends everything.
func TestStreamStartsAtHead(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	postGames := func(i int) {
		code, _ := post(t, base+"/v1/events", "application/json", fmt.Sprintf(`{"type":"new_games","config_key":"hex8_2p","payload":{"games":%d}}`, i))
		assert.Equal(t, 200, code)
	}
	for i := 0; i < 3; i++ {
		postGames(i)
	}
	t.Run("no position: live from the head", func(t *testing.T) {
		ids := streamIDs(t, base, "", "", 1, func() { postGames(10) })
		assert.Equal(t, []string{"4"}, ids, "seqs 1-3 were journaled before the stream opened")
	})
	t.Run("after=0: everything", func(t *testing.T) {
		ids := streamIDs(t, base, "?after=0", "", 4, nil)
		assert.Equal(t, []string{"1", "2", "3", "4"}, ids)
	})
	t.Run("after=2 with filters", func(t *testing.T) {
		ids := streamIDs(t, base, "?after=2&type=new_games", "", 2, nil)
		assert.Equal(t, []string{"3", "4"}, ids)
	})
	t.Run("Last-Event-ID wins over the head", func(t *testing.T) {
		ids := streamIDs(t, base, "", "1", 3, nil)
		assert.Equal(t, []string{"2", "3", "4"}, ids)
	})
}

// readStream opens GET /v1/stream+q (with Last-Event-ID when lastID !=
// "") and returns its messages once done says it has enough, or after 60 s
// (the test then fails on what it got).
func readStream(t *testing.T, base, q, lastID string, done func([]sseMsg) bool) []sseMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := openSSE(t, ctx, base, q, lastID, 0, 0)
	for {
		msgs := r.messages()
		if len(msgs) > 0 && done(msgs) || ctx.Err() != nil {
			return msgs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamMaxRate: with ?max_rate=N the stream is a sample (what the
// dashboard reads): events in seq order, every one matching the filters,
// the newest always sent, and "skipped" messages that count exactly the
// matching events left out and carry the last one's seq as their id — over
// the catch-up from the journal and the live tail.
func TestStreamMaxRate(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Policies = 0 })
	postMixed(t, base, 0, 10) // 200 events: the catch-up
	for _, tc := range []struct {
		name, q string
		match   func(journaled) bool
	}{
		{"everything", "?after=0&max_rate=10", func(journaled) bool { return true }},
		{"filtered", "?after=0&max_rate=20&type=health_check_failed", func(e journaled) bool { return e.Type == "health_check_failed" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			posted := make(chan struct{})
			go func() { // the live tail: posted once the stream is open
				defer close(posted)
				time.Sleep(50 * time.Millisecond)
				postMixed(t, base, 100, 10)
			}()
			var last uint64 // the last matching seq, once the posts are done
			msgs := readStream(t, base, tc.q, "", func(msgs []sseMsg) bool {
				select {
				case <-posted:
				default:
					return false
				}
				if last == 0 {
					for _, e := range readJournal(t, base) {
						if tc.match(e) {
							last = e.Seq
						}
					}
				}
				return msgs[len(msgs)-1].id == last
			})
			<-posted
			events := readJournal(t, base)
			var want []uint64 // every matching event
			for _, e := range events {
				if tc.match(e) {
					want = append(want, e.Seq)
				}
			}
			// Replay the messages against the journal: each event is the
			// next matching one after those skipped; each skipped message
			// covers exactly count matching events, up to its id.
			i, sent, skips := 0, 0, 0
			for _, m := range msgs {
				if m.typ == "skipped" {
					var s struct{ Count, Through uint64 }
					require.NoError(t, json.Unmarshal([]byte(m.data), &s))
					require.Positive(t, s.Count)
					require.LessOrEqual(t, i+int(s.Count), len(want), "skipped more than there was")
					i += int(s.Count)
					assert.Equal(t, want[i-1], s.Through, "through: the last skipped seq")
					assert.Equal(t, s.Through, m.id, "the id: a resume starts after what was skipped")
					skips++
					continue
				}
				require.Less(t, i, len(want), "an event after the last matching one: %+v", m)
				assert.Equal(t, want[i], m.id, "the next matching event after those skipped")
				var e journaled
				require.NoError(t, json.Unmarshal([]byte(m.data), &e))
				assert.Equal(t, m.id, e.Seq)
				assert.Equal(t, e.Type, m.typ)
				i++
				sent++
			}
			assert.Equal(t, len(want), i, "every matching event sent or counted")
			assert.Positive(t, skips, "the cap left events out")
			assert.Less(t, sent, len(want)/2, "most events were left out")
		})
	}
	t.Run("a bad max_rate is refused, naming it", func(t *testing.T) {
		for _, v := range []string{"0", "-1", "many", "1000001"} {
			code, b := get(t, base+"/v1/stream?max_rate="+v)
			assert.Equal(t, 400, code, v)
			assert.Contains(t, string(b), `"field":"max_rate"`, v)
		}
	})
}

// TestRateCapWrites: what one capped stream writes, and when, by the
// clock it is given: the newest keep of what waits, after one skipped
// message; nothing before the interval is over; then the rest.
func TestRateCapWrites(t *testing.T) {
	c := newRateCap(100) // 10 a write, every 100 ms
	require.Equal(t, 100*time.Millisecond, c.every)
	require.Equal(t, 10, c.keep)
	st := &sseWriter{}
	ids := func() string {
		var out []string
		for _, m := range strings.Split(strings.TrimSpace(string(st.buf)), "\n\n") {
			id, _, _ := strings.Cut(strings.TrimPrefix(m, "id: "), "\n")
			if strings.Contains(m, "event: skipped") {
				id = "skip" + id + strings.TrimPrefix(m[strings.Index(m, "data: "):], "data: ")
			}
			out = append(out, id)
		}
		st.buf = st.buf[:0]
		return strings.Join(out, " ")
	}
	newFrame := func(seq uint64) *frame { // encoded by the fan-out, or not
		fr := &frame{seq: seq, ev: event.Event{Seq: seq, Type: "new_games"}}
		if seq%2 == 0 {
			fr.b = appendFrame(nil, &fr.ev)
		}
		return fr
	}
	t0 := time.Unix(1_000_000, 0)
	for s := uint64(1); s <= 25; s++ {
		c.add(newFrame(s))
	}
	c.write(st, t0)
	assert.Equal(t, `skip15{"count":15,"through":15} 16 17 18 19 20 21 22 23 24 25`, ids())
	assert.Nil(t, c.timer(), "nothing waits: no timer")
	c.add(newFrame(26))
	c.add(newFrame(27)) // not encoded: encoded when sent
	c.write(st, t0.Add(50*time.Millisecond))
	assert.Empty(t, st.buf, "no second write within the interval")
	assert.NotNil(t, c.timer(), "the timer is armed for the end of the interval")
	c.write(st, t0.Add(100*time.Millisecond))
	assert.Equal(t, "26 27", ids(), "nothing was left out")

	one := newRateCap(2) // below ten a second: one event every 1/N s
	assert.Equal(t, 500*time.Millisecond, one.every)
	assert.Equal(t, 1, one.keep)
}

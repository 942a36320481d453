package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// streamIDs opens GET /v1/stream (query q, optional Last-Event-ID) and
// returns its first n ids; then posts, once the stream is open, what
// onOpen returns (nothing when nil).
func streamIDs(t *testing.T, base, q, lastID string, n int, onOpen func()) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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

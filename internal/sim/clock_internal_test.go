package sim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// timeOf reads an event's time as sent: "time" (canonical shape) or
// "timestamp" in unix seconds (compatibility shape).
func timeOf(t *testing.T, body []byte) time.Time {
	t.Helper()
	var e struct {
		Time      *time.Time `json:"time"`
		Timestamp *float64   `json:"timestamp"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	switch {
	case e.Time != nil:
		return *e.Time
	case e.Timestamp != nil:
		return time.UnixMilli(int64(*e.Timestamp * 1000))
	}
	t.Fatalf("no time in %s", body)
	return time.Time{}
}

// TestClockNeverPassesTheWallClock: the daemon refuses event times more
// than --max-future ahead of its clock (events.md), so the simulated clock
// runs Step per event until it reaches the wall clock, then keeps pace
// with it, never ahead, never backwards.
func TestClockNeverPassesTheWallClock(t *testing.T) {
	wall := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	c := DefaultConfig()
	c.Step = time.Minute
	c.Start = wall.Add(-100 * time.Minute) // 100 events before it reaches the wall clock
	c.Clock = func() time.Time { return wall }
	w := newWorld(c)
	var last time.Time
	for i := range 1000 {
		if i == 500 {
			wall = wall.Add(10 * time.Second) // real time passes
		}
		e := w.next()
		if e.role == roleDup {
			continue // re-sent as it was
		}
		at := timeOf(t, e.body)
		require.False(t, at.After(wall), "event %d at %s, after the wall clock %s", i, at, wall)
		require.False(t, at.Before(last), "event %d at %s, before the previous %s", i, at, last)
		last = at
	}
	assert.Equal(t, wall, last.UTC().Truncate(time.Millisecond), "the clock caught up and kept pace")
}

// TestDefaultStart: a run starts in the past by the simulated span it is
// expected to cover, so that it reaches the wall clock about when it ends.
func TestDefaultStart(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   time.Duration
	}{
		{"events", func(c *Config) { c.Events, c.Step = 1000, time.Minute }, 1000 * time.Minute},
		{"rate × duration", func(c *Config) { c.Rate, c.Duration, c.Step = 100, 10*time.Second, 2*time.Second }, 2000 * time.Second},
		{"until interrupted: an hour at the rate", func(c *Config) { c.Rate, c.Step = 100, time.Second }, 100 * time.Hour},
		{"as fast as it can: an assumed rate", func(c *Config) { c.Rate, c.Events, c.Step = 0, 0, time.Second }, assumedRate * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			assert.Equal(t, now.Add(-tc.want), c.DefaultStart(now))
		})
	}
}

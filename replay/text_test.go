package replay_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ringrift/ringriftd/replay"
)

// TestHuman: every duration has a short form, the extremes included
// (issue 12: Human recursed forever on math.MinInt64).
func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0ms"},
		{999 * time.Millisecond, "999ms"},
		{45 * time.Second, "45s"},
		{3*time.Minute + 20*time.Second, "3m20s"},
		{2*time.Hour + 5*time.Minute, "2h5m"},
		{76 * time.Hour, "3d4h"},
		{-76 * time.Hour, "-3d4h"},
		{729 * 24 * time.Hour, "729d"},
		{3*365*24*time.Hour + 12*24*time.Hour, "3y11d"},
		{math.MaxInt64, "292y101d"},
		{math.MinInt64, "-292y101d"},
		{math.MinInt64 + 1, "-292y101d"},
	} {
		assert.Equal(t, tc.want, replay.Human(tc.d), "%d", int64(tc.d))
	}
}

// TestSpan: spans beyond time.Duration's ±292 years, which Sub saturates,
// are told in years.
func TestSpan(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	far := time.UnixMilli(1795342503250 * 1000).UTC()
	assert.Equal(t, "56835y", replay.Span(t0, far))
	assert.Equal(t, "-56835y", replay.Span(far, t0))
	assert.Equal(t, "2h5m", replay.Span(t0, t0.Add(125*time.Minute)))
	assert.Equal(t, "584554049y", replay.Span(time.UnixMilli(math.MinInt64), time.UnixMilli(math.MaxInt64)))
	assert.Equal(t, float64(far.UnixMilli()-t0.UnixMilli())/1000, replay.Seconds(t0, far), "beyond Sub's range")
	assert.Equal(t, 7500.0, replay.Seconds(t0, t0.Add(125*time.Minute)))

	s := replay.Style{Now: t0}
	assert.Equal(t, "in 56835y", s.Ago(far))
	assert.Equal(t, "56835y ago", replay.Style{Now: far}.Ago(t0))
	assert.Equal(t, "now", s.Ago(t0.Add(-time.Millisecond)))
	assert.Equal(t, "in 1ms", s.Ago(t0.Add(time.Millisecond)))
}

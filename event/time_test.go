package event_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

func TestInputYearsAccepted(t *testing.T) {
	for _, in := range []string{
		`{"type": "sync_started", "time": "1970-01-01T00:00:00Z"}`,
		`{"type": "sync_started", "time": "9999-12-31T23:59:59.999Z"}`,
		`{"type": "sync_started", "timestamp": 0}`,
		`{"type": "sync_started", "timestamp": 253402300799.999}`,
	} {
		_, err := event.Decode([]byte(in))
		assert.Nil(t, err, in)
	}
}

func TestTimestampMillisecondsHint(t *testing.T) {
	_, err := event.Decode([]byte(`{"type": "sync_started", "timestamp": 1795342503250}`))
	require.NotNil(t, err)
	assert.Contains(t, err.Message, "year 58862")
	assert.Contains(t, err.Hint, "1795342503250 looks like milliseconds")
	_, err = event.Decode([]byte(`{"type": "sync_started", "timestamp": -5}`))
	require.NotNil(t, err)
	assert.NotContains(t, err.Hint, "milliseconds", "-5 ms is not a plausible time either: no guess")
}

func TestValidateYearRange(t *testing.T) {
	e := event.Event{Type: "sync_started", Time: time.Date(58862, 2, 20, 0, 0, 0, 0, time.UTC)}
	err := event.Validate(&e)
	require.NotNil(t, err)
	assert.Equal(t, event.CodeInvalidField, err.Code)
	assert.Equal(t, "time", err.Field)
	e.Time = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)
	assert.NotNil(t, event.Validate(&e))
	e.Time = time.Time{}
	assert.Nil(t, event.Validate(&e), "no time: the journal sets recorded_at")
	d := event.Event{Type: "training_threshold", ConfigKey: "hex8_2p", Source: "ringriftd/threshold", Time: time.Date(58862, 2, 20, 0, 0, 0, 0, time.UTC)}
	assert.Nil(t, event.DefaultValidator.ValidateDecision(&d), "a decision takes its journaled cause's time")
}

func TestMaxFuture(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v := event.NewValidator(0)
	v.MaxFuture, v.Now = time.Hour, func() time.Time { return now }
	cases := []struct {
		name, in string
		field    string // "" = accepted
	}{
		{"an hour ahead", `{"type": "sync_started", "time": "2026-11-22T11:00:00Z"}`, ""},
		{"in the past", `{"type": "sync_started", "time": "2020-01-01T00:00:00Z"}`, ""},
		{"just over", `{"type": "sync_started", "time": "2026-11-22T11:00:00.001Z"}`, "time"},
		{"timestamp a day ahead", `{"type": "sync_started", "timestamp": 1795428000}`, "timestamp"},
		{"no time", `{"type": "sync_started"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Decode([]byte(tc.in))
			if tc.field == "" {
				assert.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			assert.Equal(t, event.CodeInvalidField, err.Code)
			assert.Equal(t, tc.field, err.Field)
			assert.Contains(t, err.Message, "ahead of ringriftd's clock")
			assert.Contains(t, err.Hint, "milliseconds sent as timestamp seconds")
			assert.Contains(t, err.Hint, "1h0m0s")
		})
	}
	e := event.Event{Type: "sync_started", Time: now.Add(2 * time.Hour)}
	assert.NotNil(t, v.Validate(&e), "Go-built input is checked too")
	v.MaxFuture = 0
	_, err := v.Decode([]byte(`{"type": "sync_started", "time": "9999-01-01T00:00:00Z"}`))
	assert.Nil(t, err, "0 turns the check off")
	_, err = event.Decode([]byte(`{"type": "sync_started", "time": "9999-01-01T00:00:00Z"}`))
	assert.Nil(t, err, "the default validator has no clock check")
}

func TestAnyTimeReadsWhatTheJournalHolds(t *testing.T) {
	v := event.NewValidator(0)
	v.MaxFuture, v.AnyTime = time.Hour, true
	e, err := v.Decode([]byte(`{"type": "sync_started", "time": "58862-02-20T02:54:10.250Z"}`))
	require.Nil(t, err)
	assert.Equal(t, 58862, e.Time.Year())
	e, err = v.Decode([]byte(`{"type": "sync_started", "time": "-0001-12-31T23:59:59.999Z"}`))
	require.Nil(t, err)
	assert.Equal(t, -1, e.Time.Year())
}

// TestParseTimeRoundTrip: every time the journal can hold (int64
// milliseconds) is written by the envelope and read back by ParseTime.
func TestParseTimeRoundTrip(t *testing.T) {
	for _, ms := range []int64{math.MinInt64, -62135596800001, -62135596800000, -1, 0, 1795342503250,
		253402300799999, 253402300800000, 1795342503250 * 1000, math.MaxInt64} {
		want := time.UnixMilli(ms).UTC()
		s := want.Format(event.TimeFormat)
		got, err := event.ParseTime(s)
		require.NoError(t, err, s)
		assert.Equal(t, ms, got.UnixMilli(), s)
	}
	for _, s := range []string{"", "yesterday", "2026-13-01T00:00:00Z", "0999-01-01", "99999-01-01", "+2026-01-01T00:00:00",
		"999999999-01-01T00:00:00Z"} {
		_, err := event.ParseTime(s)
		assert.Error(t, err, s)
	}
	got, err := event.ParseTime("+58862-02-20T03:54:10+01:00")
	require.NoError(t, err)
	assert.Equal(t, time.Date(58862, 2, 20, 2, 54, 10, 0, time.UTC), got.UTC())
}

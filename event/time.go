package event

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// MinYear and MaxYear bound the year of an input time (events.md): an event
// of 1969 or of the year 10000 is refused (invalid_field).
const (
	MinYear = 1970
	MaxYear = 9999
)

var (
	minInputTime = time.Date(MinYear, 1, 1, 0, 0, 0, 0, time.UTC)
	endInputTime = time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, time.UTC)
	// maxTimestamp is the last input millisecond as unix seconds.
	maxTimestamp = float64(endInputTime.UnixMilli()-1) / 1000
)

// DefaultMaxFuture is the daemon's default --max-future: how far ahead of
// its clock an input time may be.
const DefaultMaxFuture = time.Hour

// ParseTime reads an envelope time: RFC 3339 (time.RFC3339Nano), or the same
// with a year outside 0000–9999 written with as many digits as it needs and
// a leading '-' when negative ("58862-02-20T02:54:10.000Z"), which is how
// Go, the journal's exports and the projections write such a year (ISO 8601
// expanded years; an explicit '+' is accepted too). Old journals hold such
// times: every reader of exports reads them back.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	sign, rest, signed := 1, s, false
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		if rest[0] == '-' {
			sign = -1
		}
		rest, signed = rest[1:], true
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n < 4 || n == 4 && !signed || n == len(rest) || rest[n] != '-' {
		return time.Time{}, err // a plain RFC 3339 time that does not parse
	}
	year, perr := strconv.Atoi(rest[:n])
	if perr != nil || year > maxJournalYear {
		return time.Time{}, err
	}
	year *= sign
	// The Gregorian calendar repeats every 400 years: parse the same day in
	// a year of 2000–2399 and move it by whole cycles.
	cycles := floorDiv(year-2000, 400)
	t, err2 := time.Parse(time.RFC3339Nano, strconv.Itoa(year-400*cycles)+rest[n:])
	if err2 != nil {
		return time.Time{}, err
	}
	t = t.AddDate(400*cycles, 0, 0)
	if t.Before(minJournalTime) || t.After(maxJournalTime) {
		return time.Time{}, fmt.Errorf("parsing time %q: beyond the journal's int64 milliseconds", s)
	}
	return t, nil
}

// The journal keeps times as int64 milliseconds: about ±292 million years.
var (
	minJournalTime = time.UnixMilli(math.MinInt64)
	maxJournalTime = time.UnixMilli(math.MaxInt64)
	maxJournalYear = maxJournalTime.Year()
)

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// CheckYear reports whether t lies in the input years MinYear–MaxYear.
func CheckYear(t time.Time) error {
	if t.Before(minInputTime) || !t.Before(endInputTime) {
		return fmt.Errorf("%w: %s", ErrTimeRange, t.UTC().Format(TimeFormat))
	}
	return nil
}

// timeRange refuses an input time outside the years 1970–9999. For a
// timestamp (isTS, ts as sent), one that would be in range divided by 1000
// was milliseconds, and the hint says so.
func timeRange(field string, t time.Time, ts float64, isTS bool) *Error {
	if CheckYear(t) == nil {
		return nil
	}
	if !isTS {
		return Errorf(CodeInvalidField, field, "an RFC 3339 time in the years 1970–9999, e.g. 2026-11-22T10:15:03.250Z",
			"time %s is outside the years 1970–9999", t.UTC().Format(TimeFormat))
	}
	hint := fmt.Sprintf("unix seconds from 0 to %.3f, e.g. 1795342503.25", maxTimestamp)
	if ms := ts / 1000; ms >= 0 && ms <= maxTimestamp {
		hint += fmt.Sprintf("; %s looks like milliseconds: send seconds (Python: time.time(), not time.time()*1000)", strconv.FormatFloat(ts, 'f', -1, 64))
	}
	return Errorf(CodeInvalidField, field, hint, "timestamp %s is the year %d, outside 1970–9999",
		strconv.FormatFloat(ts, 'f', -1, 64), t.Year())
}

// checkFuture refuses an input time more than v.MaxFuture ahead of v's
// clock (off when MaxFuture ≤ 0).
func (v *Validator) checkFuture(field string, t time.Time) *Error {
	if v.MaxFuture <= 0 || v.Now == nil || t.IsZero() {
		return nil
	}
	n := v.Now()
	if !t.After(n.Add(v.MaxFuture)) {
		return nil
	}
	return Errorf(CodeInvalidField, field,
		fmt.Sprintf("a time at most %v ahead of ringriftd's clock (--max-future); a time this far ahead is usually milliseconds sent as timestamp seconds (Python: time.time(), not time.time()*1000), or a producer clock that is wrong", v.MaxFuture),
		"%s %s is %s ahead of ringriftd's clock (%s)", field, t.UTC().Format(TimeFormat), ahead(t, n), n.UTC().Format(TimeFormat))
}

// ahead is how far t is after now, in words, also beyond time.Duration's
// ±292 years.
func ahead(t, now time.Time) string {
	const day = 24 * time.Hour
	switch d := t.Sub(now); {
	case d >= 1000*day:
		return fmt.Sprintf("about %d years", t.Year()-now.Year())
	case d >= 2*day:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	default:
		return d.Round(time.Second).String()
	}
}

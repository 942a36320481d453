package event

import (
	"strconv"
	"time"
)

// JSONTime is a time in JSON, whatever its year: encoding/json refuses a
// year outside 0000–9999 ("year outside of range"), and a journal can hold any
// int64 millisecond (old journals hold the year 58862 of a timestamp sent
// in milliseconds): such a year is written in full, with a '-' when
// negative — "58862-02-20T02:54:10.25Z", ISO 8601's expanded year, as the
// envelope and the projections write it — and every other time as
// encoding/json writes it (RFC 3339). ParseTime reads both back.
type JSONTime struct{ time.Time }

// MarshalJSON writes the time as a JSON string, whatever its year.
func (t JSONTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = t.Time.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// UnmarshalJSON reads what MarshalJSON writes; null is the zero time.
func (t *JSONTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = JSONTime{}
		return nil
	}
	s, err := strconv.Unquote(string(b))
	if err != nil || len(b) == 0 || b[0] != '"' {
		return &time.ParseError{Layout: time.RFC3339Nano, Value: string(b), Message: ": not a JSON string"}
	}
	x, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = x
	return nil
}

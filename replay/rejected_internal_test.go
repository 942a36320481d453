package replay

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

var scanSeeds = []string{
	`"plain"`, `"a\"b"`, `"\\"`, `"\\\"x"`, `"end\`, `"unterminated`, `""`, `"\u00e9\n\t\/"`,
	`"{\"type\":\"new_games\",\"payload\":{\"s\":\"q\\\"uote\"}}" tail`,
	`"\ud83d\ude00"`, `"\ud800"`, `"\u12"`, `"x\u"`, "\"caf\xc3\xa9\"", "\"bad \xff\"",
	"  spaced  out\n", "one line", "tab\there", "a  b", " lead", "trail ", "nb\u00a0sp", "",
}

// FuzzScanStrings: str is encoding/json's decoding of a valid string; appendStr appends exactly
// str's bytes to what the buffer holds; oneLine is Fields joined by spaces.
func FuzzScanStrings(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		if got := string(appendStr([]byte("prefix"), b)); got != "prefix"+str(b) {
			t.Fatalf("appendStr(prefix, %q) = %q, want prefix+%q", s, got, str(b))
		}
		var want string
		quoted := len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' // a span as the scanner hands it over
		if quoted && json.Valid(b) && utf8.Valid(b) && json.Unmarshal(b, &want) == nil {
			if got := str(b); got != want {
				t.Fatalf("str(%s) = %q, want %q", s, got, want)
			}
		}
		if got, want := oneLine(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("oneLine(%q) = %q, want %q", s, got, want)
		}
	})
}

// refRejectionMessage is rejectionFinding's message written with fmt, as
// it was before it was appended by hand.
func refRejectionMessage(r *journal.Rejection, typ string) string {
	if r.Code == "duplicate" {
		return fmt.Sprintf("%s dropped as a duplicate of seq %d: %s", orUnknown(typ), r.DuplicateOf, oneLine(r.Message))
	}
	msg := fmt.Sprintf("%s refused (%s): %s", orUnknown(typ), r.Code, oneLine(r.Message))
	if r.Code == event.CodeUnknownEventType && r.Hint != "" {
		msg += "; " + r.Hint
	}
	if r.Batch > 0 {
		events := "events"
		if r.Batch == 1 {
			events = "event"
		}
		msg += fmt.Sprintf(" (atomic batch of %d %s: none landed)", r.Batch, events)
	}
	where := fmt.Sprintf(" [rejected #%d", r.Seq)
	if r.Remote == fileLine {
		where = fmt.Sprintf(" [line %d", r.Seq)
	}
	if !r.Time.IsZero() {
		where += " at " + r.Time.UTC().Format(time.RFC3339)
	}
	return msg + where + "]"
}

// TestRejectionFindingMessages: every branch of the message — duplicate,
// unknown type with its hint, atomic batches of one and more, a file's
// line, with and without a time, a message over several lines.
func TestRejectionFindingMessages(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 15, 3, 250e6, time.FixedZone("x", 3600))
	for _, r := range []journal.Rejection{
		{Code: "duplicate", DuplicateOf: 42, Message: "same id as seq 42", Seq: 7, Time: at},
		{Code: event.CodeUnknownEventType, Message: `unknown event type "trainng_started"`, Hint: "did you mean training_started?", Seq: 1},
		{Code: event.CodeInvalidField, Message: "payload must\n  be an object", Hint: "not shown", Batch: 1, Seq: 1 << 40, Time: at},
		{Code: event.CodeFlowViolation, Message: "x", Batch: 3, Seq: 9},
		{Code: event.CodeInvalidJSON, Message: "invalid JSON: unexpected end", Remote: fileLine, Seq: 4},
		{Code: event.CodeInvalidJSON, Message: "", Remote: fileLine, Seq: 5, Time: at},
	} {
		for _, typ := range []string{"", "training_started"} {
			f := rejectionFinding(&r, head{Type: typ, NodeID: "gpu-1"})
			assert.Equal(t, refRejectionMessage(&r, typ), f.Message)
			assert.Equal(t, "gpu-1", *f.Key)
		}
	}
}

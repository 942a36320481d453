package replay

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
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

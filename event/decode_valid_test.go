package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/internal/gen"
)

// corpus is the fixtures' events (as JSON), the generator's traffic (with
// its bad events) and the refusal table: the inputs the decoder's fast
// paths are checked against their encoding/json references on.
func corpus(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	paths, err := filepath.Glob("../fixtures/*/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var f struct{ Events []any }
		require.NoError(t, yaml.Unmarshal(b, &f), p)
		for _, x := range f.Events {
			if m, ok := x.(map[string]any); ok && m["batch"] != nil {
				x = m["batch"]
			}
			if list, ok := x.([]any); ok {
				for _, y := range list {
					out = append(out, mustJSON(t, y))
				}
				continue
			}
			out = append(out, mustJSON(t, x))
		}
	}
	g := gen.New(gen.Options{Seed: 3})
	for i := 0; i < 2000; i++ {
		e := g.Next()
		out = append(out, e.AppendJSON(nil))
	}
	for _, tc := range refusalCases {
		out = append(out, []byte(tc.in))
	}
	return out
}

func mustJSON(t testing.TB, x any) []byte {
	b, err := json.Marshal(x)
	require.NoError(t, err)
	return b
}

// TestValidJSONMatchesEncodingJSON: the decoder's validity check answers
// as json.Valid on the corpus, on prefixes of each input (the usual
// truncated body: every prefix of one input in 16) and with a byte changed to each character that matters
// to JSON's grammar.
func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	checked := 0
	check := func(b []byte) {
		checked++
		if got, want := event.ValidJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
		}
	}
	for k, in := range corpus(t) {
		check(in)
		for i := range in {
			if k%16 == 0 || i%16 == 0 {
				check(in[:i])
			}
		}
		for _, i := range []int{1, len(in) / 3, len(in) / 2, len(in) - 2} {
			if i <= 0 || i >= len(in) {
				continue
			}
			for _, c := range []byte(" \t\n{}[]:,\"\\-+.eE0u1aftn\x00\x1f\x7f\xff") {
				m := bytes.Clone(in)
				m[i] = c
				check(m)
			}
		}
	}
	for _, in := range []string{"", " ", "0", "-", "-0", "01", "1.", "1.e5", "1e", "1e+", "1E-7", "-01", "2.50",
		`"\u12"`, `"\u12G4"`, `"\uABCD"`, `"\x"`, `"a` + "\x01" + `"`, `"é` + "\xff" + `"`, "tru", "nul", "falsey",
		"[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "[1 2]", " [ ] ", "{}{}", "[]]", "\"\"x", "\ufeff{}"} {
		check([]byte(in))
	}
	t.Logf("%d inputs", checked)
}

// TestValidJSONNestingLimit: 10,000 nested containers are valid JSON, one
// more is not, as for encoding/json.
func TestValidJSONNestingLimit(t *testing.T) {
	for _, n := range []int{9999, 10_000, 10_001} {
		for _, open := range []string{"[", `{"a":`} {
			closer := "]"
			if open != "[" {
				closer = "}"
			}
			b := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(closer, n))
			assert.Equal(t, json.Valid(b), event.ValidJSON(b), "%d × %s", n, open)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, in := range corpus(f)[:300] {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := event.ValidJSON(in), json.Valid(in); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", in, got, want)
		}
	})
}

// TestDecodeBodyIsDecodeOfEachEvent: a body — one event, a JSON array or
// NDJSON, with space around the events — decodes to what Decode makes of
// each event alone, with the same refusals (index aside) and the event's
// own bytes as Raw.
func TestDecodeBodyIsDecodeOfEachEvent(t *testing.T) {
	in := corpus(t)
	for start := 0; start < len(in); start += 500 {
		checkBody(t, in[start:min(start+500, len(in))])
	}
	for _, one := range in[:200] {
		checkBody(t, [][]byte{one})
	}
}

func FuzzDecodeBody(f *testing.F) {
	c := corpus(f)
	for i := 0; i+3 <= 300; i += 3 {
		f.Add(c[i], c[i+1], c[i+2])
	}
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		checkBody(t, [][]byte{a, b, c})
	})
}

// checkBody posts events as an array and as NDJSON and compares the
// decoded items with Decode of each event.
func checkBody(t *testing.T, events [][]byte) {
	t.Helper()
	v := event.NewValidator(event.DefaultMaxPayload)
	v.AnyTime = true
	var nd, arr []byte
	arr = append(arr, "[ "...)
	for i, e := range events {
		nd = append(append(append(nd, ' '), e...), " \n"...)
		if i > 0 {
			arr = append(arr, " ,\n"...)
		}
		arr = append(arr, e...)
	}
	arr = append(arr, " ]"...)
	for _, body := range [][]byte{nd, arr} {
		items, werr := v.DecodeBody(body)
		if werr != nil {
			// A whole-request refusal: only when some event is not valid
			// JSON on its own (or holds a newline, for NDJSON).
			return
		}
		var want [][]byte
		if json.Valid(bytes.TrimSpace(body)) && bytes.TrimSpace(body)[0] == '[' {
			var raws []json.RawMessage
			require.NoError(t, json.Unmarshal(body, &raws))
			for _, r := range raws {
				want = append(want, r)
			}
		} else if json.Valid(bytes.TrimSpace(body)) {
			want = [][]byte{bytes.TrimSpace(body)}
		} else {
			for _, line := range bytes.Split(body, []byte{'\n'}) {
				if line = bytes.TrimSpace(line); len(line) > 0 {
					want = append(want, line)
				}
			}
		}
		require.Len(t, items, len(want), "%q", body)
		for i, raw := range want {
			assert.Equal(t, string(raw), string(items[i].Raw), "item %d's raw bytes", i)
			e, err := v.Decode(raw)
			if err != nil {
				err.Index = i
			}
			if !assert.Equal(t, err, items[i].Err, "item %d of %q", i, body) {
				continue
			}
			assert.Equal(t, e, items[i].Event, "item %d", i)
		}
	}
}

// TestUnknownTypeRefusalCached: the refusal of an unknown type is the
// same whether the suggestion was searched or remembered, for either
// field, and each refusal is the caller's own to change.
func TestUnknownTypeRefusalCached(t *testing.T) {
	for _, in := range []string{`{"type": "training_complet"}`, `{"event_type": "training_complet"}`, `{"type": "zzz_nothing_like_it"}`} {
		var first *event.Error
		for round := 0; round < 3; round++ {
			_, err := event.Decode([]byte(in))
			require.NotNil(t, err)
			field, s := "type", "training_complet"
			if strings.Contains(in, "event_type") {
				field = "event_type"
			}
			if strings.Contains(in, "zzz") {
				s = "zzz_nothing_like_it"
			}
			assert.Equal(t, event.UnknownTypeRefusal(field, s), err, "round %d of %s", round, in)
			if first == nil {
				first = err
				first.Index = 7 // the daemon sets the index: the next refusal is not affected
			}
		}
	}
}

// TestEscapedEnvelopeKeys: keys are matched after unescaping, and an
// unknown one is named unescaped.
func TestEscapedEnvelopeKeys(t *testing.T) {
	e, err := event.Decode([]byte(`{"t\u0079pe": "new_games", "config_key": "hex8_2p", "payload": {"games": 5}}`))
	require.Nil(t, err)
	assert.Equal(t, "new_games", e.Type)
	_, err = event.Decode([]byte(`{"type": "new_games", "config_key": "hex8_2p", "\u006frigin": 1}`))
	require.NotNil(t, err)
	assert.Equal(t, event.CodeInvalidField, err.Code)
	assert.Equal(t, "origin", err.Field)
	assert.Equal(t, `unknown envelope key "origin"`, err.Message)
}

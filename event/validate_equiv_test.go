package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The one-pass Validate must give exactly the outcome of the implementation
// it replaced (validate_ref_test.go): the same refusal, field for field, and
// the same event left behind, accepted or refused, on every input.

// equivCase is one input: an event built in Go, the validator it goes
// through and the path (mode).
type equivCase struct {
	Type, ConfigKey, NodeID, Source string
	Time                            time.Time
	Payload                         []byte
	// Mode: bit 0 picks the validator (equivValidators); bit 1 runs the
	// decoder's path (checkBody directly, as decodeValid calls it) instead
	// of Validate; bit 2 says, on that path, that the input had an empty
	// top-level node_id.
	Mode uint8
}

var equivNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// equivValidators are the default validator and one with a small payload
// bound, operator boards (one with an underscore, one not UTF-8: NewConfigs
// takes any) and a future bound.
var equivValidators = []*Validator{DefaultValidator, func() *Validator {
	v := NewValidator(300, "hex12", "big_board", "\xff")
	v.MaxFuture = time.Hour
	v.Now = func() time.Time { return equivNow }
	return v
}()}

// outcome is what one implementation made of an input.
type outcome struct {
	err *Error
	e   Event
}

func runNew(c equivCase) outcome { return runEquiv(c, false) }
func runRef(c equivCase) outcome { return runEquiv(c, true) }

func runEquiv(c equivCase, ref bool) outcome {
	v := equivValidators[c.Mode&1]
	e := Event{Type: c.Type, ConfigKey: c.ConfigKey, NodeID: c.NodeID, Source: c.Source, Time: c.Time,
		Payload: bytes.Clone(c.Payload)}
	var err *Error
	switch {
	case c.Mode&2 == 0 && ref:
		err = refValidate(v, &e)
	case c.Mode&2 == 0:
		err = v.Validate(&e)
	default:
		// The decoder resolves the type first and passes validJSON: the
		// payload is part of a body already found valid.
		if err = v.resolveType(&e); err != nil {
			break
		}
		emptyNode := c.Mode&4 != 0 && c.NodeID == ""
		if ref {
			err = refCheckBody(v, &e, emptyNode, json.Valid(bytes.TrimSpace(c.Payload)))
		} else {
			err = v.checkBody(&e, emptyNode)
		}
	}
	return outcome{err, e}
}

// sameOutcome says how a and b differ, "" if they do not.
func sameOutcome(a, b outcome) string {
	switch {
	case (a.err == nil) != (b.err == nil):
		return fmt.Sprintf("error %v, reference %v", a.err, b.err)
	case a.err != nil && *a.err != *b.err:
		return fmt.Sprintf("error %#v, reference %#v", *a.err, *b.err)
	case !bytes.Equal(a.e.Payload, b.e.Payload) || (a.e.Payload == nil) != (b.e.Payload == nil):
		return fmt.Sprintf("payload %q, reference %q", a.e.Payload, b.e.Payload)
	}
	a.e.Payload, b.e.Payload = nil, nil
	if !reflect.DeepEqual(a.e, b.e) {
		return fmt.Sprintf("event %+v, reference %+v", a.e, b.e)
	}
	return ""
}

func (o outcome) String() string {
	if o.err == nil {
		return "ok"
	}
	msg := o.err.Message
	if i := strings.IndexAny(msg, "0123456789\""); i >= 0 {
		msg = msg[:i] // the message's shape, not its values
	}
	return string(o.err.Code) + "|" + o.err.Field + "|" + msg
}

var (
	equivTypes = func() []string {
		ts := []string{"new_games", "new_games", "new_games", "new_games", "evaluation_completed",
			"evaluation_completed", "evaluation_completed", "evaluation_completed", "curriculum_rebalanced",
			"curriculum_rebalanced", "cluster_status_changed", "NEW_GAMES", "TRAINING_COMPLETED", "bogus",
			"new_game", ""}
		const fixed = 16
		for v := range schemas {
			ts = append(ts, v)
		}
		sort.Strings(ts[fixed:])
		return ts
	}()
	equivConfigKeys = []string{"", "", "hex8_2p", "hex8_2p", "hex8_2", "square8_3p", "hex12_2p", "big_board_4",
		"bogus", "hex8_2P", "hex8_5p", "_2p", "\xff_2p"}
	equivNodeIDs = []string{"", "", "gpu-01", "gpu-01", "gpu-02", strings.Repeat("a", 129),
		strings.Repeat("é", 128), strings.Repeat("é", 129)}
	equivSources = []string{"SelfplayRunner", "SelfplayRunner", "SelfplayRunner", "SelfplayRunner", "",
		"ringriftd/x"}
	equivTimes = []time.Time{{}, {}, {}, {}, {}, equivNow.Add(-time.Minute), equivNow.Add(2 * time.Hour),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	equivKeys = []string{"games", "games", "games_count", "num_games", "config_key", "config_key", "config", "board",
		"node_id", "node", "host", "hostname", "model_path", "checkpoint_path", "final_loss", "reason", "error",
		"opponents", "opponent_results", "vs_random_rate", "vs_heuristic_rate", "games_played", "elo",
		"estimated_elo", "new_elo", "participant", "model_id", "weights", "new_weights", "trigger", "new_tier",
		"new_stage", "old_tier", "new_weight", "level", "quality_score", "threshold", "work_id", "job_id",
		"handler", "event_seq", "attempts", "daemon", "name", "coordinator", "status", "epoch", "loss",
		"to_model", "free_bytes", "generator", "x", "", `config\u005fkey`, `\u0063onfig`, `\u006eode_id`,
		`host\u006eame`, `game\u0073`, `model\u005fpath`, `\u00e9t\u00e9`, `a\"b`, `node\/id`}
	equivValues = []string{`"hex8_2p"`, `"hex8_2p"`, `"hex8_2"`, `"square8_3p"`, `"hex12_4p"`, `"big_board_2p"`,
		`"hex8_5p"`, `"bogus"`, `""`, `"\u0068ex8_2p"`, `"hex8_2p\u0000"`, `"gpu-01"`, `"gpu-02"`,
		`"` + strings.Repeat("a", 129) + `"`, `"` + strings.Repeat("é", 128) + `"`, `"\ud800"`, "\"\xff\"",
		"\"hex8_2p\xff\"", `0`, `1`, `-1`, `3`, `4`, `50`, `0.5`, `1.0`, `1e2`, `1e400`, `-0`, `2.5`,
		`9007199254740993`, `"a"`, `"models/m.pth"`, `"soft"`, `"critical"`, `"nope"`, `null`, `null`, `true`,
		`false`, `{}`, `{"random":{"games":50,"win_rate":0.96}}`,
		`{"random":{"games_played":50,"win_rate":0.96},"heuristic":{"games":10,"win_rate":1.5}}`,
		`{"random":{"games":50,"win_rate":0.5}}`, `{ "random" : {"games": 50, "win_rate":0.96} }`,
		`{"random":{"games":0,"win_rate":0.5}}`, `{"random":{"win_rate":0.5}}`, `{"random":{"games":5}}`,
		`{"random":5}`, `{"random":{"games":5,"games_played":6,"win_rate":0.5}}`,
		`{"hex8_2p":0.5,"square8_2":1}`, `{"bad":1}`, `{"hex8_2p":"x"}`, `{"hex12_3p":0.25}`,
		`{"random":{"games":50,"win_rate":0.96},"heuristic":{"games":50,"win_rate":0.5}}`,
		`{"heuristic":{"games":25,"win_rate":0.5}}`, `{"random":{"games":25,"win_rate":0.96}}`,
		`{"hex8_2p":0.5, "square8_2" : 1}`, `{"hex8_2p":1e400}`,
		`{"a":{"b":[1,2,{"c":null}]}}`, `[]`, `[1,"a",null]`, `[ 1 , 2 ]`, `{"s":"a b\tc"}`,
		`"a string with spaces"`, `"` + strings.Repeat("x", 280) + `"`}
	equivWhole = []string{"", "  ", "\t\n", "null", "[1]", `"x"`, "12", "true", "{", "}", "{}", " {} ",
		"{} {}", "{}x", "{,}", `{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}",
		"\u00a0{}\u00a0", "\v{}", `{"a":1}` + "\u2028", `{"games":1}   `}
)

// equivKeyValues are the values the generator favours for some keys.
var equivKeyValues = func() map[string][]string {
	opponents := []string{`{"random":{"games":50,"win_rate":0.96}}`, `{"random":5}`, `{}`, `[]`,
		`{"random":{"games":0,"win_rate":0.5}}`, `{"random":{"games":2.5,"win_rate":0.5}}`,
		`{"random":{"win_rate":0.5}}`, `{"random":{"games":5}}`, `{"random":{"games":5,"win_rate":-1}}`,
		`{"random":{"games":5,"games_played":6,"win_rate":0.5}}`, `{"random":{"games_played":5,"win_rate":0.5}}`,
		`{"random":{"games":50,"win_rate":0.96},"heuristic":{"games":50,"win_rate":0.5}}`,
		`{"heuristic":{"games":25,"win_rate":0.5}}`, `{"random":{"games":25,"win_rate":0.96}}`,
		`{ "random" : {"games": 50, "win_rate":0.96} }`, `{"r\u0061ndom":{"games":50,"win_rate":0.96}}`}
	weights := []string{`{"hex8_2p":0.5,"square8_2":1}`, `{"bad":1}`, `{"hex8_2p":"x"}`, `{"hex12_3p":0.25}`,
		`{"hex8_2p":1e400}`, `{}`, `[]`, `{"hex8_2p":0.5, "square8_2" : 1}`, `{"hex8_2p":1,"hex8_2":2}`}
	paths := []string{`"models/m.pth"`, `"models/m.pth"`, `""`, `"models/n.pth"`, `"m\u002epth"`}
	counts := []string{`0`, `1`, `25`, `50`, `50.0`, `5e1`, `-1`, `2.5`, `"50"`, `1e400`}
	rates := []string{`0`, `0.5`, `0.96`, `1`, `1.5`, `-0.1`, `"0.5"`}
	configs := []string{`"hex8_2p"`, "\"\xff_2p\"", `"hex8_2"`, `"square8_3p"`, `"hex12_4p"`, `"bogus"`, `""`, `"\u0068ex8_2p"`, `5`}
	nodes := []string{`"gpu-01"`, `"gpu-02"`, `""`, `"` + strings.Repeat("a", 129) + `"`, `"g\u0070u-01"`, `5`}
	m := map[string][]string{}
	for _, k := range []string{"opponents", "opponent_results"} {
		m[k] = opponents
	}
	for _, k := range []string{"weights", "new_weights"} {
		m[k] = weights
	}
	for _, k := range []string{"model_path", "checkpoint_path", "participant", "model_id", "to_model", "error",
		"reason", "daemon", "handler", "work_id", "job_id"} {
		m[k] = paths
	}
	for _, k := range []string{"games", "games_count", "num_games", "games_played", "event_seq", "new_tier", "new_stage"} {
		m[k] = counts
	}
	for _, k := range []string{"vs_random_rate", "vs_heuristic_rate", "quality_score", "threshold", "elo", "new_elo"} {
		m[k] = rates
	}
	for _, k := range liftedConfigKeys {
		m[k] = configs
	}
	for _, k := range liftedNodeKeys {
		m[k] = nodes
	}
	return m
}()

// typeKeys are the payload keys a type's schema reads (with the lifted ones
// and those of the opponents' shapes), which the generator favours.
func typeKeys(typ string) []string {
	keys := append([]string{"vs_random_rate", "vs_heuristic_rate", "games_played"}, liftedConfigKeys...)
	keys = append(keys, liftedNodeKeys...)
	if t, ok := Lookup(typ); ok {
		for _, f := range SchemaOf(t.Value).fieldsOrNil() {
			keys = append(append(keys, f.Key), f.Aliases...)
		}
	}
	return keys
}

func (s *Schema) fieldsOrNil() []Field {
	if s == nil {
		return nil
	}
	return s.Fields
}

// validOf is a valid value of each kind but the opponents'.
var validOf = map[Kind]string{KindStr: `"x"`, KindInt: `1`, KindNum: `1.5`, KindRate: `0.5`, KindObj: `{}`,
	KindTier: `1`, KindLevel: `"soft"`, KindWeights: `{"hex8_2p":1}`}

// genDeep builds a payload that gets past the envelope checks to the
// schema's: the type's required fields with valid values, then members the
// type reads with the values it favours.
func genDeep(r *rand.Rand, typ string) []byte {
	o := Object{}
	if t, ok := Lookup(typ); ok {
		for _, f := range SchemaOf(t.Value).fieldsOrNil() {
			if v := validOf[f.Kind]; f.Required && v != "" {
				o = o.Raw(f.Key, []byte(v))
			}
		}
	}
	own := typeKeys(typ)
	for range r.IntN(4) {
		k := own[r.IntN(len(own))]
		vs := equivKeyValues[k]
		if len(vs) == 0 {
			vs = equivValues
		}
		o = o.Raw(k, []byte(vs[r.IntN(len(vs))]))
	}
	return o.Bytes()
}

// genPayload builds a payload object for a type from the pools, sometimes
// spaced out, sometimes broken.
func genPayload(r *rand.Rand, typ string) []byte {
	if r.IntN(20) == 0 {
		return []byte(equivWhole[r.IntN(len(equivWhole))])
	}
	spaced := r.IntN(4) == 0
	ws := func(b []byte) []byte {
		if spaced && r.IntN(2) == 0 {
			b = append(b, " \t\n\r"[r.IntN(4)])
		}
		return b
	}
	b := ws(nil)
	b = append(b, '{')
	own := typeKeys(typ)
	n := r.IntN(10)
	if r.IntN(8) == 0 {
		n = 14 + r.IntN(10) // more than checkBody keeps on its stack
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(ws(b), ',')
		}
		b = append(ws(b), '"')
		k := equivKeys[r.IntN(len(equivKeys))]
		if r.IntN(2) == 0 {
			k = own[r.IntN(len(own))]
		}
		b = append(b, k...)
		b = append(ws(append(b, '"')), ':')
		v := equivValues[r.IntN(len(equivValues))]
		if vs := equivKeyValues[k]; len(vs) > 0 && r.IntN(4) != 0 {
			v = vs[r.IntN(len(vs))]
		}
		b = append(ws(b), v...)
	}
	b = append(ws(b), '}')
	b = ws(b)
	const junk = `{}[],:"\ 0an`
	switch r.IntN(24) {
	case 0:
		b = b[:r.IntN(len(b)+1)]
	case 1:
		b[r.IntN(len(b))] = junk[r.IntN(len(junk))]
	case 2:
		i := r.IntN(len(b) + 1)
		b = slices.Insert(b, i, junk[r.IntN(len(junk))])
	}
	return b
}

func genCase(r *rand.Rand) equivCase {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	typ := pick(equivTypes)
	if r.IntN(4) == 0 { // one that reaches the schema
		return equivCase{Type: typ, ConfigKey: "hex8_2p", NodeID: "gpu-01", Source: "SelfplayRunner",
			Payload: genDeep(r, typ), Mode: uint8(r.IntN(4))}
	}
	return equivCase{Type: typ, ConfigKey: pick(equivConfigKeys), NodeID: pick(equivNodeIDs),
		Source: pick(equivSources), Time: equivTimes[r.IntN(len(equivTimes))], Payload: genPayload(r, typ),
		Mode: uint8(r.IntN(8))}
}

// equivCorpus is the generated corpus plus the benchmark's events.
func equivCorpus(n int) []equivCase {
	r := rand.New(rand.NewPCG(1, 2))
	cs := make([]equivCase, 0, n+64)
	for i := range 64 {
		e := benchEvent(i)
		cs = append(cs, equivCase{Type: e.Type, ConfigKey: e.ConfigKey, NodeID: e.NodeID, Source: e.Source,
			Payload: e.Payload, Mode: uint8(i % 8)})
	}
	for range n {
		cs = append(cs, genCase(r))
	}
	return cs
}

func TestValidateSameAsReference(t *testing.T) {
	seen := map[string]int{}
	compacted := 0
	for i, c := range equivCorpus(40_000) {
		got, want := runNew(c), runRef(c)
		if d := sameOutcome(got, want); d != "" {
			t.Fatalf("case %d %+v (payload %q): %s", i, c, c.Payload, d)
		}
		seen[want.String()]++
		if want.err == nil && !bytes.Equal(want.e.Payload, c.Payload) {
			compacted++
		}
	}
	// The corpus must reach every way Validate has of refusing (and of
	// accepting after compacting): a corpus that missed one would prove
	// nothing about it.
	for _, w := range []string{
		"ok",
		"unknown_event_type|type|unknown event type ",
		"invalid_field|source|source ",
		"invalid_field|time|",
		"invalid_field|payload|payload must be a JSON object, got malformed JSON",
		"invalid_field|payload|payload must be a JSON object, got an array",
		"invalid_field|payload|payload must be a JSON object, got a number",
		"payload_too_large|payload|payload is ",
		"invalid_config_key|config_key|invalid config key ",
		"invalid_config_key|payload.config_key|invalid config key ",
		"invalid_config_key|payload.config|invalid config key ",
		"conflicting_field|payload.config_key|payload.config_key ",
		"conflicting_field|payload.config|payload.config ",
		"invalid_field|node_id|node_id is empty",
		"invalid_field|payload.node_id|node_id is empty",
		"invalid_field|payload.hostname|node_id is empty",
		"invalid_field|node_id|node_id is ",
		"invalid_field|payload.node|node_id is ",
		"conflicting_field|payload.node_id|payload.node_id ",
		"conflicting_field|payload.node|payload.node ",
		"conflicting_field|payload.host|payload.host ",
		"conflicting_field|payload.hostname|payload.hostname ",
		"missing_field|config_key|",
		"missing_field|node_id|",
		"missing_field|payload.model_path|",
		"missing_field|payload.opponents|evaluation_completed needs payload.opponents",
		"missing_field|payload.weights|",
		"invalid_field|payload.games|payload.games must be an integer ≥ ",
		"invalid_field|payload.num_games|payload.num_games must be an integer ≥ ",
		"invalid_field|payload.model_path|payload.model_path is empty",
		"invalid_field|payload.level|payload.level must be one of none, soft, hard, stop, low, medium, high, critical, got ",
		"conflicting_field|payload.games_count|payload.games_count ",
		"conflicting_field|payload.num_games|payload.num_games ",
		"invalid_field|payload.opponents|payload.opponents must be an object, got ",
		"invalid_field|payload.opponents.random|payload.opponents.random must be an object, got ",
		"invalid_field|payload.opponents.random.games|payload.opponents.random.games must be an integer > ",
		"missing_field|payload.opponents.random.win_rate|",
		"conflicting_field|payload.opponents.random.games_played|",
		"invalid_field|payload.vs_random_rate|",
		"missing_field|payload.games_played|",
		"invalid_field|payload.weights|payload.weights must be an object, got ",
		"invalid_config_key|payload.weights.bad|invalid config key ",
		"invalid_field|payload.weights.hex",
	} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(seen)), func(k string) bool { return strings.HasPrefix(k, w) }) {
			t.Errorf("the corpus never reaches %q", w)
		}
	}
	if compacted < 100 {
		t.Errorf("only %d accepted payloads needed compacting", compacted)
	}
	if testing.Verbose() {
		keys := slices.Sorted(maps.Keys(seen))
		for _, k := range keys {
			t.Logf("%6d %s", seen[k], k)
		}
		t.Logf("%d distinct outcomes, %d accepted after compaction", len(keys), compacted)
	}
}

func FuzzValidateSameAsReference(f *testing.F) {
	for _, c := range equivCorpus(400) {
		var ms int64 // 0: no time
		if !c.Time.IsZero() {
			ms = c.Time.UnixMilli()
		}
		f.Add(c.Type, c.ConfigKey, c.NodeID, c.Source, ms, c.Payload, c.Mode)
	}
	f.Fuzz(func(t *testing.T, typ, configKey, nodeID, source string, ms int64, payload []byte, mode uint8) {
		c := equivCase{Type: typ, ConfigKey: configKey, NodeID: nodeID, Source: source, Payload: payload, Mode: mode}
		if ms != 0 {
			c.Time = time.UnixMilli(ms).UTC()
		}
		if d := sameOutcome(runNew(c), runRef(c)); d != "" {
			t.Fatalf("%+v (payload %q): %s", c, payload, d)
		}
	})
}

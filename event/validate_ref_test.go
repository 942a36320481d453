package event

// The implementation of Validate before it was made one pass (commit
// 133205d), kept verbatim but for the names: the reference the equivalence
// test and FuzzValidateSameAsReference compare the new one against.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

type refMember struct {
	key []byte // raw, escapes intact: compare with refKeyEquals
	val []byte
}

// refValidate is the old (*Validator).Validate.
func refValidate(v *Validator, e *Event) *Error {
	if err := v.resolveType(e); err != nil {
		return err
	}
	if strings.HasPrefix(e.Source, DecisionSourcePrefix) {
		return reservedSource(e.Source)
	}
	if !e.Time.IsZero() && !v.AnyTime {
		if err := timeRange("time", e.Time, 0, false); err != nil {
			return err
		}
		if err := v.checkFuture("time", e.Time); err != nil {
			return err
		}
	}
	return refCheckBody(v, e, false, false)
}

// checkBody runs the checks that follow the envelope's own keys, in the order
// of events.md: payload shape and size, config_key, node_id, required scope,
// payload schema. It lifts payload keys into the envelope and compacts the
// payload. emptyNode says the input had an empty top-level node_id.
func refCheckBody(v *Validator, e *Event, emptyNode, validJSON bool) *Error {
	if err := refCheckPayloadShape(v, e, validJSON); err != nil {
		return err
	}
	var top [16]refMember
	ms := refCollect(e.Payload, top[:0])
	if err := refLiftConfig(v, e, ms); err != nil {
		return err
	}
	if emptyNode {
		return emptyNodeID("node_id")
	}
	if err := refLiftNode(e, ms); err != nil {
		return err
	}
	s := SchemaOf(e.Type)
	if s != nil {
		if s.Scope&ScopeConfig != 0 && e.ConfigKey == "" {
			return Errorf(CodeMissingField, "config_key", "a config key such as hex8_2p (top level, or config_key/config in the payload)",
				"%s needs a config_key", e.Type)
		}
		if s.Scope&ScopeNode != 0 && e.NodeID == "" {
			return Errorf(CodeMissingField, "node_id", "a node id (top level, or node_id/node/host/hostname in the payload)",
				"%s needs a node_id", e.Type)
		}
	}
	return refCheckSchema(v, e.Type, s, ms)
}

func refCheckPayloadShape(v *Validator, e *Event, validJSON bool) *Error {
	p := bytes.TrimSpace(e.Payload)
	if len(p) == 0 {
		e.Payload = json.RawMessage("{}")
		return nil
	}
	if p[0] != '{' || (!validJSON && !json.Valid(p)) {
		kind := jsonKind(p)
		if p[0] == '{' {
			kind = "malformed JSON"
		}
		return Errorf(CodeInvalidField, "payload", "a JSON object, e.g. {\"model_path\": \"models/m.pth\"}", "payload must be a JSON object, got %s", kind)
	}
	if !refIsCompact(p) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, p); err != nil {
			return Errorf(CodeInvalidField, "payload", "a JSON object", "payload: %v", err)
		}
		p = buf.Bytes()
	}
	if len(p) > v.MaxPayload {
		return Errorf(CodePayloadTooLarge, "payload", fmt.Sprintf("at most %d bytes of compact JSON", v.MaxPayload),
			"payload is %d bytes of compact JSON", len(p))
	}
	e.Payload = p
	return nil
}

// isCompact reports whether b has no insignificant whitespace (a cheap,
// conservative test: any space outside strings makes it false).
func refIsCompact(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if in {
			if c == '\\' {
				i++
			} else if c == '"' {
				in = false
			}
			continue
		}
		if c == '"' {
			in = true
		} else if isSpace(c) {
			return false
		}
	}
	return true
}

// liftConfig merges the envelope config_key with string config_key / config
// payload keys; every source must agree after normalisation.
func refLiftConfig(v *Validator, e *Event, ms []refMember) *Error {
	field := "config_key"
	if e.ConfigKey != "" {
		k, err := refNormalize(v.Configs, e.ConfigKey, "config_key")
		if err != nil {
			return err
		}
		e.ConfigKey = k
	}
	for _, pk := range liftedConfigKeys {
		raw := refLookupMember(ms, pk)
		if raw == nil {
			continue
		}
		s, isStr := refAsString(raw)
		if !isStr {
			continue // payload data, not lifted
		}
		k, err := refNormalize(v.Configs, s, "payload."+pk)
		if err != nil {
			return err
		}
		if e.ConfigKey == "" {
			e.ConfigKey, field = k, "payload."+pk
			continue
		}
		if k != e.ConfigKey {
			return Errorf(CodeConflictingField, "payload."+pk, "one config key, or the same one in every place",
				"payload.%s %q disagrees with %s %q", pk, k, field, e.ConfigKey)
		}
	}
	return nil
}

func refLiftNode(e *Event, ms []refMember) *Error {
	field := "node_id"
	for _, pk := range liftedNodeKeys {
		raw := refLookupMember(ms, pk)
		if raw == nil {
			continue
		}
		s, isStr := refAsString(raw)
		if !isStr {
			continue
		}
		if e.NodeID == "" {
			if s == "" {
				return emptyNodeID("payload." + pk)
			}
			e.NodeID, field = s, "payload."+pk
			continue
		}
		if s != e.NodeID {
			return Errorf(CodeConflictingField, "payload."+pk, "one node id, or the same one in every place",
				"payload.%s %q disagrees with %s %q", pk, s, field, e.NodeID)
		}
	}
	if n := utf8.RuneCountInString(e.NodeID); n > MaxNodeID {
		return Errorf(CodeInvalidField, field, fmt.Sprintf("at most %d characters", MaxNodeID), "node_id is %d characters long", n)
	}
	return nil
}

// checkSchema checks a payload against its type's schema.
func refCheckSchema(v *Validator, typ string, s *Schema, members []refMember) *Error {
	if s == nil || len(s.Fields) == 0 {
		return nil
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Kind == KindOpponents {
			if _, err := refOpponentsFrom(members); err != nil {
				return err
			}
			continue
		}
		val, name, err := refPick(members, f)
		if err != nil {
			return err
		}
		if val == nil {
			if f.Required {
				return missingPayload(typ, f)
			}
			continue
		}
		if err := refCheckKind(v, f, name, val); err != nil {
			return err
		}
	}
	return nil
}

// collect lists the top-level members of p whose value is not null.
func refCollect(p []byte, out []refMember) []refMember {
	_ = eachField(p, func(k, val []byte) error {
		if !isNull(val) {
			out = append(out, refMember{k, val})
		}
		return nil
	})
	return out
}

func refLookupMember(ms []refMember, key string) []byte {
	for i := len(ms) - 1; i >= 0; i-- { // the last duplicate wins, as in encoding/json
		if refKeyEquals(ms[i].key, key) {
			return ms[i].val
		}
	}
	return nil
}

// pick returns the value of f under its canonical key or one of its aliases,
// refusing two that disagree.
func refPick(ms []refMember, f *Field) (val []byte, name string, err *Error) {
	names := append([]string{f.Key}, f.Aliases...)
	for _, n := range names {
		v := refLookupMember(ms, n)
		if v == nil {
			continue
		}
		if val == nil {
			val, name = v, n
			continue
		}
		if !refSameJSONValue(val, v) {
			return nil, "", Errorf(CodeConflictingField, "payload."+n, fmt.Sprintf("only one of payload.%s and payload.%s, or equal values", name, n),
				"payload.%s %s disagrees with payload.%s %s", n, v, name, val)
		}
	}
	return val, name, nil
}

// sameJSONValue compares two raw values: numbers by value, strings decoded,
// anything else by its compact bytes.
func refSameJSONValue(a, b []byte) bool {
	if fa, ok := refAsNumber(a); ok {
		fb, ok := refAsNumber(b)
		return ok && fa == fb
	}
	if sa, ok := refAsString(a); ok {
		sb, ok := refAsString(b)
		return ok && sa == sb
	}
	return bytes.Equal(a, b)
}

func refCheckKind(v *Validator, f *Field, name string, val []byte) *Error {
	fieldName := "payload." + name
	bad := func() *Error {
		return Errorf(CodeInvalidField, fieldName, f.Kind.String(), "payload.%s must be %s, got %s", name, f.Kind, describe(val))
	}
	switch f.Kind {
	case KindStr:
		s, ok := refAsString(val)
		if !ok {
			return bad()
		}
		if f.Required && s == "" {
			return Errorf(CodeInvalidField, fieldName, "a non-empty string", "payload.%s is empty", name)
		}
	case KindInt:
		if _, ok := refAsCount(val); !ok {
			return bad()
		}
	case KindNum:
		if _, ok := refAsNumber(val); !ok {
			return bad()
		}
	case KindRate:
		if r, ok := refAsNumber(val); !ok || r < 0 || r > 1 {
			return bad()
		}
	case KindObj:
		if val[0] != '{' {
			return bad()
		}
	case KindTier:
		if n, ok := refAsCount(val); !ok || n > 3 {
			return bad()
		}
	case KindLevel:
		s, ok := refAsString(val)
		if !ok || !isLevel(s) {
			return bad()
		}
	case KindWeights:
		if _, err := refWeights(v, val, fieldName); err != nil {
			return err
		}
	}
	return nil
}

// weights decodes a curriculum weights object: config key → finite number.
func refWeights(v *Validator, val []byte, fieldName string) (map[string]float64, *Error) {
	if len(val) == 0 || val[0] != '{' {
		return nil, Errorf(CodeInvalidField, fieldName, KindWeights.String(), "%s must be an object, got %s", fieldName, describe(val))
	}
	out := map[string]float64{}
	var ferr *Error
	_ = eachField(val, func(k, x []byte) error {
		key := refKeyString(k)
		ck, err := refNormalize(v.Configs, key, fieldName+"."+key)
		if err != nil {
			ferr = err
			return errScan
		}
		w, ok := refAsNumber(x)
		if !ok {
			ferr = Errorf(CodeInvalidField, fieldName+"."+key, "a finite number", "%s.%s must be a number, got %s", fieldName, key, describe(x))
			return errScan
		}
		out[ck] = w
		return nil
	})
	if ferr != nil {
		return nil, ferr
	}
	return out, nil
}

// opponentsFrom normalises the opponents of a payload from every shape
// events.md accepts: opponents, opponent_results, and vs_random_rate /
// vs_heuristic_rate with games_played. Shapes present together must agree.
// The result is sorted by name.
func refOpponentsFrom(ms []refMember) ([]Opponent, *Error) {
	var (
		merged []Opponent
		from   = map[string]string{} // opponent → field that gave it
		found  bool
	)
	add := func(o Opponent, field string) *Error {
		for i := range merged {
			if merged[i].Name != o.Name {
				continue
			}
			if merged[i] != o {
				return Errorf(CodeConflictingField, field, "one shape of opponents, or shapes that agree",
					"%s (%d games, win rate %g) disagrees with %s (%d games, win rate %g)",
					field, o.Games, o.WinRate, from[o.Name], merged[i].Games, merged[i].WinRate)
			}
			return nil
		}
		merged = append(merged, o)
		from[o.Name] = field
		return nil
	}
	for _, key := range []string{"opponents", "opponent_results"} {
		raw := refLookupMember(ms, key)
		if raw == nil {
			continue
		}
		found = true
		os, err := refParseOpponents(raw, "payload."+key)
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			if err := add(o, "payload."+key+"."+o.Name); err != nil {
				return nil, err
			}
		}
	}
	vs, err := refVsRates(ms)
	if err != nil {
		return nil, err
	}
	for _, o := range vs {
		found = true
		if err := add(o, "payload.vs_"+o.Name+"_rate"); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, Errorf(CodeMissingField, "payload.opponents",
			`payload.opponents: {"random": {"games": 50, "win_rate": 0.96}, ...} (or opponent_results, or vs_random_rate / vs_heuristic_rate with games_played)`,
			"evaluation_completed needs payload.opponents")
	}
	slices.SortFunc(merged, func(a, b Opponent) int { return strings.Compare(a.Name, b.Name) })
	return merged, nil
}

func refParseOpponents(raw []byte, field string) ([]Opponent, *Error) {
	if raw[0] != '{' {
		return nil, Errorf(CodeInvalidField, field, `an object of opponent → {"games": int > 0, "win_rate": rate}`,
			"%s must be an object, got %s", field, describe(raw))
	}
	var (
		out  []Opponent
		ferr *Error
	)
	_ = eachField(raw, func(k, v []byte) error {
		name := refKeyString(k)
		o, err := refParseOpponent(name, v, field+"."+name)
		if err != nil {
			ferr = err
			return errScan
		}
		out = append(out, o)
		return nil
	})
	if ferr != nil {
		return nil, ferr
	}
	if len(out) == 0 {
		return nil, Errorf(CodeInvalidField, field, "at least one opponent", "%s is empty", field)
	}
	return out, nil
}

func refParseOpponent(name string, v []byte, field string) (Opponent, *Error) {
	o := Opponent{Name: name}
	if v[0] != '{' {
		return o, Errorf(CodeInvalidField, field, `{"games": int > 0, "win_rate": rate}`, "%s must be an object, got %s", field, describe(v))
	}
	ms := refCollect(v, nil)
	games, gname, err := refPick(ms, &Field{Key: "games", Aliases: []string{"games_played"}})
	if err != nil {
		err.Field = field + "." + strings.TrimPrefix(err.Field, "payload.")
		return o, err
	}
	if games == nil {
		return o, Errorf(CodeMissingField, field+".games", "an integer > 0 (games_played is also accepted)", "%s needs games", field)
	}
	n, ok := refAsCount(games)
	if !ok || n == 0 {
		return o, Errorf(CodeInvalidField, field+"."+gname, "an integer > 0", "%s.%s must be an integer > 0, got %s", field, gname, describe(games))
	}
	rate := refLookupMember(ms, "win_rate")
	if rate == nil {
		return o, Errorf(CodeMissingField, field+".win_rate", "a number in [0, 1]", "%s needs win_rate", field)
	}
	r, ok := refAsNumber(rate)
	if !ok || r < 0 || r > 1 {
		return o, Errorf(CodeInvalidField, field+".win_rate", "a number in [0, 1]", "%s.win_rate must be a number in [0, 1], got %s", field, describe(rate))
	}
	o.Games, o.WinRate = n, r
	return o, nil
}

// vsRates reads the Python workers' flat shape: vs_random_rate and/or
// vs_heuristic_rate with games_played split between them (an odd game goes to
// random; a single rate gets all games).
func refVsRates(ms []refMember) ([]Opponent, *Error) {
	var out []Opponent
	for _, name := range []string{"random", "heuristic"} {
		key := "vs_" + name + "_rate"
		raw := refLookupMember(ms, key)
		if raw == nil {
			continue
		}
		r, ok := refAsNumber(raw)
		if !ok || r < 0 || r > 1 {
			return nil, Errorf(CodeInvalidField, "payload."+key, "a number in [0, 1]", "payload.%s must be a number in [0, 1], got %s", key, describe(raw))
		}
		out = append(out, Opponent{Name: name, WinRate: r})
	}
	if len(out) == 0 {
		return nil, nil
	}
	raw := refLookupMember(ms, "games_played")
	if raw == nil {
		return nil, Errorf(CodeMissingField, "payload.games_played", "an integer > 0: the games behind vs_random_rate / vs_heuristic_rate",
			"payload.vs_%s_rate needs payload.games_played", out[0].Name)
	}
	n, ok := refAsCount(raw)
	if !ok || n < int64(len(out)) {
		return nil, Errorf(CodeInvalidField, "payload.games_played", fmt.Sprintf("an integer ≥ %d", len(out)),
			"payload.games_played must be an integer ≥ %d (one game per rate at least), got %s", len(out), describe(raw))
	}
	if len(out) == 1 {
		out[0].Games = n
	} else {
		out[0].Games, out[1].Games = n-n/2, n/2 // random first: it gets the odd game
	}
	return out, nil
}

// keyString decodes a raw key span; keys without escapes are returned as is.
func refKeyString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
		return string(raw)
	}
	return s
}

// keyEquals reports whether the raw key span spells k.
func refKeyEquals(raw []byte, k string) bool {
	if len(raw) == len(k) && string(raw) == k {
		return true
	}
	return bytes.IndexByte(raw, '\\') >= 0 && refKeyString(raw) == k
}

// asString decodes a raw JSON string value.
func refAsString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// asNumber decodes a raw JSON number; it is false for anything else and for
// numbers too large for a float64.
func refAsNumber(v []byte) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// asCount decodes an int of events.md: a number with an integral value ≥ 0.
func refAsCount(v []byte) (int64, bool) {
	f, ok := refAsNumber(v)
	if !ok || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// Normalize returns the canonical form of a config key ("hex8_2" becomes
// "hex8_2p") or a refusal naming field.
func refNormalize(c Configs, s, field string) (string, *Error) {
	board, n, ok := refSplitConfigKey(s)
	if ok && slices.Contains(c.boards, board) {
		return board + "_" + strconv.Itoa(n) + "p", nil
	}
	return "", Errorf(CodeInvalidConfigKey, field,
		"a config key is {board}_{n}p with board one of "+strings.Join(c.boards, ", ")+" and n 2, 3 or 4, e.g. hex8_2p",
		"invalid config key %q", s)
}

func refSplitConfigKey(s string) (board string, players int, ok bool) {
	i := strings.LastIndexByte(s, '_')
	if i <= 0 {
		return "", 0, false
	}
	board, rest := s[:i], s[i+1:]
	rest = strings.TrimSuffix(rest, "p")
	if len(rest) != 1 || rest[0] < '0'+MinPlayers || rest[0] > '0'+MaxPlayers {
		return "", 0, false
	}
	return board, int(rest[0] - '0'), true
}

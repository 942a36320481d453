package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxPayload is the default bound on a payload's compact JSON.
const DefaultMaxPayload = 64 << 10

// MaxNodeID bounds the length of node_id in characters.
const MaxNodeID = 128

// Validator checks events against the catalog and the schemas of events.md.
// The zero value is not useful; use NewValidator or DefaultValidator.
type Validator struct {
	// MaxPayload bounds a payload's compact JSON in bytes.
	MaxPayload int
	// Configs normalises config keys (the canonical boards plus the
	// operator's extra ones).
	Configs Configs
	// MaxFuture, when positive, refuses an input time more than this ahead
	// of Now: the daemon's --max-future (DefaultMaxFuture). Decisions are
	// not checked (their time is their cause's), nor is any fold.
	MaxFuture time.Duration
	// Now is the clock MaxFuture is checked against; nil turns the check
	// off. The package reads no clock itself: the daemon passes time.Now.
	Now func() time.Time
	// AnyTime accepts every time the journal can hold, RFC 3339 or with an
	// expanded year (ParseTime), with no year range and no MaxFuture: for
	// reading back events a journal already holds (exports), never for
	// input.
	AnyTime bool
}

// NewValidator returns a validator with the given payload bound (≤ 0 means
// DefaultMaxPayload) and extra boards.
func NewValidator(maxPayload int, extraBoards ...string) *Validator {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	return &Validator{MaxPayload: maxPayload, Configs: NewConfigs(extraBoards...)}
}

// DefaultValidator has the defaults of events.md.
var DefaultValidator = NewValidator(0)

// Validate checks an event built in Go (not decoded from JSON) with the
// defaults and normalises it in place: the type NAME becomes its value, config
// and node keys are lifted from the payload, the config key is normalised and
// the payload compacted. Input may not use the reserved ringriftd/ source.
func Validate(e *Event) *Error { return DefaultValidator.Validate(e) }

// Validate is the method form of the package-level Validate.
func (v *Validator) Validate(e *Event) *Error {
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
	return v.checkBody(e, false)
}

// ValidateDecision checks an event ringriftd itself emits: like Validate, but
// the source must carry the reserved prefix.
func (v *Validator) ValidateDecision(e *Event) *Error {
	if err := v.resolveType(e); err != nil {
		return err
	}
	if !strings.HasPrefix(e.Source, DecisionSourcePrefix) {
		return Errorf(CodeInvalidField, "source", "ringriftd/<policy>", "a decision's source must start with %q, got %q", DecisionSourcePrefix, e.Source)
	}
	return v.checkBody(e, false)
}

func reservedSource(s string) *Error {
	return Errorf(CodeInvalidField, "source", "any other source name, e.g. the emitting component (TrainingCoordinator)",
		"source %q uses the prefix %q reserved for ringriftd's own decisions", s, DecisionSourcePrefix)
}

func (v *Validator) resolveType(e *Event) *Error {
	if e.Type == "" {
		return Errorf(CodeMissingField, "type", "an event type of the catalog, e.g. training_completed", "missing event type")
	}
	t, ok := Lookup(e.Type)
	if !ok {
		return unknownType("type", e.Type)
	}
	e.Type = t.Value
	return nil
}

func unknownType(field, s string) *Error {
	hint := "a type of the catalog (GET /v1/catalog lists them; events.md), e.g. training_completed"
	if t, ok := Default().Suggest(s); ok {
		hint = fmt.Sprintf("did you mean %s (%s)?", t.Value, t.Name)
	}
	return Errorf(CodeUnknownEventType, field, hint, "unknown event type %q", s)
}

// checkBody runs the checks that follow the envelope's own keys, in the order
// of events.md: payload shape and size, config_key, node_id, required scope,
// payload schema. It lifts payload keys into the envelope and compacts the
// payload. emptyNode says the input had an empty top-level node_id.
func (v *Validator) checkBody(e *Event, emptyNode bool) *Error {
	var top topMembers
	ms, err := v.checkPayloadShape(e, &top)
	if err != nil {
		return err
	}
	if err := v.liftConfig(e, ms); err != nil {
		return err
	}
	if emptyNode {
		return emptyNodeID("node_id")
	}
	if err := liftNode(e, ms); err != nil {
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
	return v.checkSchema(e.Type, s, ms)
}

// checkPayloadShape checks that the payload is a JSON object within the
// size bound, compacts it, and returns its top-level members that are not
// null (as collect lists them), validating and gathering them in one pass
// into t, which is zero (the members are t's unless there are too many).
func (v *Validator) checkPayloadShape(e *Event, t *topMembers) ([]member, *Error) {
	p := bytes.TrimSpace(e.Payload)
	if len(p) == 0 {
		e.Payload = json.RawMessage("{}")
		return nil, nil
	}
	if p[0] != '{' || !validPayload(p, t) {
		kind := jsonKind(p)
		if p[0] == '{' {
			kind = "malformed JSON"
		}
		return nil, Errorf(CodeInvalidField, "payload", "a JSON object, e.g. {\"model_path\": \"models/m.pth\"}", "payload must be a JSON object, got %s", kind)
	}
	ms := t.buf[:t.n]
	if t.spaced {
		var buf bytes.Buffer
		if err := json.Compact(&buf, p); err != nil {
			return nil, Errorf(CodeInvalidField, "payload", "a JSON object", "payload: %v", err)
		}
		p = buf.Bytes()
		ms = collect(p, t.buf[:0])
	} else if t.over {
		ms = collect(p, nil)
	}
	if len(p) > v.MaxPayload {
		return nil, Errorf(CodePayloadTooLarge, "payload", fmt.Sprintf("at most %d bytes of compact JSON", v.MaxPayload),
			"payload is %d bytes of compact JSON", len(p))
	}
	e.Payload = p
	return ms, nil
}

// isCompact reports whether b has no insignificant whitespace (a cheap,
// conservative test: any space outside strings makes it false).
func isCompact(b []byte) bool {
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
func (v *Validator) liftConfig(e *Event, ms []member) *Error {
	field := "config_key"
	if e.ConfigKey != "" {
		k, err := v.Configs.Normalize(e.ConfigKey, "config_key")
		if err != nil {
			return err
		}
		e.ConfigKey = k
	}
	for _, pk := range liftedConfigKeys {
		raw := lookupMember(ms, pk)
		if raw == nil {
			continue
		}
		if e.ConfigKey != "" && plainString(raw, e.ConfigKey) {
			continue // the normalised key itself: it agrees
		}
		s, isStr := asString(raw)
		if !isStr {
			continue // payload data, not lifted
		}
		k, err := v.Configs.Normalize(s, "payload."+pk)
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

func liftNode(e *Event, ms []member) *Error {
	field := "node_id"
	for _, pk := range liftedNodeKeys {
		raw := lookupMember(ms, pk)
		if raw == nil {
			continue
		}
		s, isStr := asString(raw)
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

func emptyNodeID(field string) *Error {
	return Errorf(CodeInvalidField, field, fmt.Sprintf("a non-empty node id of at most %d characters", MaxNodeID), "node_id is empty")
}

// checkSchema checks a payload against its type's schema.
func (v *Validator) checkSchema(typ string, s *Schema, members []member) *Error {
	if s == nil || len(s.Fields) == 0 {
		return nil
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Kind == KindOpponents {
			if _, err := opponentsFrom(members); err != nil {
				return err
			}
			continue
		}
		val, name, err := pick(members, f)
		if err != nil {
			return err
		}
		if val == nil {
			if f.Required {
				return missingPayload(typ, f)
			}
			continue
		}
		if err := v.checkKind(f, name, val); err != nil {
			return err
		}
	}
	return nil
}

func missingPayload(typ string, f *Field) *Error {
	hint := fmt.Sprintf("payload.%s: %s", f.Key, f.Kind)
	if len(f.Aliases) > 0 {
		hint += " (also accepted as " + strings.Join(f.Aliases, ", ") + ")"
	}
	return Errorf(CodeMissingField, "payload."+f.Key, hint, "%s needs payload.%s", typ, f.Key)
}

type member struct {
	key []byte // raw, escapes intact: compare with keyIs
	val []byte
	esc bool // the key has an escape
}

// keyIs reports whether the member's key spells k (keyEquals without
// looking for an escape again).
func (m *member) keyIs(k string) bool {
	if !m.esc {
		return string(m.key) == k
	}
	return keyString(m.key) == k
}

// collect lists the top-level members of p whose value is not null.
func collect(p []byte, out []member) []member {
	_ = eachField(p, func(k, val []byte) error {
		if !isNull(val) {
			out = append(out, member{k, val, bytes.IndexByte(k, '\\') >= 0})
		}
		return nil
	})
	return out
}

func lookupMember(ms []member, key string) []byte {
	for i := len(ms) - 1; i >= 0; i-- { // the last duplicate wins, as in encoding/json
		if ms[i].keyIs(key) {
			return ms[i].val
		}
	}
	return nil
}

// plainString reports whether the raw JSON value v is the string s written
// without escapes, in valid UTF-8: what asString decodes to s as it is.
func plainString(v []byte, s string) bool {
	if len(v) != len(s)+2 || v[0] != '"' {
		return false
	}
	inner := v[1 : len(v)-1]
	return string(inner) == s && bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)
}

// pick returns the value of f under its canonical key or one of its aliases,
// refusing two that disagree.
func pick(ms []member, f *Field) (val []byte, name string, err *Error) {
	for i := -1; i < len(f.Aliases); i++ {
		n := f.Key
		if i >= 0 {
			n = f.Aliases[i]
		}
		v := lookupMember(ms, n)
		if v == nil {
			continue
		}
		if val == nil {
			val, name = v, n
			continue
		}
		if !sameJSONValue(val, v) {
			return nil, "", Errorf(CodeConflictingField, "payload."+n, fmt.Sprintf("only one of payload.%s and payload.%s, or equal values", name, n),
				"payload.%s %s disagrees with payload.%s %s", n, v, name, val)
		}
	}
	return val, name, nil
}

// sameJSONValue compares two raw values: numbers by value, strings decoded,
// anything else by its compact bytes.
func sameJSONValue(a, b []byte) bool {
	if fa, ok := asNumber(a); ok {
		fb, ok := asNumber(b)
		return ok && fa == fb
	}
	if sa, ok := asString(a); ok {
		sb, ok := asString(b)
		return ok && sa == sb
	}
	return bytes.Equal(a, b)
}

func (v *Validator) checkKind(f *Field, name string, val []byte) *Error {
	bad := func() *Error {
		return Errorf(CodeInvalidField, "payload."+name, f.Kind.String(), "payload.%s must be %s, got %s", name, f.Kind, describe(val))
	}
	switch f.Kind {
	case KindStr:
		s, ok := asString(val)
		if !ok {
			return bad()
		}
		if f.Required && s == "" {
			return Errorf(CodeInvalidField, "payload."+name, "a non-empty string", "payload.%s is empty", name)
		}
	case KindInt:
		if _, ok := asCount(val); !ok {
			return bad()
		}
	case KindNum:
		if _, ok := asNumber(val); !ok {
			return bad()
		}
	case KindRate:
		if r, ok := asNumber(val); !ok || r < 0 || r > 1 {
			return bad()
		}
	case KindObj:
		if val[0] != '{' {
			return bad()
		}
	case KindTier:
		if n, ok := asCount(val); !ok || n > 3 {
			return bad()
		}
	case KindLevel:
		s, ok := asString(val)
		if !ok || !isLevel(s) {
			return bad()
		}
	case KindWeights:
		if _, err := v.weights(val, "payload."+name); err != nil {
			return err
		}
	}
	return nil
}

func isLevel(s string) bool {
	for _, l := range Levels {
		if s == l {
			return true
		}
	}
	return false
}

// describe shows a raw value in an error message, shortened.
func describe(val []byte) string {
	if len(val) > 40 {
		return jsonKind(val)
	}
	return string(val)
}

// weights decodes a curriculum weights object: config key → finite number.
func (v *Validator) weights(val []byte, fieldName string) (map[string]float64, *Error) {
	if len(val) == 0 || val[0] != '{' {
		return nil, Errorf(CodeInvalidField, fieldName, KindWeights.String(), "%s must be an object, got %s", fieldName, describe(val))
	}
	out := map[string]float64{}
	var ferr *Error
	_ = eachField(val, func(k, x []byte) error {
		key := keyString(k)
		ck, err := v.Configs.Normalize(key, fieldName+"."+key)
		if err != nil {
			ferr = err
			return errScan
		}
		w, ok := asNumber(x)
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

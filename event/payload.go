package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"slices"
)

// This file gives rules typed access to payload keys, read through the aliases
// of the event's schema, and the normalised form content deduplication hashes.

// raw returns the raw value of a payload key of e, looked up under its
// canonical name and then its aliases; null counts as absent.
func (e *Event) raw(key string) ([]byte, bool) {
	if len(e.Payload) <= 2 {
		return nil, false
	}
	if v, ok := field(e.Payload, key); ok {
		return v, true
	}
	if f := SchemaOf(e.Type).field(key); f != nil {
		for _, a := range f.Aliases {
			if v, ok := field(e.Payload, a); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// Has reports whether the payload has key (or an alias of it), not null.
func (e *Event) Has(key string) bool {
	_, ok := e.raw(key)
	return ok
}

// Str returns a string payload key; false when absent or not a string.
func (e *Event) Str(key string) (string, bool) {
	v, ok := e.raw(key)
	if !ok {
		return "", false
	}
	return asString(v)
}

// Num returns a numeric payload key; false when absent or not a number.
func (e *Event) Num(key string) (float64, bool) {
	v, ok := e.raw(key)
	if !ok {
		return 0, false
	}
	return asNumber(v)
}

// Int returns an int payload key (integral, ≥ 0); false otherwise.
func (e *Event) Int(key string) (int64, bool) {
	v, ok := e.raw(key)
	if !ok {
		return 0, false
	}
	return asCount(v)
}

// Opponents returns the normalised opponents of an evaluation_completed
// payload, sorted by name; nil when the payload has none that are valid.
func (e *Event) Opponents() []Opponent {
	os, err := opponentsFrom(collect(e.Payload, nil))
	if err != nil {
		return nil
	}
	return os
}

// Weights returns the curriculum weights of a curriculum_rebalanced payload by
// normalised config key; invalid keys or values are left out.
func (e *Event) Weights() map[string]float64 {
	var out map[string]float64
	e.EachWeight(func(config string, w float64) {
		if out == nil {
			out = map[string]float64{}
		}
		out[config] = w
	})
	return out
}

// EachWeight calls fn for each valid weight of a curriculum_rebalanced
// payload in payload order (a later duplicate of a config overrides an
// earlier one, as in Weights), without building a map.
func (e *Event) EachWeight(fn func(config string, w float64)) {
	v, ok := e.raw("weights")
	if !ok || v[0] != '{' {
		return
	}
	_ = eachField(v, func(k, x []byte) error {
		ck, ok := WellFormedConfigKey(keyString(k)) // validated at append, against the daemon's boards
		w, okw := asNumber(x)
		if ok && okw {
			fn(ck, w)
		}
		return nil
	})
}

// NormalizedPayload is the payload as content deduplication sees it: aliases
// renamed to their canonical keys, lifted config and node keys removed, keys
// sorted at every depth.
func NormalizedPayload(e *Event) []byte {
	s := SchemaOf(e.Type)
	ms := collect(e.Payload, nil)
	out := make(map[string]json.RawMessage, len(ms))
	for _, mm := range ms {
		m := struct {
			key string
			val []byte
		}{keyString(mm.key), mm.val}
		if _, isStr := asString(m.val); isStr && (slices.Contains(liftedConfigKeys, m.key) || slices.Contains(liftedNodeKeys, m.key)) {
			continue
		}
		key := m.key
		if c := s.canonical(key); c != "" {
			key = c
		}
		if _, dup := out[key]; dup && key != m.key {
			continue // the canonical key wins over an equal alias
		}
		out[key] = sortedJSON(m.val)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return e.Payload
	}
	return b
}

// sortedJSON re-encodes nested objects with sorted keys; scalars are kept as
// written.
func sortedJSON(v []byte) json.RawMessage {
	if v[0] != '{' && v[0] != '[' {
		return v
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return v
	}
	b, err := json.Marshal(x)
	if err != nil {
		return v
	}
	return b
}

// ContentKey is the content-deduplication key of journal.md: SHA-256 over
// type, config_key, node_id and the normalised payload.
func ContentKey(e *Event) [32]byte {
	h := sha256.New()
	for _, s := range []string{e.Type, e.ConfigKey, e.NodeID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(NormalizedPayload(e))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// SameContent reports whether two events carry the same content (type,
// config_key, node_id, normalised payload): a re-sent id with other content is
// an id_conflict.
func SameContent(a, b *Event) bool {
	if a.Type != b.Type || a.ConfigKey != b.ConfigKey || a.NodeID != b.NodeID {
		return false
	}
	return bytes.Equal(a.Payload, b.Payload) || bytes.Equal(NormalizedPayload(a), NormalizedPayload(b))
}

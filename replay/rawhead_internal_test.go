package replay

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// refHead is rawHead written with encoding/json, for valid JSON.
func refHead(raw []byte) head {
	var top, payload map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return head{}
	}
	s := func(m map[string]json.RawMessage, k string) string {
		var x string
		if json.Unmarshal(m[k], &x) != nil {
			return ""
		}
		return x
	}
	_ = json.Unmarshal(top["payload"], &payload)
	h := head{Type: firstOf(s(top, "type"), s(top, "event_type")), ConfigKey: s(top, "config_key"), NodeID: s(top, "node_id"), Source: s(top, "source")}
	for _, k := range liftedConfig {
		h.ConfigKey = firstOf(h.ConfigKey, s(payload, k))
	}
	for _, k := range liftedNode {
		h.NodeID = firstOf(h.NodeID, s(payload, k))
	}
	return h
}

// FuzzRawHead checks the token walk against encoding/json on valid JSON,
// and that any prefix of it (a raw input cut at journal.RawLimit) is read
// without a panic.
func FuzzRawHead(f *testing.F) {
	for _, s := range []string{
		`{"event_type": "TRAINING_COMPLETE", "config_key": "hex8_2p"}`,
		`{"payload":{"type":"inner","config_key":"zz"},"type":"training_complete","config_key":"hex8_2p"}`,
		`{ "payload" : { "meta" : { "node_id" : "decoy" }, "host" : "gpu-07", "s": "}]\"{" } , "event_type" : "host_offline" }`,
		`{"type": "a", "type": "b", "payload": {"config": "c", "config_key": 5, "hostname": "h", "node": "n"}}`,
		`{"t\u0079pe": "x\ud83d\ude00", "source": "py", "config_key": null, "node_id": ["n"], "payload": [1]}`,
		`{"list": [true, false, null, -1.5e3, {"type": "decoy"}], "type": "new_games"}`,
		`["type", "x"]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := []byte(s)
		for n := range raw {
			rawHead(raw[:n])
		}
		if !json.Valid(raw) || !utf8.Valid(raw) {
			return
		}
		if got, want := rawHead(raw), refHead(raw); got != want {
			t.Errorf("rawHead(%s) = %+v, want %+v", s, got, want)
		}
	})
}

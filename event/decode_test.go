package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// refusalCases is the table of refusals: every code event/ can return, and
// the first-problem order of events.md.
var refusalCases = []struct {
	name  string
	in    string
	code  event.Code
	field string
	hint  string // a substring the hint must contain
}{
	{"invalid json", `{"type": "new_games",`, event.CodeInvalidJSON, "", ""},
	{"array is not an object", `[1]`, event.CodeNotAnObject, "", "JSON object"},
	{"string is not an object", `"training_started"`, event.CodeNotAnObject, "", ""},
	{"unknown type with hint", `{"type": "training_complete", "config_key": "hex8_2p"}`, event.CodeUnknownEventType, "type", "did you mean training_completed (TRAINING_COMPLETED)?"},
	{"case mismatch is unknown", `{"type": "Training_Completed"}`, event.CodeUnknownEventType, "type", "training_completed"},
	{"missing type", `{"config_key": "hex8_2p"}`, event.CodeMissingField, "type", "event type"},
	{"null type is missing", `{"type": null}`, event.CodeMissingField, "type", ""},
	{"type not a string", `{"type": 5}`, event.CodeInvalidField, "type", "string"},
	{"unknown envelope key", `{"type": "new_games", "config_key": "hex8_2p", "origin": "x"}`, event.CodeInvalidField, "origin", "config_key"},
	{"unknown key before unknown type", `{"type": "nope", "extra": 1}`, event.CodeInvalidField, "extra", ""},
	{"invalid id", `{"type": "sync_started", "id": "not-a-ulid"}`, event.CodeInvalidID, "id", "ULID"},
	{"id overflows", `{"type": "sync_started", "id": "81JD3ZK6Q8V7W2M4X9N5T1R0AB"}`, event.CodeInvalidID, "id", "at most 7"},
	{"id before time", `{"type": "sync_started", "id": "x", "time": "yesterday"}`, event.CodeInvalidID, "id", ""},
	{"invalid time", `{"type": "sync_started", "time": "yesterday"}`, event.CodeInvalidField, "time", "RFC 3339"},
	{"invalid timestamp", `{"type": "sync_started", "timestamp": "1700000000"}`, event.CodeInvalidField, "timestamp", "unix seconds"},
	{"time in 1969", `{"type": "sync_started", "time": "1969-12-31T23:59:59.999Z"}`, event.CodeInvalidField, "time", "1970–9999"},
	{"time in 10000", `{"type": "sync_started", "time": "+10000-01-01T00:00:00Z"}`, event.CodeInvalidField, "time", "1970–9999"},
	{"time in 58862", `{"type": "sync_started", "time": "58862-02-20T02:54:10.250Z"}`, event.CodeInvalidField, "time", "1970–9999"},
	{"timestamp in 1969", `{"type": "sync_started", "timestamp": -0.001}`, event.CodeInvalidField, "timestamp", "from 0 to 253402300799.999"},
	{"timestamp in 10000", `{"type": "sync_started", "timestamp": 253402300800}`, event.CodeInvalidField, "timestamp", "from 0 to 253402300799.999"},
	{"timestamp in milliseconds", `{"type": "sync_started", "timestamp": 1795342503250.5}`, event.CodeInvalidField, "timestamp", "looks like milliseconds"},
	{"time range before payload", `{"type": "training_completed", "time": "1969-01-01T00:00:00Z"}`, event.CodeInvalidField, "time", ""},
	{"time and timestamp disagree", `{"type": "sync_started", "time": "2026-11-22T10:00:00Z", "timestamp": 1795342000.5}`, event.CodeConflictingField, "timestamp", ""},
	{"reserved source", `{"type": "sync_started", "source": "ringriftd/threshold"}`, event.CodeInvalidField, "source", ""},
	{"dedup not bool", `{"type": "sync_started", "dedup": "no"}`, event.CodeInvalidField, "dedup", "true or false"},
	{"payload array", `{"type": "sync_started", "payload": [1]}`, event.CodeInvalidField, "payload", "JSON object"},
	{"payload null", `{"type": "sync_started", "payload": null}`, event.CodeInvalidField, "payload", ""},
	{"payload too large", `{"type": "sync_started", "payload": {"x": "` + strings.Repeat("a", event.DefaultMaxPayload) + `"}}`, event.CodePayloadTooLarge, "payload", "65536"},
	{"bad config key", `{"type": "new_games", "config_key": "hex9_2p"}`, event.CodeInvalidConfigKey, "config_key", "hex8, hexagonal, square19, square8"},
	{"config key case-sensitive", `{"type": "new_games", "config_key": "HEX8_2p"}`, event.CodeInvalidConfigKey, "config_key", ""},
	{"five players", `{"type": "new_games", "config_key": "hex8_5p"}`, event.CodeInvalidConfigKey, "config_key", ""},
	{"empty config key", `{"type": "new_games", "config_key": ""}`, event.CodeInvalidConfigKey, "config_key", ""},
	{"config key not a string", `{"type": "new_games", "config_key": 8}`, event.CodeInvalidField, "config_key", "string"},
	{"payload config invalid", `{"type": "new_games", "payload": {"config": "hex8"}}`, event.CodeInvalidConfigKey, "payload.config", ""},
	{"config sources disagree", `{"type": "new_games", "config_key": "hex8_2p", "payload": {"config_key": "hex8_3p"}}`, event.CodeConflictingField, "payload.config_key", ""},
	{"config before node", `{"type": "node_unhealthy", "config_key": "bad", "node_id": ""}`, event.CodeInvalidConfigKey, "config_key", ""},
	{"empty node id", `{"type": "node_unhealthy", "node_id": ""}`, event.CodeInvalidField, "node_id", "non-empty"},
	{"node id too long", `{"type": "node_unhealthy", "node_id": "` + strings.Repeat("n", 129) + `"}`, event.CodeInvalidField, "node_id", "128"},
	{"node sources disagree", `{"type": "node_unhealthy", "node_id": "a", "payload": {"host": "b"}}`, event.CodeConflictingField, "payload.host", ""},
	{"missing config scope", `{"type": "training_started"}`, event.CodeMissingField, "config_key", "hex8_2p"},
	{"missing node scope", `{"type": "host_online"}`, event.CodeMissingField, "node_id", ""},
	{"scope before schema", `{"type": "training_completed"}`, event.CodeMissingField, "config_key", ""},
	{"missing required payload", `{"type": "training_completed", "config_key": "hex8_2p"}`, event.CodeMissingField, "payload.model_path", "checkpoint_path"},
	{"null payload key is missing", `{"type": "training_completed", "config_key": "hex8_2p", "payload": {"model_path": null}}`, event.CodeMissingField, "payload.model_path", ""},
	{"empty required string", `{"type": "training_completed", "config_key": "hex8_2p", "payload": {"model_path": ""}}`, event.CodeInvalidField, "payload.model_path", "non-empty"},
	{"alias conflict", `{"type": "training_completed", "config_key": "hex8_2p", "payload": {"model_path": "a", "checkpoint_path": "b"}}`, event.CodeConflictingField, "payload.checkpoint_path", ""},
	{"int not integral", `{"type": "new_games", "config_key": "hex8_2p", "payload": {"games": 1.5}}`, event.CodeInvalidField, "payload.games", "integer"},
	{"int negative via alias", `{"type": "new_games", "config_key": "hex8_2p", "payload": {"num_games": -1}}`, event.CodeInvalidField, "payload.num_games", ""},
	{"rate out of range", `{"type": "training_blocked_by_quality", "config_key": "hex8_2p", "payload": {"quality_score": 1.2}}`, event.CodeInvalidField, "payload.quality_score", "[0, 1]"},
	{"num not a number", `{"type": "training_progress", "config_key": "hex8_2p", "payload": {"loss": "low"}}`, event.CodeInvalidField, "payload.loss", "finite number"},
	{"tier out of range", `{"type": "curriculum_advanced", "config_key": "hex8_2p", "payload": {"new_tier": 4}}`, event.CodeInvalidField, "payload.new_tier", "0–3"},
	{"bad level", `{"type": "backpressure_activated", "payload": {"level": "extreme"}}`, event.CodeInvalidField, "payload.level", "soft"},
	{"weights with bad config", `{"type": "curriculum_rebalanced", "payload": {"weights": {"hex8_9p": 1}}}`, event.CodeInvalidConfigKey, "payload.weights.hex8_9p", ""},
	{"weights with bad value", `{"type": "curriculum_rebalanced", "payload": {"weights": {"hex8_2p": "x"}}}`, event.CodeInvalidField, "payload.weights.hex8_2p", "number"},
	{"missing opponents", `{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": {"model_path": "m"}}`, event.CodeMissingField, "payload.opponents", "vs_random_rate"},
	{"opponent without games", `{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": {"model_path": "m", "opponents": {"random": {"win_rate": 0.5}}}}`, event.CodeMissingField, "payload.opponents.random.games", ""},
	{"opponent zero games", `{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": {"model_path": "m", "opponents": {"random": {"games": 0, "win_rate": 0.5}}}}`, event.CodeInvalidField, "payload.opponents.random.games", "> 0"},
	{"opponent bad rate", `{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": {"model_path": "m", "opponents": {"random": {"games": 5, "win_rate": 2}}}}`, event.CodeInvalidField, "payload.opponents.random.win_rate", ""},
	{"vs rate without games_played", `{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": {"model_path": "m", "vs_random_rate": 0.9}}`, event.CodeMissingField, "payload.games_played", ""},
	{"opponent shapes disagree", `{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": {"model_path": "m", "opponents": {"random": {"games": 50, "win_rate": 0.9}}, "vs_random_rate": 0.8, "games_played": 50}}`, event.CodeConflictingField, "payload.vs_random_rate", ""},
	{"redelivery needs its dead letter's seq", `{"type": "handler_redelivered", "payload": {"handler": "h"}}`, event.CodeMissingField, "payload.event_seq", ""},
	{"redelivery needs its handler", `{"type": "handler_redelivered", "payload": {"event_seq": 3}}`, event.CodeMissingField, "payload.handler", ""},
	{"work needs work_id", `{"type": "work_queued", "payload": {}}`, event.CodeMissingField, "payload.work_id", "job_id"},
	{"type and event_type disagree", `{"type": "sync_started", "event_type": "sync_completed"}`, event.CodeConflictingField, "event_type", ""},
}

func TestRefusals(t *testing.T) {
	for _, tc := range refusalCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := event.Decode([]byte(tc.in))
			require.NotNil(t, err, "input was accepted: %s", tc.in)
			assert.Equal(t, tc.code, err.Code, "message: %s", err.Message)
			assert.Equal(t, tc.field, err.Field, "message: %s", err.Message)
			assert.NotEmpty(t, err.Message)
			if tc.hint != "" {
				assert.Contains(t, err.Hint, tc.hint)
			}
			if tc.code != event.CodeInvalidJSON && tc.code != event.CodeNotAnObject {
				assert.NotEmpty(t, err.Hint, "every refusal says what would be accepted")
			}
			assert.True(t, errors.Is(err, event.ErrRefused))
		})
	}
}

// TestEveryInputCodeCovered keeps the table honest: each code that input
// decoding can produce appears in it (the others belong to the journal, the
// machines and the daemon, and are tested there).
func TestEveryInputCodeCovered(t *testing.T) {
	seen := map[event.Code]bool{}
	for _, tc := range refusalCases {
		seen[tc.code] = true
	}
	for _, c := range []event.Code{event.CodeInvalidJSON, event.CodeNotAnObject, event.CodeUnknownEventType,
		event.CodeMissingField, event.CodeInvalidField, event.CodeConflictingField, event.CodeInvalidConfigKey,
		event.CodeInvalidID, event.CodePayloadTooLarge} {
		assert.True(t, seen[c], "no refusal case for %s", c)
	}
	assert.Len(t, event.Codes, 18)
}

func TestDecodeCanonical(t *testing.T) {
	in := `{"id": "01jd3zk6q8v7w2m4x9n5t1r0ab", "type": "TRAINING_COMPLETED", "config_key": "hex8_2",
	  "node_id": "gpu-17", "source": "TrainingCoordinator", "time": "2026-11-22T10:15:03.2509Z",
	  "seq": 99, "recorded_at": "2020-01-01T00:00:00Z", "causation_id": "c", "correlation_id": "r",
	  "dedup": false, "payload": {"checkpoint_path": "models/m.pth",  "epochs": 50}}`
	e, err := event.Decode([]byte(in))
	require.Nil(t, err)
	assert.Equal(t, "01JD3ZK6Q8V7W2M4X9N5T1R0AB", e.ID.String())
	assert.Equal(t, "training_completed", e.Type)
	assert.Equal(t, "hex8_2p", e.ConfigKey)
	assert.Equal(t, "gpu-17", e.NodeID)
	assert.Equal(t, "TrainingCoordinator", e.Source)
	assert.Equal(t, time.Date(2026, 11, 22, 10, 15, 3, 250e6, time.UTC), e.Time, "floored to the millisecond")
	assert.Zero(t, e.Seq, "seq is output only")
	assert.True(t, e.RecordedAt.IsZero(), "recorded_at is output only")
	assert.Equal(t, "c", e.CausationID)
	assert.Equal(t, "r", e.CorrelationID)
	assert.True(t, e.NoDedup)
	assert.Equal(t, `{"checkpoint_path":"models/m.pth","epochs":50}`, string(e.Payload), "payload kept as sent, compacted")
	mp, ok := e.Str("model_path")
	assert.True(t, ok)
	assert.Equal(t, "models/m.pth", mp, "rules read payload keys through their aliases")
}

func TestDecodeCompatibility(t *testing.T) {
	in := `{"event_type": "new_games", "timestamp": 1795342503.2509, "origin": "host-3", "routed": true,
	  "trace_id": "t", "payload": {"config": "square8_3", "hostname": "gpu-3", "games_count": 60}}`
	e, err := event.Decode([]byte(in))
	require.Nil(t, err)
	assert.Equal(t, "new_games", e.Type)
	assert.Equal(t, "square8_3p", e.ConfigKey, "config lifted from the payload and normalised")
	assert.Equal(t, "gpu-3", e.NodeID, "hostname lifted")
	assert.Equal(t, int64(1795342503250), e.Time.UnixMilli())
	g, ok := e.Int("games")
	assert.True(t, ok)
	assert.Equal(t, int64(60), g)
	assert.Equal(t, `{"config":"square8_3","hostname":"gpu-3","games_count":60}`, string(e.Payload))

	// Non-string lift candidates are payload data.
	e, err = event.Decode([]byte(`{"event_type": "sync_started", "payload": {"config": {"a": 1}, "node": 7}}`))
	require.Nil(t, err)
	assert.Empty(t, e.ConfigKey)
	assert.Empty(t, e.NodeID)

	// Agreeing sources are fine; time wins when time and timestamp agree.
	e, err = event.Decode([]byte(`{"type": "new_games", "event_type": "NEW_GAMES_AVAILABLE", "config_key": "hex8_2p",
	  "time": "2026-11-22T10:15:03.250Z", "timestamp": 1795342503.2501, "payload": {"config_key": "hex8_2"}}`))
	require.Nil(t, err)
	assert.Equal(t, "hex8_2p", e.ConfigKey)
	assert.Equal(t, int64(1795342503250), e.Time.UnixMilli())

	// The alias name of the catalog is accepted.
	e, err = event.Decode([]byte(`{"type": "STAGE_SELFPLAY_COMPLETE", "config_key": "hex8_4p"}`))
	require.Nil(t, err)
	assert.Equal(t, "selfplay_complete", e.Type)
}

func TestOpponentsShapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    []event.Opponent
	}{
		{"canonical, sorted by name", `{"opponents": {"random": {"games": 50, "win_rate": 0.96}, "heuristic": {"games_played": 50, "win_rate": 0.71}}}`,
			[]event.Opponent{{"heuristic", 50, 0.71}, {"random", 50, 0.96}}},
		{"opponent_results", `{"opponent_results": {"champion": {"games": 200, "win_rate": 0.57}}}`,
			[]event.Opponent{{"champion", 200, 0.57}}},
		{"two rates split, odd game to random", `{"vs_random_rate": 0.9, "vs_heuristic_rate": 0.6, "games_played": 101}`,
			[]event.Opponent{{"heuristic", 50, 0.6}, {"random", 51, 0.9}}},
		{"single rate gets all games", `{"vs_heuristic_rate": 0.6, "games_played": 80}`,
			[]event.Opponent{{"heuristic", 80, 0.6}}},
		{"agreeing shapes merge", `{"opponents": {"random": {"games": 50, "win_rate": 0.9}, "champion": {"games": 10, "win_rate": 0.5}}, "vs_random_rate": 0.9, "games_played": 50}`,
			[]event.Opponent{{"champion", 10, 0.5}, {"random", 50, 0.9}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fmt.Sprintf(`{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": %s}`,
				strings.Replace(tc.payload, "{", `{"model_path": "m", `, 1))
			e, err := event.Decode([]byte(in))
			require.Nil(t, err)
			assert.Equal(t, tc.want, e.Opponents())
		})
	}
}

func TestDecodeBody(t *testing.T) {
	v := event.DefaultValidator
	items, err := v.DecodeBody([]byte(`[{"type": "sync_started"}, {"type": "nope"}, 3]`))
	require.Nil(t, err)
	require.Len(t, items, 3)
	assert.Nil(t, items[0].Err)
	assert.Equal(t, event.CodeUnknownEventType, items[1].Err.Code)
	assert.Equal(t, 1, items[1].Err.Index)
	assert.Equal(t, event.CodeNotAnObject, items[2].Err.Code)
	assert.Equal(t, 2, items[2].Err.Index)

	items, err = v.DecodeBody([]byte("{\"type\": \"sync_started\"}\n\n{\"type\":\n{\"type\": \"sync_completed\"}\n"))
	require.Nil(t, err)
	require.Len(t, items, 3, "NDJSON: blank lines skipped, a broken line is its own refusal")
	assert.Nil(t, items[0].Err)
	assert.Equal(t, event.CodeInvalidJSON, items[1].Err.Code)
	assert.Equal(t, 1, items[1].Err.Index)
	assert.Equal(t, "sync_completed", items[2].Event.Type)

	items, err = v.DecodeBody([]byte(`{"type": "sync_started",
	  "payload": {}}`))
	require.Nil(t, err, "a single multi-line object is one event")
	require.Len(t, items, 1)

	big := "[" + strings.TrimSuffix(strings.Repeat(`{"type": "sync_started"},`, event.MaxBatch+1), ",") + "]"
	_, err = v.DecodeBody([]byte(big))
	require.NotNil(t, err)
	assert.Equal(t, event.CodeBatchTooLarge, err.Code)
	assert.Equal(t, -1, err.Index)

	nd := strings.Repeat("{\"type\": \"sync_started\"}\n", event.MaxBatch+1)
	_, err = v.DecodeBody([]byte(nd))
	require.NotNil(t, err)
	assert.Equal(t, event.CodeBatchTooLarge, err.Code)

	_, err = v.DecodeBody([]byte(`[{"type": "sync_started"}`))
	require.NotNil(t, err)
	assert.Equal(t, event.CodeInvalidJSON, err.Code)
}

func TestValidateGoEvent(t *testing.T) {
	e := event.Event{Type: "NODE_UNHEALTHY", Payload: []byte(`{ "node": "gpu-1" }`)}
	require.Nil(t, event.Validate(&e))
	assert.Equal(t, "node_unhealthy", e.Type)
	assert.Equal(t, "gpu-1", e.NodeID)
	assert.Equal(t, `{"node":"gpu-1"}`, string(e.Payload))

	d := event.Event{Type: "training_threshold", ConfigKey: "hex8_2p", Source: "ringriftd/threshold"}
	assert.Equal(t, event.CodeInvalidField, event.Validate(&d).Code, "input may not use the reserved source")
	require.Nil(t, event.DefaultValidator.ValidateDecision(&d))
	d.Source = "TrainingCoordinator"
	assert.Equal(t, event.CodeInvalidField, event.DefaultValidator.ValidateDecision(&d).Code)

	x := event.Event{Type: "new_games", ConfigKey: "mars_2p"}
	assert.Equal(t, event.CodeInvalidConfigKey, event.Validate(&x).Code)
	x.ConfigKey = "mars_2p"
	assert.Nil(t, event.NewValidator(0, "mars").Validate(&x), "an operator-extended board is accepted")
}

func TestContentKey(t *testing.T) {
	dec := func(s string) *event.Event {
		e, err := event.Decode([]byte(s))
		require.Nil(t, err)
		return &e
	}
	a := dec(`{"type": "new_games", "config_key": "hex8_2p", "source": "a", "time": "2026-01-01T00:00:00Z", "payload": {"games": 5, "x": {"b": 1, "a": 2}}}`)
	b := dec(`{"event_type": "new_games", "timestamp": 5, "payload": {"x": {"a": 2, "b": 1}, "config": "hex8_2", "num_games": 5}}`)
	assert.Equal(t, event.ContentKey(a), event.ContentKey(b), "aliases renamed, lifted keys removed, keys sorted; time and source ignored")
	assert.True(t, event.SameContent(a, b))
	c := dec(`{"type": "new_games", "config_key": "hex8_3p", "payload": {"games": 5, "x": {"b": 1, "a": 2}}}`)
	assert.NotEqual(t, event.ContentKey(a), event.ContentKey(c), "config_key is part of the key")
	d := dec(`{"type": "new_games", "config_key": "hex8_2p", "payload": {"games": 6, "x": {"b": 1, "a": 2}}}`)
	assert.NotEqual(t, event.ContentKey(a), event.ContentKey(d))
	assert.False(t, event.SameContent(a, d))
}

func TestConfigKeys(t *testing.T) {
	keys := event.ConfigKeys()
	assert.Len(t, keys, 12)
	assert.IsIncreasing(t, keys)
	for _, k := range keys {
		n, ok := event.NormalizeConfigKey(k)
		assert.True(t, ok)
		assert.Equal(t, k, n)
		assert.Contains(t, []int{2, 3, 4}, event.Players(k))
	}
	n, ok := event.NormalizeConfigKey("square19_4")
	assert.True(t, ok)
	assert.Equal(t, "square19_4p", n)
	for _, bad := range []string{"", "hex8", "hex8_1p", "hex8_2P", "Hex8_2p", "hex8__2p", "hex8_2pp", "_2p"} {
		_, ok := event.NormalizeConfigKey(bad)
		assert.False(t, ok, bad)
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range refusalCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`{"type": "evaluation_completed", "config_key": "hex8_2p", "payload": {"model_path": "m", "vs_random_rate": 0.9, "vs_heuristic_rate": 0.6, "games_played": 101}}`))
	f.Add([]byte(`{"event_type": "node_unhealthy", "payload": {"host": "h\u00e9", "config": "hex8_2"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := event.Decode(in)
		if err != nil {
			if !json.Valid(in) && err.Code != event.CodeInvalidJSON {
				t.Fatalf("invalid JSON refused as %s", err.Code)
			}
			return
		}
		// An accepted event is valid and stable: validating it again keeps it.
		again := e
		again.Payload = append([]byte(nil), e.Payload...)
		if verr := event.Validate(&again); verr != nil {
			t.Fatalf("decoded event fails validation: %v", verr)
		}
		if again.Type != e.Type || again.ConfigKey != e.ConfigKey || again.NodeID != e.NodeID {
			t.Fatalf("validation changed a decoded event: %+v vs %+v", again, e)
		}
		if event.ContentKey(&e) != event.ContentKey(&again) {
			t.Fatal("content key not stable")
		}
	})
}

func TestEnvelopeJSONRoundTrip(t *testing.T) {
	in := `{"id": "01JD3ZK6Q8V7W2M4X9N5T1R0AB", "type": "training_completed", "config_key": "hex8_2p",
	  "node_id": "gpu-\"17\"", "source": "TrainingCoordinator", "time": "2026-11-22T10:15:03.250Z",
	  "causation_id": "c", "correlation_id": "r", "payload": {"model_path": "models/ü.pth", "epochs": 50}}`
	e, err := event.Decode([]byte(in))
	require.Nil(t, err)
	e.Seq, e.RecordedAt = 1042, time.Date(2026, 11, 22, 10, 15, 3, 261e6, time.UTC)
	out, merr := json.Marshal(e)
	require.NoError(t, merr)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(out, &generic))
	assert.Equal(t, float64(1042), generic["seq"])
	assert.Equal(t, "2026-11-22T10:15:03.261Z", generic["recorded_at"])
	back, err := event.Decode(out)
	require.Nil(t, err, "an exported envelope is valid input: %s", out)
	back.Seq, back.RecordedAt = e.Seq, e.RecordedAt
	assert.Equal(t, e, back)
}

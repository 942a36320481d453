package event

import (
	"fmt"
	"testing"
)

// benchConfigs are the config keys of the journal benchmark
// (internal/bench/pebble.go).
var benchConfigs = []string{"hex8_2p", "hex8_3p", "hex8_4p", "hexagonal_2p", "hexagonal_3p", "hexagonal_4p",
	"square19_2p", "square19_3p", "square19_4p", "square8_2p", "square8_3p", "square8_4p"}

// benchEvent is the journal benchmark's typical event (internal/bench,
// newGames and payload): a new_games event with a ~250-byte compact payload
// of eleven members that repeats the envelope's config key.
func benchEvent(i int) Event {
	ck := benchConfigs[i%len(benchConfigs)]
	p := fmt.Appendf(nil, `{"games":%d,"config_key":%q,"generator":"gpu-selfplay-%02d","engine":"gumbel-mcts","batch_id":"b-%08d","avg_game_length":%d.%d,"sims":800,"temperature":1.0,"resign_threshold":-0.95,"db_path":"data/games/%s/part-%06d.db"}`,
		50+i%50, ck, i%32, i, 60+i%40, i%10, ck, i/1000)
	return Event{Type: "new_games", ConfigKey: ck, Source: "SelfplayRunner",
		NodeID: fmt.Sprintf("gpu-%02d", i%32), Payload: p}
}

// BenchmarkValidate measures Validate on the journal's typical input, varied
// over a few hundred events.
func BenchmarkValidate(b *testing.B) { benchValidate(b, DefaultValidator.Validate) }

// BenchmarkValidateReference is BenchmarkValidate on the implementation
// Validate replaced (validate_ref_test.go), for a back-to-back comparison in
// one binary.
func BenchmarkValidateReference(b *testing.B) {
	benchValidate(b, func(e *Event) *Error { return refValidate(DefaultValidator, e) })
}

// benchValidate runs validate over benchmark events. Validate rewrites the
// event in place, so each iteration starts from a copy of the original (a
// struct copy: the payload's bytes are only read and resliced, never
// written).
func benchValidate(b *testing.B, validate func(*Event) *Error) {
	const n = 512
	orig := make([]Event, n)
	for i := range orig {
		orig[i] = benchEvent(i * 7919)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var e Event
	for i := 0; b.Loop(); i++ {
		e = orig[i%n]
		if err := validate(&e); err != nil {
			b.Fatal(err)
		}
	}
}

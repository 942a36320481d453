package event_test

import (
	"fmt"

	"github.com/ringrift/ringriftd/event"
)

// Decode reads a posted event in either shape: here a Python worker's dict
// of the old bus (compatibility shape), normalised to the envelope; a bad
// one is refused with the field and what would be accepted.
func Example() {
	e, err := event.Decode([]byte(`{"event_type": "NEW_GAMES_AVAILABLE",
		"payload": {"config_key": "hex8_2p", "games_count": 12, "host": "gpu-07"},
		"timestamp": 1767225600.25, "source": "SelfplayRunner"}`))
	fmt.Println(err == nil, e.Type, e.ConfigKey, e.NodeID, e.Time.Format("2006-01-02T15:04:05.000Z07:00"))

	_, err = event.Decode([]byte(`{"type": "new_games", "config_key": "hex9_2p", "payload": {"games": 1}}`))
	fmt.Println(err.Code, err.Field)
	// Output:
	// true new_games hex8_2p gpu-07 2026-01-01T00:00:00.250Z
	// invalid_config_key config_key
}

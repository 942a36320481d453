package journal

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

func TestRecordRoundTrip(t *testing.T) {
	e := event.Event{
		ID: ulid.MustParse("01JD3ZK6Q8V7W2M4X9N5T1R0AB"), Type: "training_completed",
		ConfigKey: "hex8_2p", NodeID: "gpu-17", Source: "TrainingCoordinator",
		Time: time.UnixMilli(1_795_000_000_250).UTC(), RecordedAt: time.UnixMilli(1_795_000_000_261).UTC(),
		CausationID: "01JD3ZJ", CorrelationID: "iter-7", NoDedup: true,
		Payload: json.RawMessage(`{"model_path":"models/hex8_2p/iter_0007.pth","epochs":50}`),
	}
	var got event.Event
	require.NoError(t, decodeRecord(42, appendRecord(nil, &e), &got))
	e.Seq = 42
	require.Equal(t, e, got)
}

func FuzzRecord(f *testing.F) {
	e := event.Event{ID: ulid.Make(), Type: "new_games", ConfigKey: "hex8_2p", Time: time.UnixMilli(5).UTC(),
		RecordedAt: time.UnixMilli(6).UTC(), Payload: json.RawMessage(`{"games":1}`)}
	f.Add(appendRecord(nil, &e))
	f.Add([]byte{1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got event.Event
		if err := decodeRecord(1, b, &got); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// whatever decodes re-encodes to the same bytes
		got.Seq = 0
		again := appendRecord(nil, &got)
		var back event.Event
		require.NoError(t, decodeRecord(1, again, &back))
		back.Seq = 0
		require.Equal(t, got, back)
	})
}

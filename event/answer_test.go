package event_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// TestAppendAnswerJSON: the reflection-free answer is byte for byte what
// encoding/json writes, over many generated answers with every kind of
// string that needs escaping, empty and nil lists, zero and huge numbers.
func TestAppendAnswerJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	pieces := []string{"", "a", "hex8_2p", "01JD5Z9X7Q8R3T6V0W2Y4A1B3C", `"q"`, `back\slash`, "<script>&amp;</script>",
		"tab\there", "nl\ncr\r", "\b\f\x00\x01\x1f\x7f", "é—ü✓", "\u2028\u2029", "\xff\xfe bad utf8", "🎲", "flow_violation"}
	str := func() string {
		s := ""
		for n := rng.IntN(4); n > 0; n-- {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	u64 := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return ^uint64(0) - rng.Uint64N(3)
		}
		return rng.Uint64N(1 << 40)
	}
	int_ := func() int { return rng.IntN(20000) - 10 }
	for i := 0; i < 3000; i++ {
		var a event.AppendAnswer
		if n := rng.IntN(6); n > 0 || rng.IntN(2) == 0 {
			a.Results = make([]event.AppendResult, n)
		}
		for k := range a.Results {
			r := event.AppendResult{Index: int_(), Status: str(), Seq: u64(), ID: str()}
			if rng.IntN(3) == 0 {
				r.Error = &event.Error{Code: event.Code(str()), Index: int_(), Field: str(), Message: str(), Hint: str()}
			}
			a.Results[k] = r
		}
		if n := rng.IntN(4); n > 0 || rng.IntN(2) == 0 {
			a.Decisions = make([]event.DecisionRef, n)
		}
		for k := range a.Decisions {
			a.Decisions[k] = event.DecisionRef{Seq: u64(), ID: str(), Type: str(), CausationID: str(), ConfigKey: str(), NodeID: str()}
		}
		want, err := json.Marshal(a)
		require.NoError(t, err)
		require.Equal(t, string(want), string(a.AppendJSON(nil)), "answer %d: %#v", i, a)
	}
}

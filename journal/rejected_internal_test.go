package journal

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// TestRejectionJSONIsMarshal: the rejected log's hand-written encoding is
// byte for byte what encoding/json.Marshal writes (the stored form that
// every reader decodes), over every optional field and strings that need
// escaping.
func TestRejectionJSONIsMarshal(t *testing.T) {
	texts := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\r\b\f\x00\x1f",
		"ünïcödé ✓ 日本", "line\u2028sep\u2029", "bad \xff\xfe utf8", strings.Repeat("x", 300)}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return texts[rng.IntN(len(texts))] }
	times := []time.Time{
		time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 12, 0, 0, 123_000_000, time.UTC),
		time.UnixMilli(1).UTC(),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)),
		{},
	}
	for i := range 3000 {
		r := Rejection{Seq: rng.Uint64N(1 << uint(rng.IntN(64))), Code: event.Code(pick()), Index: rng.IntN(3) - 1,
			Message: pick(), Raw: pick(), Time: times[rng.IntN(len(times))]}
		if rng.IntN(2) == 0 {
			r.Field, r.Hint, r.Remote = pick(), pick(), pick()
		}
		if rng.IntN(2) == 0 {
			r.Batch, r.DuplicateOf, r.Truncated = rng.IntN(5), rng.Uint64N(100), rng.IntN(2) == 0
		}
		want, err := json.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(r.appendJSON(nil)), "case %d: %+v", i, r)
	}
}

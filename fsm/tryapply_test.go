package fsm_test

import (
	"testing"

	"github.com/ringrift/ringriftd/fsm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTryApplyAgreesWithApply fires every event (and a base name and an
// unknown name) from every state reachable in two steps, once with Apply
// and once with TryApply: the same step, the same success, the same state
// and history after, and what Next says the transition table allows.
func TestTryApplyAgreesWithApply(t *testing.T) {
	def := exampleDefinition()
	base := fsm.MustNew(def)
	var names []string
	for _, tr := range def.Transitions {
		names = append(names, tr.Event)
	}
	names = append(names, "nope", "")
	checked := 0
	for _, first := range names {
		for _, second := range names {
			a, b := base.Clone(), base.Clone()
			for i, ev := range []string{first, second} {
				from := b.State("k")
				to, allowed := b.Next(from, ev)
				st, err := a.Apply("k", ev, uint64(i+1), t0)
				st2, ok := b.TryApply("k", ev, uint64(i+1), t0)
				require.Equal(t, allowed, ok, ev)
				require.Equal(t, err == nil, ok, ev)
				assert.Equal(t, st, st2, ev)
				if ok {
					assert.Equal(t, fsm.Step{Key: "k", Event: ev, From: from, To: to}, st2, ev)
				} else {
					to = from
				}
				assert.Equal(t, to, b.State("k"), ev)
				assert.Equal(t, a.State("k"), b.State("k"), ev)
				assert.Equal(t, a.History("k"), b.History("k"), ev)
				checked++
			}
		}
	}
	require.Greater(t, checked, 10)
}

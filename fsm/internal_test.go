package fsm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLooplabMirror checks that each key's looplab FSM follows the key's
// state, in the original and in a clone.
func TestLooplabMirror(t *testing.T) {
	m := MustNew(Definition{
		Name: "m", Initial: "a", States: []string{"a", "b"},
		Transitions: []Transition{{Event: "go", From: []string{"a"}, To: "b"}, {Event: "back", From: []string{"b"}, To: "a"}},
	})
	_, err := m.Apply("k", "go", 1, time.Time{})
	require.NoError(t, err)
	require.NotNil(t, m.keys["k"].lf)
	assert.Equal(t, "b", m.keys["k"].lf.Current())
	assert.True(t, m.keys["k"].lf.Can("back"), "looplab agrees on what the state accepts")

	c := m.Clone()
	assert.Nil(t, c.keys["k"].lf, "a clone creates its looplab FSMs lazily")
	_, err = c.Apply("k", "back", 2, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, "a", c.keys["k"].lf.Current())
	assert.Equal(t, "b", m.keys["k"].lf.Current(), "the original's FSM is its own")
}

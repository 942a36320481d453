package engine_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
)

// TestSavepointSurvivesALargeGroup: a savepoint (cluster mode takes one
// before each group commit) stays restorable however many transactions the
// group commits after it — more than the undo log holds before it would
// rebase — so a group the log of record refuses can always be rolled back.
func TestSavepointSurvivesALargeGroup(t *testing.T) {
	g := engine.New(engine.Options{})
	seq := uint64(0)
	admit := func(n int) {
		for i := 0; i < n; i++ {
			e := ev(t, i, fmt.Sprintf(`{"type":"new_games","config_key":"hex8_2p","payload":{"games":%d}}`, i%7+1))
			seq++
			e.Seq = seq
			g.Begin(false)
			_, refusal := g.Admit(&e)
			require.Nil(t, refusal)
			g.Commit()
		}
	}
	admit(100)
	before := views(t, g)
	sp := g.Savepoint()
	admit(20000) // past the undo log's rebase threshold (16,384)
	require.NotEqual(t, before, views(t, g))
	require.NoError(t, g.RollbackTo(sp))
	require.Equal(t, before, views(t, g), "the state at the savepoint")

	// the next savepoint moves it, and the log rebases again
	sp = g.Savepoint()
	admit(10)
	require.NoError(t, g.RollbackTo(sp))
	require.Equal(t, before, views(t, g))
}

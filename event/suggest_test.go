package event

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSuggestMemo requires the memoized Suggest to answer what the
// computation from scratch answers, the first time and from the memo, from
// concurrent callers, and the memo to stay within its bounds.
func TestSuggestMemo(t *testing.T) {
	c := mustParseCatalog(catalogTSV)
	inputs := []string{"trainng_started", "TRAINING_COMPLETED", "Training_Completed", "", "x", "new_games_available",
		"modl_promoted", "zzzzzzzzzzzz", "sync_complete", strings.Repeat("training_started", 9), "evaluation_completd"}
	for i := 0; i < 200; i++ {
		inputs = append(inputs, fmt.Sprintf("type_%d", i), fmt.Sprintf("training_start%d", i%7))
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 2; round++ {
				for _, s := range inputs {
					got, ok := c.Suggest(s)
					want, wok := c.suggest(s) // from scratch
					assert.Equal(t, wok, ok, s)
					assert.Same(t, want, got, s)
				}
			}
		}()
	}
	wg.Wait()
	c.suggestMu.Lock()
	_, long := c.suggested[strings.Repeat("training_started", 9)]
	c.suggestMu.Unlock()
	assert.False(t, long, "a key longer than maxSuggestedKey is not kept")
	for i := 0; i < 3*maxSuggested; i++ {
		c.Suggest(fmt.Sprintf("unknown_%d", i))
		require.LessOrEqual(t, len(c.suggested), maxSuggested)
	}
}

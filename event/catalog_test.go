package event_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// TestCatalogMatchesShared checks the embedded copy against the shared catalog
// when the checkout has it, so the two cannot drift.
func TestCatalogMatchesShared(t *testing.T) {
	shared, err := os.ReadFile("../../shared/catalog/events.tsv")
	if err != nil {
		t.Logf("shared catalog not present (%v); checking the embedded copy only", err)
		return
	}
	embedded, err := os.ReadFile("catalog.tsv")
	require.NoError(t, err)
	assert.Equal(t, string(shared), string(embedded), "event/catalog.tsv must be a copy of shared/catalog/events.tsv")
}

func TestCatalogFacts(t *testing.T) {
	c := event.Default()
	assert.Len(t, c.Types(), 180, "180 types")
	assert.Len(t, c.Rows(), 181, "180 types plus one alias row")
	assert.Len(t, c.Categories(), 15)
	assert.Len(t, c.CrossProcess(), 32)

	// Independently count the rows of the embedded file.
	f, err := os.Open("catalog.tsv")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	var values, differ int
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if cols[4] != "" {
			continue
		}
		values++
		if cols[1] != strings.ToLower(cols[0]) {
			differ++
		}
	}
	assert.Equal(t, 180, values)
	assert.Equal(t, 16, differ, "16 types have a value that differs from the lowercased name")

	for _, tc := range []struct{ in, value, category string }{
		{"training_completed", "training_completed", "training"},
		{"TRAINING_COMPLETED", "training_completed", "training"},
		{"NEW_GAMES_AVAILABLE", "new_games", "data"},
		{"new_games", "new_games", "data"},
		{"DATA_SYNC_COMPLETED", "sync_completed", "data"},
		{"TRAINING_THRESHOLD_REACHED", "training_threshold", "training"},
		{"STAGE_SELFPLAY_COMPLETE", "selfplay_complete", "stage"},
		{"SELFPLAY_COMPLETE", "selfplay_complete", "stage"},
		{"disk_space_low", "disk_space_low", "system"},
	} {
		typ, ok := event.Lookup(tc.in)
		require.True(t, ok, tc.in)
		assert.Equal(t, tc.value, typ.Value, tc.in)
		assert.Equal(t, tc.category, typ.Category, tc.in)
	}
	for _, bad := range []string{"Training_Completed", "training_complete", "", "new_games_available"} {
		_, ok := event.Lookup(bad)
		assert.False(t, ok, bad)
	}
	assert.Contains(t, c.Category("work"), "work_queued")
	assert.Len(t, c.Category("work"), 9)
	assert.Contains(t, c.CrossProcess(), "model_promoted")
	assert.NotContains(t, c.CrossProcess(), "promotion_rejected")
	for _, added := range []string{"consolidation_started", "consolidation_complete", "selfplay_allocation_updated",
		"cluster_stall_detected", "disk_space_low", "model_distribution_started", "model_distribution_complete", "handler_redelivered"} {
		assert.True(t, event.Known(added), added)
	}
	s, ok := c.Suggest("trainng_started")
	require.True(t, ok)
	assert.Equal(t, "training_started", s.Value)
}

package replay_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/replay"
)

// TestExplainBackpressureScope: a pause by cluster-wide backpressure (no
// config_key) is labelled cluster, one by the config's own is labelled
// config (issue 14: both said "config").
func TestExplainBackpressureScope(t *testing.T) {
	tj := newJournal(t, 0)
	tj.add("new_games", "hex8_2p", 1, `{"games":10}`)
	cluster := tj.add("backpressure_activated", "", 2, `{"level":"high","queue_level":"hard"}`)
	tj.close()
	explain := func(config string) *replay.Story {
		src, err := replay.OpenJournal(context.Background(), tj.dir)
		require.NoError(t, err)
		defer src.Close()
		st, err := replay.Explain(context.Background(), src, config, t0.Add(10*time.Minute), replay.FoldOptions{})
		require.NoError(t, err)
		return st
	}
	st := explain("hex8_2p")
	require.Len(t, st.Pauses, 1, "%+v", st.Pauses)
	assert.Equal(t, "backpressure", st.Pauses[0].Reason)
	assert.Equal(t, "cluster", st.Pauses[0].Scope)
	require.NotNil(t, st.Pauses[0].SetBy)
	assert.Equal(t, cluster.Seq, st.Pauses[0].SetBy.Seq)
	var b bytes.Buffer
	require.NoError(t, st.WriteText(&b, replay.Style{}))
	assert.Contains(t, b.String(), "backpressure (cluster): set by #2 backpressure_activated")

	tj2 := newJournal(t, 0)
	tj2.add("new_games", "hex8_3p", 1, `{"games":10}`)
	own := tj2.add("backpressure_activated", "hex8_3p", 2, `{"level":"high","queue_level":"hard"}`)
	tj2.close()
	tj = tj2
	st = explain("hex8_3p")
	require.Len(t, st.Pauses, 1, "%+v", st.Pauses)
	assert.Equal(t, "config", st.Pauses[0].Scope)
	assert.Equal(t, own.Seq, st.Pauses[0].SetBy.Seq)
}

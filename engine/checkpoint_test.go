package engine_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// TestCheckpointAnyTime: a journal may hold any time (old journals took
// years past 9999 before input was bounded); the checkpoint of a state
// folded from such events encodes, and restores to the same state. Every
// kind of time a checkpoint keeps is exercised: a pipeline's entry into its
// state, a node's last recovery event, a daemon's last sighting, the
// curriculum advances the policies remember, the Elo history and the
// machines' histories.
func TestCheckpointAnyTime(t *testing.T) {
	for name, at := range map[string]time.Time{
		"year 58862":  time.Date(58862, 2, 20, 10, 0, 0, 0, time.UTC),
		"before 1970": time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC),
		"now":         t0,
	} {
		t.Run(name, func(t *testing.T) {
			live := engine.New(engine.Options{Policies: flows.PolicyConfig{Enabled: flows.AllPolicies}})
			var seq uint64
			for i, raw := range []string{
				`{"type":"training_started","config_key":"hex8_2p"}`,
				`{"type":"node_unhealthy","node_id":"gpu-01"}`,
				`{"type":"daemon_started","payload":{"daemon":"selfplay"}}`,
				`{"type":"curriculum_advanced","config_key":"hex8_3p","payload":{"new_tier":1}}`,
				`{"type":"elo_updated","config_key":"hex8_2p","payload":{"participant":"m1","elo":1600}}`,
			} {
				e, err := event.Decode([]byte(raw))
				require.Nil(t, err, raw)
				e.Time = at.Add(time.Duration(i) * time.Second)
				seq++
				e.Seq = seq
				live.Begin(false)
				ds, refusal := live.Admit(&e)
				require.Nil(t, refusal, raw)
				live.Commit()
				seq += uint64(len(ds))
			}
			cp, err := live.MarshalCheckpoint()
			require.NoError(t, err)
			restored := engine.New(engine.Options{Policies: flows.PolicyConfig{Enabled: flows.AllPolicies}})
			require.NoError(t, restored.UnmarshalCheckpoint(cp))
			again, err := restored.MarshalCheckpoint()
			require.NoError(t, err)
			require.Equal(t, string(cp), string(again), "the restored state is the state checkpointed")
			require.Equal(t, views(t, live), views(t, restored))
		})
	}
}

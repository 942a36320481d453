package flows_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/flows"
)

func TestParsePolicies(t *testing.T) {
	all, err := flows.ParsePolicies("all")
	require.NoError(t, err)
	assert.Equal(t, flows.AllPolicies, all)
	none, err := flows.ParsePolicies("none")
	require.NoError(t, err)
	assert.Equal(t, flows.PolicySet(0), none)
	some, err := flows.ParsePolicies("threshold, cluster")
	require.NoError(t, err)
	assert.True(t, some.Has(flows.PolicyThreshold))
	assert.True(t, some.Has(flows.PolicyCluster))
	assert.False(t, some.Has(flows.PolicyPromotion))
	assert.Equal(t, "threshold,cluster", some.String())
	again, err := flows.ParsePolicies(some.String())
	require.NoError(t, err)
	assert.Equal(t, some, again)
	assert.Len(t, flows.PolicyNames(), 8)

	_, err = flows.ParsePolicies("threshold,magic")
	require.ErrorIs(t, err, flows.ErrPolicyConfig)
	assert.Contains(t, err.Error(), `"magic"`)
	assert.Contains(t, err.Error(), "threshold, promotion, feedback")
}

func TestThresholdsValidate(t *testing.T) {
	d := flows.DefaultThresholds()
	require.NoError(t, d.Validate())
	assert.Equal(t, int64(70), d.For(3).TrainingGames)
	assert.Equal(t, 0.35, d.For(4).WinRateHeuristic)

	cases := map[string]func(*flows.Thresholds){
		"players.3p.training_games":         func(t *flows.Thresholds) { t.Players[1].TrainingGames = 0 },
		"players.2p.win_rate_random":        func(t *flows.Thresholds) { t.Players[0].WinRateRandom = 1.5 },
		"champion_win_rate":                 func(t *flows.Thresholds) { t.ChampionWinRate = -0.1 },
		"minor/moderate/severe/critical":    func(t *flows.Thresholds) { t.Severe = 80 },
		"cluster_degraded/cluster_critical": func(t *flows.Thresholds) { t.ClusterDegraded = 50 },
		"max_cascade_depth":                 func(t *flows.Thresholds) { t.MaxCascadeDepth = 0 },
		"weak":                              func(t *flows.Thresholds) { t.Weak = 0.9 },
	}
	for field, mutate := range cases {
		th := flows.DefaultThresholds()
		mutate(&th)
		err := th.Validate()
		require.Error(t, err, field)
		assert.True(t, errors.Is(err, flows.ErrPolicyConfig))
		assert.Contains(t, err.Error(), field+" = ", "the error names the field")
		assert.Contains(t, err.Error(), "want ", "and says what would be accepted")
	}
}

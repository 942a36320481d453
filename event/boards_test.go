package event_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

func TestParseBoards(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"hex12", []string{"hex12"}, ""},
		{" hex12 , square25,,hex8", []string{"hex12", "square25", "hex8"}, ""},
		{"big_board", []string{"big_board"}, ""},
		{"Hex12", nil, `board "Hex12"`},
		{"12hex", nil, `board "12hex"`},
		{"hex-12", nil, `board "hex-12"`},
		{"hex12,", []string{"hex12"}, ""},
		{"abcdefghijklmnopqrstuvwxyzabcdefg", nil, "at most 32"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := event.ParseBoards(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestExtraBoards: a validator with an operator's board accepts its configs
// everywhere a config key is parsed (envelope, lifted payload key, curriculum
// weights) and the default validator still refuses them.
func TestExtraBoards(t *testing.T) {
	v := event.NewValidator(0, "hex12")
	for _, in := range []string{
		`{"type":"new_games","config_key":"hex12_2"}`,
		`{"event_type":"new_games","payload":{"config":"hex12_3p"}}`,
		`{"type":"curriculum_rebalanced","payload":{"weights":{"hex12_4p":1.5,"hex8_2p":0.9}}}`,
	} {
		e, err := v.Decode([]byte(in))
		require.Nil(t, err, in)
		_, derr := event.Decode([]byte(in))
		require.NotNil(t, derr, in)
		assert.Equal(t, event.CodeInvalidConfigKey, derr.Code, in)
		if e.Type == "curriculum_rebalanced" {
			assert.Equal(t, map[string]float64{"hex12_4p": 1.5, "hex8_2p": 0.9}, e.Weights(), "folds read the journaled weights")
		} else {
			assert.Contains(t, []string{"hex12_2p", "hex12_3p"}, e.ConfigKey)
		}
	}
	k, ok := event.WellFormedConfigKey("hex12_2")
	assert.True(t, ok)
	assert.Equal(t, "hex12_2p", k)
	for _, bad := range []string{"hex12_5p", "Hex12_2p", "_2p", "hex12"} {
		_, ok := event.WellFormedConfigKey(bad)
		assert.False(t, ok, bad)
	}
}

package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBoardsFlag(t *testing.T) {
	parse := func(args []string, env map[string]string) (Config, error) {
		return parseConfig(args, func(k string) string { return env[k] }, io.Discard)
	}
	cfg, err := parse(nil, map[string]string{"RINGRIFT_BOARDS": "hex12, square25"})
	require.NoError(t, err)
	assert.Equal(t, []string{"hex12", "square25"}, cfg.Boards)
	cfg, err = parse([]string{"--boards", "hex12"}, map[string]string{"RINGRIFT_BOARDS": "square25"})
	require.NoError(t, err)
	assert.Equal(t, []string{"hex12"}, cfg.Boards, "the flag wins over the environment")
	_, err = parse([]string{"--boards", "Hex12"}, nil)
	require.ErrorIs(t, err, errConfig)
	assert.Contains(t, err.Error(), `--boards: board "Hex12"`)
}

// TestExtraBoardsEverywhere: with --boards hex12, hex12 configs are
// accepted by validation, the API's filters and paths, curriculum weights
// and the projections; without it they are refused with the accepted
// boards in the hint.
func TestExtraBoardsEverywhere(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Boards = []string{"hex12"} })
	code, body := post(t, base+"/v1/events", "application/json", `[{"type":"new_games","config_key":"hex12_2","payload":{"games":5}},
		{"type":"curriculum_rebalanced","payload":{"weights":{"hex12_3p":1.7}}}]`)
	require.Equal(t, 200, code, "%v", body)

	code, raw := get(t, base+"/v1/events?config=hex12_2")
	require.Equal(t, 200, code, "%s", raw)
	assert.Contains(t, string(raw), `"config_key":"hex12_2p"`)
	code, raw = get(t, base+"/v1/pipelines/hex12_2p")
	assert.Equal(t, 200, code, "%s", raw)
	code, raw = get(t, base+"/v1/curriculum")
	require.Equal(t, 200, code)
	assert.Contains(t, string(raw), `"hex12_3p"`)
	assert.Contains(t, string(raw), `1.7`)
	code, raw = get(t, base+"/v1/events?config=hex13_2p")
	assert.Equal(t, 400, code)
	assert.Contains(t, string(raw), "hex12", "the hint lists the accepted boards")

	plain, _ := testDaemon(t, nil)
	code, body = post(t, plain+"/v1/events", "application/json", `{"type":"new_games","config_key":"hex12_2p"}`)
	assert.Equal(t, 400, code)
	assert.Equal(t, "invalid_config_key", errorObject(t, body)["code"])
	code, _ = get(t, plain+"/v1/events?config=hex12_2p")
	assert.Equal(t, 400, code)
}

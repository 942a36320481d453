package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogShape: GET /v1/catalog has the documented shape (README):
// names for scopes and kinds, the purpose column and the alias, never a Go
// struct's field names or enum numbers.
func TestCatalogShape(t *testing.T) {
	base, _ := testDaemon(t, nil)
	code, raw := get(t, base+"/v1/catalog")
	require.Equal(t, 200, code)
	assert.NotContains(t, string(raw), `"Scope"`)
	assert.NotContains(t, string(raw), `"Kind"`)
	var doc struct {
		Types []map[string]any `json:"types"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Len(t, doc.Types, 180)
	byValue := map[string]map[string]any{}
	for _, ty := range doc.Types {
		byValue[ty["value"].(string)] = ty
		for _, f := range ty["payload"].([]any) {
			assert.NotEmpty(t, f.(map[string]any)["kind"], "%s: every kind has a name", ty["value"])
		}
	}
	assert.JSONEq(t, `{"name":"TRAINING_COMPLETED","value":"training_completed","category":"training","cross_process":true,
		"purpose":"Trigger evaluation","aliases":[],"scope":"config",
		"payload":[{"key":"model_path","kind":"string","accepts":"a string","required":true,"aliases":["checkpoint_path"]},
		           {"key":"final_loss","kind":"number","accepts":"a finite number","required":false,"aliases":[]}]}`,
		mustJSON(t, byValue["training_completed"]))
	assert.Equal(t, []any{"STAGE_SELFPLAY_COMPLETE"}, byValue["selfplay_complete"]["aliases"], "the alias name is on its type")
	assert.Equal(t, "node", byValue["host_online"]["scope"])
	assert.Equal(t, "none", byValue["sync_started"]["scope"])
	assert.Equal(t, []any{}, byValue["sync_started"]["payload"], "no schema: any object")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

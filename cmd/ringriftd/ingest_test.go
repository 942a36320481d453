package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/internal/gen"
)

// TestBatchAnswerNamesEveryDecision: the answer of a large non-atomic
// batch names, in the order posted, exactly the decisions the journal holds
// right after each appended event — with decisions close together, far
// apart (beyond decisionGap) and posted events in between, which the
// answer's batched read must skip.
func TestBatchAnswerNamesEveryDecision(t *testing.T) {
	base, _ := testDaemon(t, nil)
	g := gen.New(gen.Options{Seed: 11})
	var body []byte
	for i := 0; i < 2000; i++ {
		e := g.Next()
		body = append(e.AppendJSON(body), '\n')
	}
	status, ans := postAnswer(t, base+"/v1/events?atomic=false", "application/x-ndjson", string(body))
	require.Equal(t, http.StatusOK, status)

	code, raw := get(t, base+"/v1/events?limit=10000")
	require.Equal(t, http.StatusOK, code)
	var page struct {
		Events []struct {
			event.DecisionRef
			Source string `json:"source"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(raw, &page))
	bySeq := map[uint64]event.DecisionRef{}
	for _, e := range page.Events {
		bySeq[e.Seq] = e.DecisionRef
		if !strings.HasPrefix(e.Source, event.DecisionSourcePrefix) {
			delete(bySeq, e.Seq) // a posted event: the decisions after one end there
		}
	}
	var want []event.DecisionRef
	gaps := 0
	var lastCause uint64
	for _, r := range ans.Results {
		if r.Status != "appended" {
			continue
		}
		for s := r.Seq + 1; ; s++ {
			de, ok := bySeq[s]
			if !ok {
				break
			}
			if s == r.Seq+1 {
				if lastCause != 0 && r.Seq-lastCause > decisionGap {
					gaps++
				}
				lastCause = r.Seq
			}
			want = append(want, de)
		}
	}
	require.Greater(t, len(want), 50, "the generated batch causes decisions")
	require.Positive(t, gaps, "some decisions lie more than decisionGap apart")
	assert.Equal(t, want, ans.Decisions)
}

// postAnswer posts body and decodes the append answer.
func postAnswer(t *testing.T, url, contentType, body string) (int, event.AppendAnswer) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var a event.AppendAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a), fmt.Sprintf("status %d", resp.StatusCode))
	return resp.StatusCode, a
}

// TestBodySizes: the append reads bodies of every framing the same way —
// chunked (no Content-Length), one larger than the buffer sized in
// advance, and one over --max-body, refused as a whole.
func TestBodySizes(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.MaxBody = 8 << 20 })
	var body []byte
	for i := 0; i < 3000; i++ { // ~300 KB
		body = fmt.Appendf(body, `{"type":"new_games","config_key":"hex8_2p","payload":{"games":%d,"pad":"%0200d"}}`+"\n", i+1, i)
	}
	// Chunked: the client does not know the length of a plain io.Reader.
	resp, err := http.Post(base+"/v1/events?atomic=false", "application/x-ndjson", io.MultiReader(bytes.NewReader(body)))
	require.NoError(t, err)
	var a event.AppendAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	resp.Body.Close()
	require.Len(t, a.Results, 3000)
	assert.Equal(t, "appended", a.Results[2999].Status)

	// Declared length, larger than the advance buffer bound.
	big := bytes.Repeat(body, 16) // ~5 MB, 48,000 events: more than --max-batch
	status, out := post(t, base+"/v1/events?atomic=false", "application/x-ndjson", string(big))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, "batch_too_large", out["error"].(map[string]any)["code"], "%v", out)

	huge := bytes.Repeat(body, 30) // ~9 MB: over --max-body
	status, out = post(t, base+"/v1/events", "application/x-ndjson", string(huge))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, out["error"].(map[string]any)["message"], "request body over 8388608 bytes")
}

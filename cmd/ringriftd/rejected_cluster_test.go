package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
)

// rejectedMessages reads a node's GET /v1/rejected: each entry's message
// by its raw input.
func rejectedMessages(t *testing.T, base string) map[string]string {
	t.Helper()
	code, b := get(t, base+"/v1/rejected?limit=1000")
	require.Equal(t, 200, code, string(b))
	var log struct {
		Entries []struct {
			Seq  uint64 `json:"rseq"`
			Code string `json:"code"`
			Raw  string `json:"raw"`
		} `json:"entries"`
	}
	require.NoError(t, json.Unmarshal(b, &log))
	out := map[string]string{}
	for _, e := range log.Entries {
		require.NotZero(t, e.Seq)
		out[e.Raw] = e.Code
	}
	return out
}

// TestClusterRejectedEverywhere: a refusal made by any node is in every
// node's GET /v1/rejected (the rejected log is the stream
// RINGRIFT_REJECTED).
func TestClusterRejectedEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	nodes := testCluster(t)
	// One refusal sent to each node, before validation (bad JSON) and by
	// the sequencer's check (an unknown type).
	var raws []string
	for _, n := range nodes {
		bad := `{"id":"` + ulid.Make().String() + `","type":"no_such_type","config_key":"square8_2p","payload":{}}`
		code, body := postRaw(t, n.url()+"/v1/events", bad)
		require.GreaterOrEqual(t, code, 400, body)
		broken := `{"id": "` + n.name + `", broken`
		code, body = postRaw(t, n.url()+"/v1/events", broken)
		require.Equal(t, 400, code, body)
		raws = append(raws, bad, broken)
	}
	for _, n := range nodes {
		waitFor(t, 30*time.Second, "every refusal in "+n.name+"'s /v1/rejected", func() bool {
			got := rejectedMessages(t, n.url())
			for _, raw := range raws {
				if _, ok := got[raw]; !ok {
					return false
				}
			}
			return true
		})
	}
	got := rejectedMessages(t, nodes[2].url())
	require.Equal(t, "invalid_json", got[raws[1]])
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/cluster"
)

// postRaw posts body and returns the status and the answer's bytes.
func postRaw(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// forwarded reads a node's count of appends forwarded and answered.
func forwarded(t *testing.T, base string) int {
	t.Helper()
	code, b := get(t, base+"/metrics")
	require.Equal(t, 200, code)
	m := regexp.MustCompile(`(?m)^ringriftd_cluster_forwarded_appends_total\{result="answered"\} (\d+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return n
}

// TestClusterForwardsAppends: an append sent to a node that does not
// sequence is forwarded to the stream leader's node, and the client gets
// exactly that node's answer.
func TestClusterForwardsAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	nodes := testCluster(t)
	leader := streamLeader(t, nodes[0], nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	// Every node learns the leader from its poll of the stream (1 s).
	waitFor(t, 30*time.Second, "the follower to know the stream leader", func() bool {
		return viewOf(t, follower.url()).Leader == leader.name
	})

	// Appended through the follower: forwarded, answered with the seq the
	// leader's node gave it, in every replica.
	id := ulid.Make().String()
	body := fmt.Sprintf(`{"id":%q,"type":"new_games","config_key":"square8_2p","payload":{"games":1}}`, id)
	status, seq, final := postOnce(follower.url(), body)
	require.True(t, final)
	require.Equal(t, "appended", status)
	require.Equal(t, 1, forwarded(t, follower.url()), "the append was forwarded")
	require.Equal(t, 0, forwarded(t, leader.url()), "the leader's node appends locally")
	for _, n := range nodes {
		waitFor(t, 30*time.Second, "the event on "+n.name, func() bool {
			code, b := get(t, n.url()+"/v1/events/"+id)
			return code == 200 && strings.Contains(string(b), fmt.Sprintf(`"seq":%d`, seq))
		})
	}
	// A retry through the follower is a duplicate of that seq.
	status, dupSeq, _ := postOnce(follower.url(), body)
	require.Equal(t, "duplicate", status)
	require.Equal(t, seq, dupSeq)

	// A refusal answered through the follower is byte for byte the
	// leader's own answer.
	bad := `{"id":"` + ulid.Make().String() + `","type":"new_games","config_key":"square8_2p","payload":{"games":"many"}}`
	viaLeader, leaderBody := postRaw(t, leader.url()+"/v1/events", bad)
	viaFollower, followerBody := postRaw(t, follower.url()+"/v1/events", bad)
	require.GreaterOrEqual(t, viaLeader, 400, leaderBody)
	require.Equal(t, viaLeader, viaFollower)
	require.Equal(t, leaderBody, followerBody)
	require.Equal(t, 3, forwarded(t, follower.url()))

	// ?atomic=false travels with the body: a batch with one bad event
	// lands the good one.
	good := ulid.Make().String()
	batch := fmt.Sprintf(`[{"id":%q,"type":"new_games","config_key":"square8_2p","payload":{"games":1}},%s]`, good, bad)
	code, out := postRaw(t, follower.url()+"/v1/events?atomic=false", batch)
	require.Equal(t, 200, code, out)
	require.Contains(t, out, `"appended"`)
	require.Contains(t, out, `"refused"`)

	// A forwarded append whose events take a decision answers it, as the
	// leader's node does for its own (the decision is read back there, so
	// this answer waits for that replica's fsync).
	decide := `[{"type":"new_games","config_key":"hex8_2p","payload":{"games":60}},{"type":"sync_completed"}]`
	code, out = postRaw(t, follower.url()+"/v1/events", decide)
	require.Equal(t, 200, code, out)
	require.Contains(t, out, `"type":"training_threshold"`, "the decision is in the forwarded answer")
}

// TestForwardedAppendsAnswerWhenStored: an append forwarded from another
// node is answered once the stream stored it (its client reads from the
// other node); one taken directly still waits for this replica's fsync, so
// that what it answers is readable here.
func TestForwardedAppendsAnswerWhenStored(t *testing.T) {
	r, err := forwardedRequest(context.Background(), cluster.Forwarded{Body: []byte(`{}`), ContentType: "application/x-ndjson", Query: "atomic=false", Remote: "10.0.0.7:1234"})
	require.NoError(t, err)
	require.True(t, answerWhenStored(r.Context()))
	require.Equal(t, "/v1/events?atomic=false", r.URL.String())
	require.Equal(t, "application/x-ndjson", r.Header.Get("Content-Type"))
	require.Equal(t, "10.0.0.7:1234", r.RemoteAddr)

	direct, err := http.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(`{}`))
	require.NoError(t, err)
	require.False(t, answerWhenStored(direct.Context()))
}

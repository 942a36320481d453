package cluster_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/cluster"
)

// TestForward: what a forwarded append's sender learns in each case, and
// that it never mistakes an append in flight for one not taken.
func TestForward(t *testing.T) {
	ctx := context.Background()
	node, err := cluster.Start(ctx, cluster.Config{Name: "solo", DataDir: t.TempDir(), Replicas: 1, StartTimeout: 30 * time.Second})
	require.NoError(t, err)
	defer node.Close()

	release := make(chan struct{})
	got := make(chan cluster.Forwarded, 10)
	stop, err := node.ServeAppends(time.Minute, func(_ context.Context, req cluster.Forwarded) (cluster.Answer, bool) {
		got <- req
		switch string(req.Body) {
		case "decline":
			return cluster.Answer{}, true
		case "block":
			<-release
		}
		return cluster.Answer{Status: 207, Header: http.Header{"Content-Type": {"application/x-test"}, "Retry-After": {"3"}}, Body: []byte("answer to " + string(req.Body))}, false
	})
	require.NoError(t, err)
	defer close(release)

	// Answered: status, headers and body as the taking node gave them;
	// the request arrives with its content type, query and remote.
	ans, err := node.Forward(ctx, "solo", cluster.Forwarded{Body: []byte("x"), ContentType: "application/x-ndjson", Query: "atomic=false", Remote: "10.1.2.3:4567"}, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 207, ans.Status)
	require.Equal(t, "application/x-test", ans.Header.Get("Content-Type"))
	require.Equal(t, "3", ans.Header.Get("Retry-After"))
	require.Equal(t, "answer to x", string(ans.Body))
	require.Equal(t, cluster.Forwarded{Body: []byte("x"), ContentType: "application/x-ndjson", Query: "atomic=false", Remote: "10.1.2.3:4567"}, <-got)

	// Declined, or nobody listening: not taken (the sender appends itself).
	_, err = node.Forward(ctx, "solo", cluster.Forwarded{Body: []byte("decline")}, 5*time.Second)
	require.ErrorIs(t, err, cluster.ErrForwardNotTaken)
	<-got
	_, err = node.Forward(ctx, "nobody", cluster.Forwarded{Body: []byte("x")}, 5*time.Second)
	require.ErrorIs(t, err, cluster.ErrForwardNotTaken)

	// No answer in time: unknown, never "not taken".
	_, err = node.Forward(ctx, "solo", cluster.Forwarded{Body: []byte("block")}, 300*time.Millisecond)
	require.ErrorIs(t, err, cluster.ErrForwardUnknown)
	<-got

	// The taking node goes away with the append in flight: unknown, long
	// before the forward's timeout.
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := node.Forward(ctx, "solo", cluster.Forwarded{Body: []byte("block")}, time.Minute)
		done <- err
	}()
	<-got
	stop()
	select {
	case err := <-done:
		require.ErrorIs(t, err, cluster.ErrForwardUnknown)
		require.NotErrorIs(t, err, cluster.ErrForwardNotTaken)
		require.Less(t, time.Since(start), 10*time.Second)
	case <-time.After(20 * time.Second):
		t.Fatal("the forward waited on a node that went away")
	}
}

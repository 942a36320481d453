package cluster_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// batch makes n events at seqs from, ready to publish.
func batch(from uint64, n int, node string) []event.Event {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{Seq: from + uint64(i), ID: ulid.Make(), Type: "new_games", ConfigKey: "hex8_2p", NodeID: node,
			Time: at, RecordedAt: at, Payload: json.RawMessage(`{"games":1}`)}
	}
	return evs
}

// TestExpectedLastSeqDoesNotChainGroups is why the leader's node does not
// pipeline its publishes (docs/cluster.md, "Performance"): a group published
// before the previous one's acknowledgement, expecting that group's last
// seq, is NOT refused when that group was refused. JetStream checks the
// expected last seq by number only: when another node's batch of the same
// length took the refused group's seqs, the next group lands on top of it,
// although its decisions were taken on a state holding the refused group.
// (Nats-Expected-Last-Msg-Id, which would tie it to the group's content, is
// refused inside atomic batches.) If JetStream ever chains them, this test
// fails and pipelining becomes possible.
func TestExpectedLastSeqDoesNotChainGroups(t *testing.T) {
	ctx := context.Background()
	node, err := cluster.Start(ctx, cluster.Config{Name: "solo", DataDir: t.TempDir(), Replicas: 1, StartTimeout: 30 * time.Second})
	require.NoError(t, err)
	defer node.Close()

	require.NoError(t, node.Publish(ctx, batch(1, 2, "us")), "group 1 at the head")
	// group 2 (seqs 3–4) is built and sent; another node's batch of two
	// events, computed at the same head, reaches the stream first
	require.NoError(t, node.Publish(ctx, batch(3, 2, "them")))
	err = node.Publish(ctx, batch(3, 2, "us"))
	require.ErrorIs(t, err, journal.ErrHeadMoved, "group 2 is refused")
	// group 3 was sent behind group 2, expecting its last seq (4)
	err = node.Publish(ctx, batch(5, 2, "us"))
	require.NoError(t, err, "group 3 lands after the other node's events, not after group 2")
	head, err := node.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(6), head)
}

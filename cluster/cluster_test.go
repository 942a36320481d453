package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

func TestDecodeIsAppendJSONsInverse(t *testing.T) {
	at := time.Date(2026, 12, 2, 7, 0, 0, 123e6, time.UTC)
	tests := []struct {
		name string
		e    event.Event
	}{
		{"minimal", event.Event{Seq: 1, ID: ulid.Make(), Type: "new_games", Time: at, RecordedAt: at, Payload: json.RawMessage(`{"games":3}`)}},
		{"every field", event.Event{Seq: 42, ID: ulid.Make(), Type: "training_threshold", ConfigKey: "hex8_2p", NodeID: "gpu-1",
			Source: "ringriftd/threshold", Time: at, RecordedAt: at.Add(time.Second), CausationID: ulid.Make().String(),
			CorrelationID: "run-7", NoDedup: true, Payload: json.RawMessage(`{"a":"ü \u2028 \"q\"","b":[1,2]}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cluster.Decode(tt.e.AppendJSON(nil))
			require.NoError(t, err)
			assert.Equal(t, tt.e, got)
			assert.Equal(t, "ringrift.journal.", cluster.Subject(&tt.e)[:len("ringrift.journal.")])
		})
	}
	_, err := cluster.Decode([]byte(`{"seq":1,"id":"nope","type":"x"}`))
	require.ErrorIs(t, err, cluster.ErrCodec)
}

func TestConfigErrorsNameTheFlag(t *testing.T) {
	tests := []struct {
		cfg  cluster.Config
		flag string
	}{
		{cluster.Config{Name: ""}, "--cluster"},
		{cluster.Config{Name: "a.b", Replicas: 1}, "--cluster"},
		{cluster.Config{Name: "n1", Replicas: 9}, "--replicas"},
		{cluster.Config{Name: "n1"}, "--replicas"}, // three replicas on a lone server
		{cluster.Config{Name: "n1", Peers: []string{"127.0.0.1:6222"}}, "--cluster-listen"},
		{cluster.Config{Name: "n1", Listen: "127.0.0.1:6222", Peers: []string{"127.0.0.1:6223"}}, "--cluster-peers"},
		{cluster.Config{Name: "n1", Listen: "10.0.0.1:6222", Peers: []string{"10.0.0.2:6222", "10.0.0.3:6222"}}, "--token"},
		{cluster.Config{Name: "n1", URL: "nats://x:4222", Listen: "127.0.0.1:6222"}, "--nats-url"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		require.ErrorIs(t, err, cluster.ErrConfig, "%+v", tt.cfg)
		assert.Contains(t, err.Error(), tt.flag, "%+v", tt.cfg)
	}
}

// replica is one journal following the shared stream, as a node does.
type replica struct {
	j       *journal.Journal
	retries atomic.Int64
}

// TestReplicasAppendAtTheHead runs two journals as replicas of one stream
// (a one-server JetStream, whose atomic batches are slow: each is staged in
// a file store of its own; R3 streams stage them in memory), appending concurrently through both: each group
// either lands at the head or is retried after catching up, so both
// replicas end with the same events at the same seqs, every acknowledged id
// exactly once, and an id acknowledged through one is a duplicate through
// the other.
func TestReplicasAppendAtTheHead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := cluster.Start(ctx, cluster.Config{Name: "solo", DataDir: t.TempDir(), Replicas: 1, StartTimeout: 30 * time.Second})
	require.NoError(t, err)
	defer node.Close()

	reps := make([]*replica, 2)
	var follow sync.WaitGroup
	for i := range reps {
		r := &replica{}
		r.j, err = journal.Open(fmt.Sprintf("r%d", i), journal.Options{InMemory: true, MaxGroupEvents: 64,
			Replica: &journal.ReplicaOptions{Log: node, OnRetry: func(error) { r.retries.Add(1) }}})
		require.NoError(t, err)
		reps[i] = r
		follow.Add(1)
		go func() { defer follow.Done(); _ = node.Follow(ctx, r.j) }()
	}
	defer func() {
		cancel()
		follow.Wait()
		for _, r := range reps {
			require.NoError(t, r.j.Close())
		}
	}()

	var mu sync.Mutex
	acked := map[ulid.ULID]uint64{}
	var wg sync.WaitGroup
	start := time.Now()
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := reps[c%2]
			for i := range 25 {
				evs := []event.Event{{ID: ulid.Make(), Type: "new_games", ConfigKey: "hex8_2p", NodeID: fmt.Sprintf("w%d", c), Payload: json.RawMessage(fmt.Sprintf(`{"games":%d}`, 1+i%5))}}
				res, err := r.j.Append(ctx, evs, journal.AppendOptions{Atomic: true})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				acked[res[0].ID] = res[0].Seq
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("200 appends in %v, retries %d+%d", time.Since(start), reps[0].retries.Load(), reps[1].retries.Load())
	require.Len(t, acked, 200)
	assert.Positive(t, reps[0].retries.Load()+reps[1].retries.Load(), "two replicas appending at once must have met a moved head")

	// An id acknowledged through one replica is a duplicate through the other.
	e := []event.Event{{ID: ulid.Make(), Type: "new_games", ConfigKey: "hex8_2p", NodeID: "dup", Payload: json.RawMessage(`{"games":1}`)}}
	res, err := reps[0].j.Append(ctx, e, journal.AppendOptions{Atomic: true})
	require.NoError(t, err)
	again := []event.Event{e[0]}
	again[0].Seq = 0
	res2, err := reps[1].j.Append(ctx, again, journal.AppendOptions{Atomic: true})
	require.NoError(t, err)
	assert.Equal(t, journal.Duplicate, res2[0].Status)
	assert.Equal(t, res[0].Seq, res2[0].Seq)
	acked[e[0].ID] = res[0].Seq

	head, err := node.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(len(acked)), head, "the stream holds exactly the acknowledged events")
	var logs [2][]ulid.ULID
	for i, r := range reps {
		require.NoError(t, r.j.WaitDurable(ctx, head))
		require.NoError(t, r.j.Scan(1, journal.Filter{}, func(e *event.Event) error {
			require.Equal(t, uint64(len(logs[i])+1), e.Seq, "replica %d: a gap", i)
			logs[i] = append(logs[i], e.ID)
			return nil
		}))
	}
	require.Equal(t, logs[0], logs[1], "the replicas differ")
	for id, seq := range acked {
		require.Equal(t, id, logs[0][seq-1], "acknowledged id %s is not at seq %d", id, seq)
	}
}

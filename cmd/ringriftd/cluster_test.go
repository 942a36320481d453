package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/replay"
)

// testNode is one in-process ringriftd of a test cluster.
type testNode struct {
	name, dir, route string
	mu               sync.Mutex
	base             string // "" while down
	cancel           context.CancelFunc
	done             chan error
	// handlers and config, when set, are the node's handlers and a change
	// of its configuration (testClusterWith).
	handlers []Handler
	config   func(*Config)
}

// member is a node of a test cluster, in-process or a process.
type member interface {
	url() string // "" while down
	label() string
}

func (n *testNode) label() string { return n.name }

func (n *testNode) url() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.base
}

// freePorts returns n loopback ports free at the time of asking.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// testCluster starts three nodes at once (the stream needs its replicas).
func testCluster(t *testing.T) []*testNode {
	t.Helper()
	return testClusterWith(t, nil)
}

// testClusterWith is testCluster with setup called on each node before it
// starts (handlers, configuration).
func testClusterWith(t *testing.T, setup func(*testNode)) []*testNode {
	t.Helper()
	ports := freePorts(t, 3)
	var peers []string
	for _, p := range ports {
		peers = append(peers, fmt.Sprintf("127.0.0.1:%d", p))
	}
	root := t.TempDir()
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = &testNode{name: fmt.Sprintf("n%d", i+1), dir: filepath.Join(root, fmt.Sprintf("n%d", i+1)), route: peers[i]}
		if setup != nil {
			setup(nodes[i])
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		t.Cleanup(func() { n.stop(t) })
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = n.tryStart(t, peers) }()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return nodes
}

// start runs the node's daemon and waits until /readyz answers 200.
func (n *testNode) start(t *testing.T, peers []string) {
	t.Helper()
	require.NoError(t, n.tryStart(t, peers))
}

func (n *testNode) tryStart(t *testing.T, peers []string) error {
	cfg := defaultConfig(t)
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = n.dir
	cfg.CheckpointEvery = 500 * time.Millisecond
	cfg.Cluster.Name, cfg.Cluster.Listen, cfg.Cluster.Peers = n.name, n.route, peers
	cfg.Cluster.RetryFor = 3 * time.Second
	if n.config != nil {
		n.config(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("test_node", n.name)
	go func() { done <- serve(ctx, cfg, log, func(a string) { addr <- a }, n.handlers...) }()
	select {
	case a := <-addr:
		n.mu.Lock()
		n.base, n.cancel, n.done = "http://"+a, cancel, done
		n.mu.Unlock()
	case err := <-done:
		cancel()
		return fmt.Errorf("node %s: serve: %w", n.name, err)
	case <-time.After(90 * time.Second):
		cancel()
		return fmt.Errorf("node %s did not listen", n.name)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(n.url() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("node %s never ready", n.name)
}

// stop shuts the node's daemon and its NATS server down (a stream leader
// there loses its leadership at once).
func (n *testNode) stop(t *testing.T) {
	t.Helper()
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.base, n.cancel = "", nil
	n.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "node %s shutdown", n.name)
	case <-time.After(60 * time.Second):
		t.Errorf("node %s did not stop", n.name)
	}
}

type clusterView struct {
	Node     string `json:"node"`
	Mode     string `json:"mode"`
	Leader   string `json:"stream_leader"`
	LastSeq  uint64 `json:"last_seq"`
	LocalSeq uint64 `json:"local_seq"`
	Stale    bool   `json:"stale"`
	Peers    []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
	} `json:"peers"`
}

func viewOf(t *testing.T, base string) clusterView {
	t.Helper()
	code, b := get(t, base+"/v1/cluster")
	require.Equal(t, 200, code, string(b))
	var v clusterView
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

// clients append through every node until stop: each event has its own id,
// and a failed or unanswered attempt is retried with the same id on the
// next node. acked maps every acknowledged id to the seq its answer gave.
type clients struct {
	nodes   []member
	mu      sync.Mutex
	acked   map[string]uint64
	lastAck atomic.Int64 // unix nanos of the latest acknowledgement
	// longest is the longest time between two acknowledgements (ns);
	// sinceMark the longest since the last mark.
	longest, sinceMark atomic.Int64
	stop               chan struct{}
	wg                 sync.WaitGroup
}

func runClients(nodes []member, n int) *clients {
	c := &clients{nodes: nodes, acked: map[string]uint64{}, stop: make(chan struct{})}
	c.lastAck.Store(time.Now().UnixNano())
	for k := range n {
		c.wg.Add(1)
		go c.run(k)
	}
	return c
}

func (c *clients) run(k int) {
	defer c.wg.Done()
	for i := 0; ; i++ {
		id := ulid.Make().String()
		body := fmt.Sprintf(`{"id":%q,"type":"new_games","config_key":"square8_2p","node_id":"w%d","payload":{"games":%d}}`, id, k, 1+i%5)
		for attempt := 0; ; attempt++ {
			select {
			case <-c.stop:
				return
			default:
			}
			base := c.nodes[(k+attempt)%len(c.nodes)].url()
			if base == "" {
				continue
			}
			status, seq, final := postOnce(base, body)
			if status == "appended" || status == "duplicate" {
				now := time.Now().UnixNano()
				c.mu.Lock()
				c.acked[id] = seq
				gap := now - c.lastAck.Swap(now)
				if gap > c.longest.Load() {
					c.longest.Store(gap)
				}
				if gap > c.sinceMark.Load() {
					c.sinceMark.Store(gap)
				}
				c.mu.Unlock()
				break
			}
			if final {
				break // refused for good (not acknowledged)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// postOnce posts one event; final says the answer is a refusal that a
// retry would not change.
func postOnce(base, body string) (status string, seq uint64, final bool) {
	resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		return "", 0, false
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Status string `json:"status"`
			Seq    uint64 `json:"seq"`
		} `json:"results"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Results) != 1 {
		return "", 0, resp.StatusCode != 503 && resp.StatusCode < 500
	}
	return out.Results[0].Status, out.Results[0].Seq, true
}

func (c *clients) halt() map[string]uint64 {
	close(c.stop)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}

// mark returns the longest time between two acknowledgements since the
// last mark, and starts a new period.
func (c *clients) mark() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Duration(c.sinceMark.Swap(0))
}

func (c *clients) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acked)
}

// waitConverged waits until every running node's replica holds the same
// last seq as the stream.
func waitConverged(t *testing.T, nodes []member) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var seqs []uint64
		for _, n := range nodes {
			v := viewOf(t, n.url())
			seqs = append(seqs, v.LocalSeq, v.LastSeq)
		}
		same := true
		for _, s := range seqs {
			same = same && s == seqs[0]
		}
		if same {
			return seqs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas never converged: local/last seqs %v", seqs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkJournals checks every point of cluster.md's failure behaviour that a
// journal shows: seqs 1..N without a gap on every node, the same id at the
// same seq everywhere, every acknowledged id exactly once at the seq its
// answer gave, and byte-identical projections.
func checkJournals(t *testing.T, nodes []member, acked map[string]uint64) {
	t.Helper()
	last := waitConverged(t, nodes)
	var first []string
	var firstProj map[string]string
	for _, n := range nodes {
		ids, seqs := exportLines(t, n.url())
		require.Len(t, seqs, int(last), "node %s holds %d events, the stream %d", n.label(), len(seqs), last)
		for i, s := range seqs {
			require.Equal(t, uint64(i+1), s, "node %s: seq %d at position %d", n.label(), s, i+1)
		}
		count := map[string]int{}
		for _, id := range ids {
			count[id]++
		}
		for id, seq := range acked {
			require.Equal(t, 1, count[id], "node %s: acknowledged id %s appears %d times", n.label(), id, count[id])
			require.Equal(t, id, ids[seq-1], "node %s: acknowledged id %s is not at the seq %d it was answered with", n.label(), id, seq)
		}
		proj := allProjections(t, n.url())
		if first == nil {
			first, firstProj = ids, proj
			continue
		}
		require.Equal(t, first, ids, "node %s's journal differs from %s's", n.label(), nodes[0].label())
		checkRebuild(t, n.url(), proj)
		for k, v := range firstProj {
			require.Equal(t, v, proj[k], "node %s: /v1/%s differs from %s's", n.label(), k, nodes[0].label())
		}
	}
}

// checkRebuild: replay rebuild over the node's export gives the node's
// projections.
func checkRebuild(t *testing.T, base string, proj map[string]string) {
	t.Helper()
	src, err := replay.OpenURL(base, "", http.DefaultClient)
	require.NoError(t, err)
	defer src.Close()
	p, err := replay.Rebuild(context.Background(), src, replay.Point{}, replay.FoldOptions{})
	require.NoError(t, err)
	for name, got := range map[string][]byte{"pipelines": p.Pipelines, "elo": p.Elo, "curriculum": p.Curriculum, "health": p.Health} {
		require.JSONEq(t, string(got), proj[name], "replay rebuild's %s differs from %s/v1/%s", name, base, name)
	}
}

// exportLines reads a node's export: the ids in seq order, and the seqs.
func exportLines(t *testing.T, base string) ([]string, []uint64) {
	t.Helper()
	code, b := get(t, base+"/v1/export")
	require.Equal(t, 200, code)
	var ids []string
	var seqs []uint64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var e struct {
			Seq uint64 `json:"seq"`
			ID  string `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		ids = append(ids, e.ID)
		seqs = append(seqs, e.Seq)
	}
	return ids, seqs
}

// streamLeader waits until n's /v1/cluster names the stream leader, one of
// nodes, and returns it: a view that could not ask the stream in time
// (under load) gives the leader last seen, none when the node last saw the
// stream without one (just created, its replicas electing).
func streamLeader(t *testing.T, n *testNode, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	waitFor(t, 30*time.Second, "a stream leader in "+n.name+"'s /v1/cluster", func() bool {
		leader = nodeNamed(nodes, viewOf(t, n.url()).Leader)
		return leader != nil
	})
	return leader
}

func nodeNamed(nodes []*testNode, name string) *testNode {
	for _, n := range nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// TestClusterFailover is cluster.md's "Failure behaviour" on three
// in-process nodes (embedded NATS servers on loopback): appends through
// all nodes while the stream leader's node goes down and comes back; a node
// rebuilt from an empty data directory; a lost quorum.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	nodes := testCluster(t)
	peers := []string{nodes[0].route, nodes[1].route, nodes[2].route}
	members := []member{nodes[0], nodes[1], nodes[2]}

	require.Equal(t, "cluster", viewOf(t, nodes[0].url()).Mode)
	streamLeader(t, nodes[0], nodes)

	load := runClients(members, 12)
	// Counts, not rates: -race on a loaded 2-core machine appends slowly.
	waitFor(t, 60*time.Second, "appends before the kill", func() bool { return load.count() >= 300 })

	// Lose the stream leader's node.
	leader := streamLeader(t, nodes[0], nodes)
	before := load.count()
	killed := time.Now()
	leader.stop(t)
	waitFor(t, 10*time.Second, "an append acknowledged after losing the stream leader", func() bool {
		return load.lastAck.Load() > killed.UnixNano() && load.count() > before
	})
	t.Logf("appends resumed %v after the stream leader's node went down", time.Since(killed).Round(time.Millisecond))
	waitFor(t, 60*time.Second, "appends without the old leader", func() bool { return load.count() >= before+300 })

	leader.start(t, peers)
	waitFor(t, 60*time.Second, "appends after the node returned", func() bool { return load.count() >= before+600 })
	acked := load.halt()
	checkJournals(t, members, acked)
	t.Logf("%d events acknowledged", len(acked))

	// A node restarted with an empty data directory rebuilds its replica.
	wiped := nodes[1]
	wiped.stop(t)
	require.NoError(t, os.RemoveAll(wiped.dir))
	wiped.start(t, peers)
	checkJournals(t, members, acked)

	// A lost quorum: appends are unavailable, reads still answer, stale.
	nodes[0].stop(t)
	nodes[1].stop(t)
	alone := nodes[2]
	waitFor(t, 30*time.Second, "the lone node to see its quorum lost", func() bool { v := viewOf(t, alone.url()); t.Logf("%+v", v); return v.Stale })
	code, out := post(t, alone.url()+"/v1/events", "application/json",
		fmt.Sprintf(`{"id":%q,"type":"new_games","config_key":"square8_2p","payload":{"games":1}}`, ulid.Make()))
	require.Equal(t, http.StatusServiceUnavailable, code, "%v", out)
	require.Contains(t, []string{"unavailable", "outcome_unknown"}, out["error"].(map[string]any)["code"], "%v", out)
	for _, p := range []string{"pipelines", "elo", "curriculum", "health"} {
		code, _ := get(t, alone.url()+"/v1/"+p)
		require.Equal(t, 200, code, "/v1/%s without quorum", p)
	}
	// /readyz follows the node's last look at the stream (its 1 s poll
	// or a /v1/cluster): a poll answered by a leader that has not yet
	// noticed its lost followers may still count them.
	waitFor(t, 30*time.Second, "/readyz to answer 503 without quorum", func() bool {
		code, _ := get(t, alone.url()+"/readyz")
		return code == http.StatusServiceUnavailable
	})
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterEndpointOnOneNode(t *testing.T) {
	base, _ := testDaemon(t, nil)
	code, out := post(t, base+"/v1/events", "application/json", `{"type":"new_games","config_key":"hex8_2p","payload":{"games":1}}`)
	require.Equal(t, 200, code, "%v", out)
	v := viewOf(t, base)
	assert.Equal(t, "single", v.Mode)
	assert.Equal(t, uint64(1), v.LastSeq)
	assert.Equal(t, uint64(1), v.LocalSeq)
}

func TestClusterFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" = valid
	}{
		{[]string{"--cluster", "n1", "--cluster-listen", "127.0.0.1:6222", "--cluster-peers", "127.0.0.1:6222,127.0.0.1:6223,127.0.0.1:6224", "--sync", "always"}, ""},
		{[]string{"--cluster", "n1", "--replicas", "1"}, ""},
		{[]string{"--cluster-listen", "127.0.0.1:6222"}, "--cluster"},
		{[]string{"--replicas", "1"}, "--cluster"},
		{[]string{"--sync", "always"}, "--cluster"},
		{[]string{"--max-lag", "10"}, "--cluster"},
		{[]string{"--nats-listen", "127.0.0.1:4222"}, "--cluster"},
		{[]string{"--cluster", "n1", "--sync", "sometimes"}, "--sync"},
		{[]string{"--cluster", "n1"}, "--replicas"},
		{[]string{"--cluster", "n1", "--cluster-listen", "10.1.1.1:6222", "--cluster-peers", "10.1.1.1:6222,10.1.1.2:6222,10.1.1.3:6222"}, "--token"},
	}
	for _, tt := range tests {
		cfg, err := parseConfig(tt.args, func(string) string { return "" }, io.Discard)
		if err == nil {
			err = cfg.Validate()
		}
		if tt.want == "" {
			assert.NoError(t, err, "%v", tt.args)
			continue
		}
		require.ErrorIs(t, err, errConfig, "%v", tt.args)
		assert.Contains(t, err.Error(), tt.want, "%v", tt.args)
	}
}

// TestReplicaEngineCountsWhatTheStreamKept: in cluster mode the metrics and
// trace (onCommit) see a group only once the stream stored it: a group
// rolled back to its savepoint (the stream refused it) is not counted, and
// its retry is counted once.
func TestReplicaEngineCountsWhatTheStreamKept(t *testing.T) {
	var seen []uint64
	r := &replicaEngine{lockedEngine: &lockedEngine{g: engine.New(engine.Options{}),
		onCommit: func(e *event.Event, _ []event.Event) { seen = append(seen, e.Seq) }}}
	group := func(refused bool) {
		r.Savepoint()
		for seq := uint64(1); seq <= 2; seq++ {
			e, err := event.Decode([]byte(`{"type":"new_games","config_key":"hex8_2p","payload":{"games":3}}`))
			require.Nil(t, err)
			e.Seq = seq
			r.Begin(false)
			_, ref := r.Admit(&e)
			require.Nil(t, ref)
			r.Commit()
		}
		if refused {
			require.NoError(t, r.RollbackToSavepoint())
		}
		r.GroupDone()
	}
	group(true)
	assert.Empty(t, seen, "a group the stream refused is not counted")
	group(false)
	assert.Equal(t, []uint64{1, 2}, seen, "its retry, once")
}

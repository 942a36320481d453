package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// benchCluster is three in-process nodes on loopback (embedded NATS servers,
// R3 stream), each with its Pebble journal as a replica.
type benchCluster struct {
	nodes    []*cluster.Node
	journals []*journal.Journal
	// logs time every publish of each node's journal (what its sequencer
	// waits for).
	logs   []*timedLog
	cancel context.CancelFunc
	follow sync.WaitGroup
}

// timedLog is a node as a journal's log of record, timing its publishes.
type timedLog struct {
	*cluster.Node
	mu     sync.Mutex
	took   []time.Duration
	events int
}

func (t *timedLog) Publish(ctx context.Context, evs []event.Event) error {
	start := time.Now()
	err := t.Node.Publish(ctx, evs)
	t.mu.Lock()
	t.took = append(t.took, time.Since(start))
	t.events += len(evs)
	t.mu.Unlock()
	return err
}

// take returns the publishes timed since the last take and their events.
func (t *timedLog) take() ([]time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	took, events := t.took, t.events
	t.took, t.events = nil, 0
	return took, events
}

// publishes returns every node's publishes since the last call: how many,
// their events and the median time one took.
func (c *benchCluster) publishes() (n, events int, p50 time.Duration) {
	var all []time.Duration
	for _, l := range c.logs {
		took, evs := l.take()
		all = append(all, took...)
		events += evs
	}
	if len(all) == 0 {
		return 0, 0, 0
	}
	slices.Sort(all)
	return len(all), events, all[len(all)/2]
}

func freeLoopbackPorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func (s *suite) startBenchCluster() (*benchCluster, error) {
	peers, err := freeLoopbackPorts(3)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c := &benchCluster{nodes: make([]*cluster.Node, 3), cancel: cancel}
	errs := make([]error, 3)
	dirs := make([]string, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		dirs[i] = s.tempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodes[i], errs[i] = cluster.Start(ctx, cluster.Config{Name: fmt.Sprintf("b%d", i+1), DataDir: dirs[i],
				Listen: peers[i], Peers: peers, Replicas: 3, StartTimeout: 60 * time.Second})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.close()
			return nil, err
		}
	}
	for i, n := range c.nodes {
		l := &timedLog{Node: n}
		c.logs = append(c.logs, l)
		j, err := journal.Open(filepath.Join(dirs[i], "journal"), journal.Options{MaxGroupEvents: 1000,
			Replica: &journal.ReplicaOptions{Log: l}})
		if err != nil {
			c.close()
			return nil, err
		}
		c.journals = append(c.journals, j)
		c.follow.Add(1)
		go func() { defer c.follow.Done(); _ = n.Follow(ctx, j) }()
	}
	return c, nil
}

// serveAppends makes every node take appends forwarded to it, as the
// daemon does (cmd/ringriftd/forward.go): the body is the event's JSON,
// decoded by the validator, the answer its seq.
func (c *benchCluster) serveAppends() (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	for i, n := range c.nodes {
		j := c.journals[i]
		st, err := n.ServeAppends(30*time.Second, func(ctx context.Context, req cluster.Forwarded) (cluster.Answer, bool) {
			e, ref := event.Decode(req.Body)
			if ref != nil {
				return cluster.Answer{Status: 400, Body: []byte(ref.Error())}, false
			}
			res, err := j.Append(ctx, []event.Event{e}, journal.AppendOptions{Validated: true, Remote: req.Remote, AnswerWhenStored: true})
			if err != nil {
				return cluster.Answer{Status: 503, Body: []byte(err.Error())}, false
			}
			return cluster.Answer{Status: 200, Body: strconv.AppendUint(nil, res[0].Seq, 10)}, false
		})
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, st)
	}
	if _, err := c.nodes[0].Head(context.Background()); err != nil { // learns the leader
		stop()
		return nil, err
	}
	return stop, nil
}

// append appends e through node i: forwarded to the stream leader's node
// as the daemon does, or at node i when that is the leader's or no node
// took the forward.
func (c *benchCluster) append(ctx context.Context, i int, e event.Event) error {
	n := c.nodes[i]
	if to := c.nodes[0].Leader(); to != "" && to != n.Name() {
		ans, err := n.Forward(ctx, to, cluster.Forwarded{Body: e.AppendJSON(nil), Remote: "bench"}, 30*time.Second)
		switch {
		case err == nil && ans.Status == 200:
			return nil
		case err == nil:
			return fmt.Errorf("forwarded append: %d %s", ans.Status, ans.Body)
		case !errors.Is(err, cluster.ErrForwardNotTaken):
			return err
		}
	}
	_, err := c.journals[i].Append(ctx, []event.Event{e}, journal.AppendOptions{})
	return err
}

func (c *benchCluster) close() {
	c.cancel()
	c.follow.Wait()
	for _, j := range c.journals {
		_ = j.Close()
	}
	for _, n := range c.nodes {
		if n != nil {
			n.Close()
		}
	}
}

// clusterFigures: cluster.append_c64 (64 writers spread over three nodes,
// one event per append) beside limit.jetstream_r3_c64 (64 synchronous raw
// publishers to an R3 stream of the same servers), alternating, and
// journal.append_c64 from this run for the ratio. Beside them, what bounds
// the cluster (docs/cluster.md, "Performance"): the appends' p99, how many
// events one publish carries, and how long one publish takes (the
// sequencer waits for each).
func (s *suite) clusterFigures() error {
	if !s.want("cluster.append_c64") && !s.want("limit.jetstream_r3_c64") {
		return nil
	}
	if _, ok := s.figures["journal.append_c64.events_per_sec"]; !ok {
		only := s.only
		s.only = "journal.append_c64"
		err := s.journalAppend()
		s.only = only
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(s.log, "starting a three-node cluster (embedded NATS, R3)")
	c, err := s.startBenchCluster()
	if err != nil {
		return err
	}
	defer c.close()
	const writers, each = 64, 150
	mk := func(k int) event.Event {
		e := newGames(k)
		e.ID = ulid.Make()
		return e
	}
	stop, err := c.serveAppends()
	if err != nil {
		return err
	}
	defer stop()
	var p99s, perPublish, publishMs []float64
	err = s.ratio("cluster.append_c64.vs_raw_r3", "cluster.append_c64.events_per_sec", func() (float64, error) {
		lat := make([]time.Duration, writers*each)
		c.publishes() // not the warm-up's
		d, err := concurrently(writers, each, func(w, k int) error {
			start := time.Now()
			err := c.append(s.ctx, w%3, mk(k))
			lat[k] = time.Since(start)
			return err
		})
		if err != nil {
			return 0, err
		}
		slices.Sort(lat)
		p99s = append(p99s, float64(lat[len(lat)*99/100])/float64(time.Millisecond))
		if n, evs, p50 := c.publishes(); n > 0 {
			perPublish = append(perPublish, float64(evs)/float64(n))
			publishMs = append(publishMs, float64(p50)/float64(time.Millisecond))
		}
		return rate(writers*each, d), nil
	}, "limit.jetstream_r3_c64.events_per_sec", func() (float64, error) {
		return c.nodes[0].RawPublishRate(s.ctx, writers, each, mk)
	})
	if err != nil {
		return err
	}
	s.report("cluster.append_c64.p99_ms", medianOf(p99s))
	if len(perPublish) > 0 {
		s.report("cluster.append_c64.events_per_publish", medianOf(perPublish))
		s.report("cluster.append_c64.publish_p50_ms", medianOf(publishMs))
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// ClusterConfig is cluster mode's part of the configuration (cluster.md).
type ClusterConfig struct {
	Name       string // --cluster: cluster mode on, this node's name
	Listen     string // --cluster-listen
	Peers      []string
	NATSListen string
	NATSURL    string
	Replicas   int
	SyncAlways bool
	// MaxLag is how far the replica may trail the stream while /readyz
	// answers 200.
	MaxLag uint64
	// RetryFor bounds how long an append is retried while the stream
	// refuses or cannot store it (0: the journal's default, 15 s, longer
	// than an election). Not a flag; tests shorten it.
	RetryFor time.Duration
	// NoForward turns forwarding appends to the stream leader's node off
	// (every node then publishes its own appends at the head). Not a
	// flag; tests use it.
	NoForward bool
	// AckWait is how long a node may hold an event of a shared
	// subscription without a sign of life before another node gets it (0:
	// 30 s). Not a flag; tests shorten it.
	AckWait time.Duration
	// CursorEvery is how often this node stores the shared subscriptions'
	// cursors in its journal (0: 5 s). Not a flag; tests shorten it.
	CursorEvery time.Duration
	// TLSCert, TLSKey and TLSCA: TLS for the routes (--cluster-tls-cert,
	// --cluster-tls-key, --cluster-tls-ca), all three or none.
	TLSCert, TLSKey, TLSCA string
}

// clusterMaxAtomic is the most events of an atomic append in cluster mode:
// one JetStream atomic batch.
const clusterMaxAtomic = 1000

// clusterFlags defines cluster mode's flags with flagSet's helpers.
func (c *Config) clusterFlags(f *envFlags) func() error {
	cc := &c.Cluster
	var peers, sync string
	f.String(&cc.Name, "cluster", "cluster mode: this node's name, unique in the cluster (cluster.md)")
	f.String(&cc.Listen, "cluster-listen", "the embedded NATS server's route address host:port")
	f.String(&peers, "cluster-peers", "every node's route address, comma-separated")
	f.String(&cc.NATSListen, "nats-listen", "the embedded NATS server's client address (default loopback, a chosen port)")
	f.String(&cc.NATSURL, "nats-url", "use an existing NATS cluster instead of embedding a server")
	f.Int(&cc.Replicas, "replicas", "stream replicas (1 for a one-node trial)")
	f.String(&sync, "sync", "always: fsync every JetStream write before it is acknowledged (default: JetStream's periodic sync)")
	f.Uint64(&cc.MaxLag, "max-lag", "events the replica may trail the stream while /readyz is 200")
	f.String(&cc.TLSCert, "cluster-tls-cert", "TLS for the routes: this node's PEM certificate (with --cluster-tls-key and --cluster-tls-ca)")
	f.String(&cc.TLSKey, "cluster-tls-key", "TLS for the routes: the PEM private key of --cluster-tls-cert")
	f.String(&cc.TLSCA, "cluster-tls-ca", "TLS for the routes: the PEM CA every node's route certificate must be signed by")
	return func() error {
		for _, p := range strings.Split(peers, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cc.Peers = append(cc.Peers, p)
			}
		}
		switch sync {
		case "":
		case "always":
			cc.SyncAlways = true
		default:
			return fmt.Errorf("%w: --sync: %q; want always (or leave it out)", errConfig, sync)
		}
		return nil
	}
}

// nodeConfig is the cluster package's configuration for this daemon.
func (c *Config) nodeConfig() cluster.Config {
	return cluster.Config{Name: c.Cluster.Name, DataDir: c.DataDir, Listen: c.Cluster.Listen, Peers: c.Cluster.Peers,
		ClientListen: c.Cluster.NATSListen, URL: c.Cluster.NATSURL, Replicas: c.Cluster.Replicas,
		SyncAlways: c.Cluster.SyncAlways, Token: c.Token, Insecure: c.Insecure,
		TLSCert: c.Cluster.TLSCert, TLSKey: c.Cluster.TLSKey, TLSCA: c.Cluster.TLSCA}
}

// validateCluster checks the cluster flags (only with --cluster).
func (c *Config) validateCluster() error {
	if c.Cluster.Name == "" {
		def := DefaultConfig().Cluster
		if c.Cluster.Listen != "" || len(c.Cluster.Peers) > 0 || c.Cluster.NATSURL != "" || c.Cluster.NATSListen != "" ||
			c.Cluster.SyncAlways || c.Cluster.Replicas != def.Replicas || c.Cluster.MaxLag != def.MaxLag ||
			c.Cluster.TLSCert != "" || c.Cluster.TLSKey != "" || c.Cluster.TLSCA != "" {
			return fmt.Errorf("%w: --cluster: empty; --cluster-listen, --cluster-peers, --nats-listen, --nats-url, --replicas, --sync, --max-lag and --cluster-tls-cert/-key/-ca are cluster mode's and need a node name (--cluster NAME)", errConfig)
		}
		return nil
	}
	nc := c.nodeConfig()
	if err := nc.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	return nil
}

// clusterState is the daemon's cluster mode: the node, the follower and the
// metrics.
type clusterState struct {
	node     *cluster.Node
	retries  *prometheus.CounterVec
	forwards *prometheus.CounterVec
	// noForward: appends are not forwarded (ClusterConfig.NoForward).
	noForward bool
	stopServe func()
	// rejected carries the journal's new rejected-log entries to the
	// rejected stream (OnRejected never blocks the journal).
	rejected     chan []journal.Rejection
	rejectedLost prometheus.Counter
	wg           sync.WaitGroup
	// following is set once the replica was checked against the stream
	// and follows it: /readyz waits for it.
	following atomic.Bool
	// ctx ends when the daemon stops running (shared subscriptions stop).
	ctx context.Context
}

// replicaEngine is the engine as the hook of a replicated journal. It holds
// the engine's lock from the group's savepoint to its end, so that readers —
// the HTTP projections and the checkpointer above all — only ever see state
// the stream has stored (a group the stream refuses is rolled back).
type replicaEngine struct {
	*lockedEngine
	sp         engine.Savepoint
	spAdmitted uint64
	// group holds what the group's transactions committed, for onCommit
	// (metrics, trace) at GroupDone: a group the stream refuses is rolled
	// back and retried, and must not be counted.
	group []stagedEvent
}

var _ journal.ReplicaHook = (*replicaEngine)(nil)

func (r *replicaEngine) FoldReplicated(evs []event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range evs {
		r.g.FoldReplicated(&evs[i])
	}
	r.admitted = evs[len(evs)-1].Seq
}

// Savepoint takes the lock for the group; GroupDone releases it.
func (r *replicaEngine) Savepoint() {
	r.mu.Lock()
	r.sp, r.spAdmitted = r.g.Savepoint(), r.admitted
}

// GroupDone tells onCommit what the group kept, then releases the lock.
func (r *replicaEngine) GroupDone() {
	for _, s := range r.group {
		r.onCommit(s.e, s.decisions)
	}
	r.group = r.group[:0]
	r.mu.Unlock()
}

// Begin, Commit and Rollback run inside the group, under its lock.
func (r *replicaEngine) Begin(atomic bool) { r.begin(atomic) }
func (r *replicaEngine) Rollback()         { r.rollback() }

// Commit keeps the transaction's events for GroupDone.
func (r *replicaEngine) Commit() {
	r.g.Commit()
	r.admitted = r.pending
	r.group = append(r.group, r.staged...)
	r.staged = r.staged[:0]
}

func (r *replicaEngine) RollbackToSavepoint() error {
	if err := r.g.RollbackTo(r.sp); err != nil {
		return err
	}
	r.admitted = r.spAdmitted
	r.group = r.group[:0]
	return nil
}

// clusterOpen starts the cluster node (with --cluster) and makes the journal
// its replica: called by openDaemon before the journal opens.
func (d *daemon) clusterOpen(opts *journal.Options) error {
	if d.cfg.Cluster.Name == "" {
		return nil
	}
	nc := d.cfg.nodeConfig()
	nc.Logger = d.log
	node, err := cluster.Start(context.Background(), nc)
	if err != nil {
		return err
	}
	cs := &clusterState{node: node, noForward: d.cfg.Cluster.NoForward}
	cs.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringriftd_cluster_append_retries_total",
		Help: "Group commits retried because the stream's head moved, had no quorum or did not answer."}, []string{"reason"})
	cs.forwards = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringriftd_cluster_forwarded_appends_total",
		Help: "Appends forwarded to the stream leader's node, by result (answered, not_taken: appended here, unknown)."}, []string{"result"})
	cs.rejected = make(chan []journal.Rejection, 1024)
	cs.rejectedLost = prometheus.NewCounter(prometheus.CounterOpts{Name: "ringriftd_cluster_rejected_unreplicated_total",
		Help: "Rejected-log entries kept only in this node's log: the rejected stream did not take them."})
	opts.OnRejected = func(rs []journal.Rejection) {
		select {
		case cs.rejected <- rs:
		default:
			cs.rejectedLost.Add(float64(len(rs)))
		}
	}
	d.metrics.reg.MustRegister(cs.retries, cs.forwards, cs.rejectedLost,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringriftd_cluster_replica_lag",
			Help: "Events the local replica trails the stream by (as last seen)."}, func() float64 { return float64(d.replicaLag()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringriftd_cluster_leader_changes_total",
			Help: "Stream leader changes this node has seen."}, func() float64 { return float64(node.LeaderChanges()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringriftd_cluster_stale",
			Help: "1 while the stream cannot be reached (no quorum)."}, func() float64 { return b2f(node.Stale()) }))
	opts.Hook = &replicaEngine{lockedEngine: d.eng}
	opts.MaxGroupEvents = clusterMaxAtomic
	opts.Replica = &journal.ReplicaOptions{Log: node, RetryFor: d.cfg.Cluster.RetryFor, OnRetry: func(reason error) {
		cs.retries.WithLabelValues(retryReason(reason)).Inc()
	}}
	d.cluster = cs
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func retryReason(err error) string {
	switch {
	case errors.Is(err, journal.ErrHeadMoved):
		return "head_moved"
	case errors.Is(err, journal.ErrNoQuorum):
		return "no_quorum"
	}
	return "unknown"
}

// clusterStart checks the replica against the stream and starts the
// follower and the watcher (after catchUp: the engine holds the replica).
func (d *daemon) clusterStart(ctx context.Context) error {
	cs := d.cluster
	if cs == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := cs.node.CheckReplica(cctx, d.j)
	cancel()
	if err != nil {
		return err
	}
	stop, err := cs.node.ServeAppends(d.forwardTimeout(), d.serveForwarded)
	if err != nil {
		return err
	}
	cs.stopServe = stop
	cs.ctx = ctx
	cs.wg.Add(3)
	go func() {
		defer cs.wg.Done()
		d.replicateRejected(ctx)
	}()
	go func() {
		defer cs.wg.Done()
		if err := cs.node.Follow(ctx, d.j); err != nil && ctx.Err() == nil {
			d.log.Error("the replica stopped following the stream", "err", err)
		}
	}()
	go func() {
		defer cs.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				cs.node.Info(ctx, d.j.Durable(), time.Second) // leader, head, stale
			}
		}
	}()
	cs.following.Store(true)
	return nil
}

// clusterClose stops the follower (ctx has ended) and shuts the node down,
// after the journal closed.
func (d *daemon) clusterClose() {
	if cs := d.cluster; cs != nil {
		if cs.stopServe != nil {
			cs.stopServe()
		}
		cs.wg.Wait()
		cs.node.Close()
	}
}

// replicateRejected copies the journal's new rejected-log entries to the
// rejected stream, until ctx ends. An entry the stream does not take
// within a few attempts stays in this node's log only (counted).
func (d *daemon) replicateRejected(ctx context.Context) {
	cs := d.cluster
	for {
		var rs []journal.Rejection
		select {
		case <-ctx.Done():
			return
		case rs = <-cs.rejected:
		}
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = cs.node.PublishRejected(pctx, rs)
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			cs.rejectedLost.Add(float64(len(rs)))
			d.log.Warn("the rejected stream did not take entries; they stay in this node's rejected log", "entries", len(rs), "err", err)
		}
	}
}

// rejectedLog is the rejected log GET /v1/rejected shows: in cluster mode
// the rejected stream (every node's refusals), or this node's own log when
// the stream cannot be read.
func (d *daemon) rejectedLog(ctx context.Context, from uint64, limit int) (journal.RejectedLog, error) {
	if d.cluster != nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		log, err := d.cluster.node.Rejected(rctx, from, limit)
		cancel()
		if err == nil {
			return log, nil
		}
		d.log.Warn("reading the rejected stream; showing this node's rejected log", "err", err)
	}
	return d.j.Rejected(from, limit)
}

// clusterCaughtUp waits (up to 5 s) until this node's replica holds the
// stream's head as the stream leader says now; on one node it returns at
// once. A read that must see every node's appends (a redelivery looking up
// a dead letter journaled through another node) calls it first.
func (d *daemon) clusterCaughtUp(ctx context.Context) error {
	if d.cluster == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	head, err := d.cluster.node.Head(cctx)
	if err != nil {
		return fmt.Errorf("%w: %w", journal.ErrNoQuorum, err)
	}
	if err := d.j.WaitDurable(cctx, head); err != nil {
		return fmt.Errorf("this node's replica did not reach the stream's seq %d: %w", head, err)
	}
	return nil
}

// replicaLag is how far the replica trails the stream as last seen.
func (d *daemon) replicaLag() uint64 {
	if d.cluster == nil {
		return 0
	}
	last, local := d.cluster.node.LastSeq(), d.j.Durable()
	if last <= local {
		return 0
	}
	return last - local
}

// clusterReady is /readyz's cluster condition: a quorum answered lately and
// the replica is within --max-lag.
func (d *daemon) clusterReady() (bool, string) {
	if d.cluster == nil {
		return true, ""
	}
	if !d.cluster.following.Load() {
		return false, "checking the replica against the stream"
	}
	if d.cluster.node.Stale() {
		return false, "no quorum: the stream cannot be reached"
	}
	if lag := d.replicaLag(); lag > d.cfg.Cluster.MaxLag {
		return false, fmt.Sprintf("the replica trails the stream by %d events (--max-lag %d)", lag, d.cfg.Cluster.MaxLag)
	}
	return true, ""
}

// clusterInfo is GET /v1/cluster.
func (d *daemon) clusterInfo(w http.ResponseWriter, r *http.Request) {
	local := d.j.Durable()
	if d.cluster == nil {
		host, _ := os.Hostname() // one node: the host names it
		writeJSON(w, http.StatusOK, map[string]any{"node": host, "mode": "single", "last_seq": local, "local_seq": local})
		return
	}
	writeJSON(w, http.StatusOK, d.cluster.node.Info(r.Context(), local, 2*time.Second))
}

// clusterBatchLimit refuses, in cluster mode, an atomic append larger than
// one JetStream atomic batch.
func (d *daemon) clusterBatchLimit(n int, atomic bool) *event.Error {
	if d.cluster == nil || !atomic || n <= clusterMaxAtomic {
		return nil
	}
	e := event.Errorf(event.CodeBatchTooLarge, "", fmt.Sprintf("in cluster mode at most %d events per atomic append; split the batch or send ?atomic=false", clusterMaxAtomic),
		"atomic batch of %d events", n)
	e.Index = -1
	return e
}

// clusterRefusal is the answer to an append the stream did not take, or
// nil for an error that is not cluster mode's.
func clusterRefusal(err error) *event.Error {
	switch {
	case errors.Is(err, journal.ErrPublishUnknown):
		return event.Errorf(event.CodeOutcomeUnknown, "", "retry with the same ids, which is safe: a repeat is answered as a duplicate",
			"the cluster did not confirm the append in time; it may or may not have landed: %v", err)
	case errors.Is(err, journal.ErrNoQuorum):
		return event.Errorf(event.CodeUnavailable, "", "nothing of this request was journaled; retry later, or on another node",
			"the cluster cannot take appends (no quorum): %v", err)
	case errors.Is(err, journal.ErrHeadMoved):
		return event.Errorf(event.CodeUnavailable, "", "nothing of this request was journaled; retry",
			"other nodes kept appending ahead of this one until the retries ran out: %v", err)
	}
	return nil
}

package cluster

import (
	"context"
	"time"
)

// Peer is one other replica of the stream as the stream leader sees it.
type Peer struct {
	Name     string `json:"name"`
	Current  bool   `json:"current"`
	Lag      uint64 `json:"lag"`
	ActiveMs int64  `json:"active_ms"`
}

// Info is this node's view of the cluster (GET /v1/cluster).
type Info struct {
	Node     string `json:"node"`
	Mode     string `json:"mode"`
	Stream   string `json:"stream"`
	Replicas int    `json:"replicas"`
	Leader   string `json:"stream_leader"`
	LastSeq  uint64 `json:"last_seq"`
	LocalSeq uint64 `json:"local_seq"`
	Peers    []Peer `json:"peers"`
	// Stale is set when the stream could not be asked (no quorum): the
	// figures are the last known and reads come from the local replica.
	Stale bool `json:"stale"`
}

// Info asks the stream leader for the stream's state; without an answer
// within timeout it returns the last known figures with Stale set.
func (n *Node) Info(ctx context.Context, localSeq uint64, timeout time.Duration) Info {
	out := Info{Node: n.cfg.Name, Mode: "cluster", Stream: n.cfg.Stream, Replicas: n.cfg.Replicas,
		LocalSeq: localSeq, Peers: []Peer{}}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := n.stream.Info(ictx)
	if err != nil {
		n.stale.Store(true)
		out.Stale = true
		out.LastSeq = max(n.lastSeq.Load(), localSeq)
		if l := n.leader.Load(); l != nil {
			out.Leader = *l
		}
		return out
	}
	n.lastSeq.Store(info.State.LastSeq)
	out.LastSeq = info.State.LastSeq
	reachable := 1 // the leader that answered
	if c := info.Cluster; c != nil {
		n.setLeader(c.Leader)
		out.Leader = c.Leader
		if c.Leader == "" {
			reachable = 0
		}
		for _, p := range c.Replicas {
			out.Peers = append(out.Peers, Peer{Name: p.Name, Current: p.Current, Lag: p.Lag, ActiveMs: p.Active.Milliseconds()})
			if p.Current && !p.Offline {
				reachable++
			}
		}
	}
	// The leader may answer a while after it lost its followers: the
	// stream has a quorum only while a majority of its replicas is current.
	out.Stale = reachable < n.cfg.Replicas/2+1
	n.stale.Store(out.Stale)
	return out
}

// Stale reports whether the stream was unreachable at the last attempt.
func (n *Node) Stale() bool { return n.stale.Load() }

// LastSeq is the stream's last seq as last seen (by a publish, the
// follower or Info).
func (n *Node) LastSeq() uint64 { return n.lastSeq.Load() }

// LeaderChanges counts the stream leader changes this node has seen.
func (n *Node) LeaderChanges() uint64 { return n.leaderChanges.Load() }

// Leader is the stream leader as last seen ("" when unknown).
func (n *Node) Leader() string {
	if l := n.leader.Load(); l != nil {
		return *l
	}
	return ""
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// Replica is the local journal as Follow feeds it (*journal.Journal).
type Replica interface {
	// Durable is the replica's last seq.
	Durable() uint64
	// Replicate applies stream events in order (journal.Replicate).
	Replicate(ctx context.Context, evs []event.Event) error
}

var _ Replica = (*journal.Journal)(nil)

// followBatch is the most events one Replicate call carries.
const followBatch = 1000

// CheckReplica refuses a replica that holds seqs the stream does not: a data
// directory of another cluster, or a stream that was recreated.
//
// The stream's head is asked until ctx ends: a JetStream API request right
// after start (or during an election) may go unanswered, so each attempt
// has its own short timeout.
func (n *Node) CheckReplica(ctx context.Context, r Replica) error {
	var head uint64
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		h, err := n.Head(actx)
		cancel()
		if err == nil {
			head = h
			break
		}
		n.log.Debug("asking the stream's head again", "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
	if local := r.Durable(); local > head {
		return fmt.Errorf("%w: %s holds seqs up to %d, stream %s ends at %d; start this node with an empty data directory",
			ErrReplicaAhead, n.cfg.DataDir, local, n.cfg.Stream, head)
	}
	return nil
}

// Following the stream after its leader is lost: the follower's consumer
// lives on one server (R1, as an ordered consumer's), usually the stream
// leader's, and goes with it. nats.go's ordered consumer notices that after
// two missed heartbeats of 5 s, then recreates itself with requests of 10 s
// that an election leaves unanswered: a node's replica stood still for
// 10 s and more after the leader's election, and appends through the node
// with it (they wait for the replica to reach the head). Follow instead runs
// its own consumer of the same kind with a 1 s heartbeat and recreates it
// with requests of followRequest, so that it follows the new leader within
// about a second of its election.
const (
	followHeartbeat = time.Second
	followExpiry    = 4 * followHeartbeat // a pull request's life (> 2 heartbeats)
	followRequest   = 2 * time.Second     // one attempt to create the consumer
	followBackoff   = 100 * time.Millisecond
	followMaxWait   = time.Second // the longest wait between two attempts
)

// Follow feeds the replica every stream event after its last seq, in order,
// until ctx ends: an ephemeral consumer from Durable()+1 (AckNone, R1, in
// memory, like an ordered consumer), recreated after any failure (a missed
// heartbeat, a leader election, a lost quorum). It returns ctx's error, or
// ErrCodec for a message that is not a journaled event.
func (n *Node) Follow(ctx context.Context, r Replica) error {
	backoff := followBackoff
	for ctx.Err() == nil {
		from := r.Durable()
		err := n.follow(ctx, r)
		if errors.Is(err, ErrCodec) {
			return err
		}
		if ctx.Err() != nil {
			break
		}
		if r.Durable() > from {
			backoff = followBackoff // it went on: this failure is a new one
		}
		n.log.Debug("following the stream again", "err", err, "local_seq", r.Durable(), "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, followMaxWait)
	}
	return ctx.Err()
}

func (n *Node) follow(ctx context.Context, r Replica) error {
	cctx, cancel := context.WithTimeout(ctx, followRequest)
	cons, err := n.js.CreateConsumer(cctx, n.cfg.Stream, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       r.Durable() + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: 30 * time.Second, // one left behind (its server unreachable) goes
		Replicas:          1,
		MemoryStorage:     true,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("create the follower's consumer: %w", err)
	}
	name := cons.CachedInfo().Name
	defer func() {
		// Best effort, in the background: InactiveThreshold removes it
		// otherwise.
		go func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), followRequest)
			defer cancel()
			_ = n.js.DeleteConsumer(dctx, n.cfg.Stream, name)
		}()
	}()
	it, err := cons.Messages(jetstream.PullMaxMessages(2*followBatch), jetstream.PullExpiry(followExpiry),
		jetstream.PullHeartbeat(followHeartbeat), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	batch := make([]event.Event, 0, followBatch)
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		n.lastSeq.Store(max(n.lastSeq.Load(), meta.Sequence.Stream+meta.NumPending))
		if meta.Sequence.Stream <= r.Durable() && len(batch) == 0 {
			continue // this node's own append: the replica holds it
		}
		e, err := Decode(msg.Data())
		if err != nil {
			return fmt.Errorf("stream seq %d: %w", meta.Sequence.Stream, err)
		}
		if e.Seq != meta.Sequence.Stream {
			return fmt.Errorf("%w: stream seq %d holds an event of seq %d", ErrCodec, meta.Sequence.Stream, e.Seq)
		}
		batch = append(batch, e)
		if meta.NumPending > 0 && len(batch) < followBatch {
			continue
		}
		if err := r.Replicate(ctx, batch); err != nil {
			return fmt.Errorf("replicate: %w", err)
		}
		batch = batch[:0]
	}
}

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

// Follow feeds the replica every stream event after its last seq, in order,
// until ctx ends: an ordered consumer from Durable()+1, recreated after any
// failure (a leader election, a lost quorum). It returns ctx's error, or
// ErrCodec for a message that is not a journaled event.
func (n *Node) Follow(ctx context.Context, r Replica) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.follow(ctx, r)
		if errors.Is(err, ErrCodec) {
			return err
		}
		if ctx.Err() != nil {
			break
		}
		n.log.Debug("following the stream again", "err", err, "local_seq", r.Durable())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return ctx.Err()
}

func (n *Node) follow(ctx context.Context, r Replica) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	cons, err := n.js.OrderedConsumer(cctx, n.cfg.Stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: r.Durable() + 1})
	cancel()
	if err != nil {
		return fmt.Errorf("ordered consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * followBatch))
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

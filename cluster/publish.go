package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

var _ journal.Replicator = (*Node)(nil)

// Publish stores evs as one atomic batch on condition that the stream's last
// seq is evs[0].Seq-1 (journal.Replicator). Every message carries its
// event's id as Nats-Msg-Id.
func (n *Node) Publish(ctx context.Context, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	first, last := evs[0].Seq, evs[len(evs)-1].Seq
	msgs := make([]*nats.Msg, len(evs))
	for i := range evs {
		e := &evs[i]
		m := nats.NewMsg(Subject(e))
		m.Data = e.AppendJSON(make([]byte, 0, 256+len(e.Payload)))
		m.Header.Set(jetstream.MsgIDHeader, e.ID.String())
		msgs[i] = m
	}
	var got uint64
	var err error
	if len(msgs) == 1 {
		var ack *jetstream.PubAck
		ack, err = n.js.PublishMsg(ctx, msgs[0], jetstream.WithExpectLastSequence(first-1))
		if err == nil {
			if ack.Duplicate {
				// Stored by an earlier attempt, somewhere before the head.
				return &journal.HeadMovedError{}
			}
			got = ack.Sequence
		}
	} else {
		msgs[0].Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(first-1, 10))
		var ack *jetstreamext.BatchAck
		ack, err = jetstreamext.PublishMsgBatch(ctx, n.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false, AckTimeout: 5 * time.Second})
		if err == nil {
			got = ack.Sequence
		}
	}
	if err != nil {
		return n.publishError(err)
	}
	n.stale.Store(false)
	n.lastSeq.Store(max(n.lastSeq.Load(), got))
	if got != last {
		// Cannot happen while the stream honours the expected last seq:
		// say so rather than acknowledge seqs the stream does not hold.
		return fmt.Errorf("cluster: the stream stored the batch %d..%d ending at seq %d", first, last, got)
	}
	return nil
}

// publishError maps a failed publish onto the journal's replica errors.
func (n *Node) publishError(err error) error {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return &journal.HeadMovedError{Head: headFrom(api.Description)}
		case jetstreamext.JSErrCodeBatchPublishDuplicateMsgID:
			return &journal.HeadMovedError{}
		}
		if api.Code == 503 {
			n.stale.Store(true)
			return fmt.Errorf("%w: %w", journal.ErrNoQuorum, err)
		}
		// Any other refusal stored nothing, but is not a moved head: the
		// journal retries it as an unknown outcome, bounded.
		return fmt.Errorf("cluster: the stream refused the batch: %w", err)
	}
	if errNoQuorum(err) {
		n.stale.Store(true)
		return fmt.Errorf("%w: %w", journal.ErrNoQuorum, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		n.stale.Store(true)
	}
	return err
}

// headFrom reads M from JetStream's "wrong last sequence: M" (0 when absent).
func headFrom(desc string) uint64 {
	i := strings.LastIndex(desc, ":")
	if i < 0 {
		return 0
	}
	m, err := strconv.ParseUint(strings.TrimSpace(desc[i+1:]), 10, 64)
	if err != nil {
		return 0
	}
	return m
}

// Head returns the stream's last seq, asked of the stream leader
// (journal.Replicator).
func (n *Node) Head(ctx context.Context) (uint64, error) {
	info, err := n.stream.Info(ctx)
	if err != nil {
		if errNoQuorum(err) || errors.Is(err, context.DeadlineExceeded) {
			n.stale.Store(true)
		}
		return 0, fmt.Errorf("cluster: stream info: %w", err)
	}
	n.stale.Store(false)
	n.lastSeq.Store(info.State.LastSeq)
	if info.Cluster != nil {
		n.setLeader(info.Cluster.Leader)
	}
	return info.State.LastSeq, nil
}

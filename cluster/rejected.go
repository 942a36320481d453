package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/ringrift/ringriftd/journal"
)

// The rejected log as a replicated stream (cluster.md): RINGRIFT_REJECTED,
// the journal stream's replicas, bounded by count (the oldest dropped
// first), one message per entry (the JSON of journal.Rejection) on
// ringrift.rejected.<node>. Every node publishes the refusals it made; every
// node reads the whole log from the stream, so that each shows every
// refusal. The stream's sequence is the entry's rseq. Each node keeps its
// own refusals in its Pebble rejected log too: when the stream cannot be
// read (no quorum), that is what it shows.

// RejectedPrefix is the subject prefix of the rejected stream.
const RejectedPrefix = "ringrift.rejected."

// DefaultRejectedMax bounds the rejected stream (as the journal's
// rejected log).
const DefaultRejectedMax = 1_000_000

// rejectedStream names the rejected stream beside the journal's stream.
func rejectedStream(journalStream string) string {
	if base, ok := strings.CutSuffix(journalStream, "_JOURNAL"); ok {
		return base + "_REJECTED"
	}
	return journalStream + "_REJECTED"
}

// RejectedStream is the rejected stream's name.
func (n *Node) RejectedStream() string { return rejectedStream(n.cfg.Stream) }

func (n *Node) ensureRejectedStream(ctx context.Context) error {
	_, err := n.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.RejectedStream(),
		Description: "ringriftd rejected log: every refusal of every node (cluster.md)",
		Subjects:    []string{RejectedPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    n.cfg.Replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     int64(n.cfg.RejectedMax),
		MaxBytes:    -1,
		DenyDelete:  true,
		AllowDirect: true,
	})
	return err
}

// PublishRejected stores rejected-log entries in the rejected stream and
// waits until the stream acknowledged them (the entries' Seq is not kept:
// the stream numbers them).
func (n *Node) PublishRejected(ctx context.Context, rs []journal.Rejection) error {
	futures := make([]jetstream.PubAckFuture, 0, len(rs))
	for _, r := range rs {
		r.Seq = 0
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("cluster: rejected entry: %w", err)
		}
		f, err := n.js.PublishMsgAsync(&nats.Msg{Subject: RejectedPrefix + n.cfg.Name, Data: b})
		if err != nil {
			return fmt.Errorf("cluster: publish a rejected entry: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("cluster: publish a rejected entry: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("cluster: publish a rejected entry: %w", ctx.Err())
		}
	}
	return nil
}

// Rejected reads up to limit entries of the rejected stream from rseq from
// on (journal.Journal.Rejected's shape; Dropped counts the entries the
// bound removed).
func (n *Node) Rejected(ctx context.Context, from uint64, limit int) (journal.RejectedLog, error) {
	out := journal.RejectedLog{Entries: []journal.Rejection{}}
	s, err := n.js.Stream(ctx, n.RejectedStream())
	if err != nil {
		return out, fmt.Errorf("cluster: rejected stream: %w", err)
	}
	info := s.CachedInfo()
	if info.State.FirstSeq > 1 {
		out.Dropped = info.State.FirstSeq - 1
	}
	if from > info.State.LastSeq {
		return out, nil
	}
	msgs, err := jetstreamext.GetBatch(ctx, n.js, n.RejectedStream(), limit, jetstreamext.GetBatchSeq(max(from, 1)))
	if err != nil {
		return out, fmt.Errorf("cluster: read the rejected stream: %w", err)
	}
	for m, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("cluster: read the rejected stream: %w", err)
		}
		var r journal.Rejection
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return out, fmt.Errorf("%w: rejected entry %d: %w", ErrCodec, m.Sequence, err)
		}
		r.Seq = m.Sequence
		out.Entries = append(out.Entries, r)
		if len(out.Entries) == limit {
			break
		}
	}
	return out, nil
}

package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringrift/ringriftd/event"
)

// RawPublishRate measures the limit cluster appends are compared with (for
// cmd/bench): clients goroutines publishing synchronously, one message per
// publish with its Nats-Msg-Id, to a scratch stream configured like the
// journal's (file storage, the node's replicas), deleted afterwards. It
// returns events per second.
func (n *Node) RawPublishRate(ctx context.Context, clients, each int, mk func(k int) event.Event) (float64, error) {
	name := n.cfg.Stream + "_RAW_LIMIT"
	cfg := jetstream.StreamConfig{Name: name, Subjects: []string{"ringrift.rawlimit.>"}, Storage: jetstream.FileStorage,
		Replicas: n.cfg.Replicas, Duplicates: 2 * time.Minute}
	if _, err := n.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return 0, fmt.Errorf("cluster: scratch stream: %w", err)
	}
	defer func() { _ = n.js.DeleteStream(context.WithoutCancel(ctx), name) }()
	msgs := make([][]byte, clients*each)
	ids := make([]string, len(msgs))
	for k := range msgs {
		e := mk(k)
		msgs[k] = e.AppendJSON(nil)
		ids[k] = e.ID.String()
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := c*each + i
				if _, err := n.js.Publish(ctx, "ringrift.rawlimit.bench", msgs[k], jetstream.WithMsgID(ids[k])); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("cluster: raw publish: %w", err)
	}
	return float64(clients*each) / d.Seconds(), nil
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// A shared subscription (cluster.md "Subscriptions run once in the
// cluster"): one durable pull consumer on the journal's stream, pulled by
// every node, with at most one message in flight in the whole cluster
// (MaxAckPending 1), so that exactly one node handles each event at a time,
// in seq order. Its cursor is the consumer's ack floor, kept by JetStream
// with the stream's replicas.
//
// Attempts are counted by JetStream (a message's delivery count), less the
// deliveries this node handed back as not ready (ErrNotReady), and a dead
// letter is journaled only at a delivery where the handler itself failed:
// MaxDeliver is unlimited and the node that runs the last attempt journals
// the dead letter, then acknowledges. A dead letter that cannot be
// journaled (no quorum) leaves the message unacknowledged, to be tried again
// — it is never dropped, as a MaxDeliver limit would drop it.

// ConsumerConfig is one shared subscription. Zero fields take the defaults
// of a journal subscription (journal.SubscribeOptions).
type ConsumerConfig struct {
	// Name is the subscription's (the handler's) name.
	Name string
	// Types are the wire values of the event types it takes (none: all);
	// the consumer filters by subject (ringrift.journal.<category>.<type>).
	Types []string
	// Attempts is how many deliveries an event gets before it becomes a
	// dead letter (default 5).
	Attempts int
	// Backoff is the delay before the second attempt, doubling up to
	// MaxBackoff (defaults 100 ms, 30 s).
	Backoff, MaxBackoff time.Duration
	// AckWait is how long a node may hold an event without a sign of life
	// before JetStream gives it to another node (default 30 s). A running
	// handler keeps it alive; a node that dies holding one delays the
	// subscription by up to AckWait.
	AckWait time.Duration
	// Start is where a consumer created now starts (0 or 1: the first
	// event; nil: the first event), asked each time this node creates it —
	// at the first start, and again should the consumer have been deleted
	// (the daemon's: after the cursor this node's journal holds for the
	// subscription, which mirrors the ack floor). An existing consumer keeps
	// its ack floor.
	Start func() uint64
	// Ready says whether this node may take events now (nil: always): the
	// consumer pulls only while it is true. The daemon's is /readyz's
	// condition (its replica within --max-lag of the stream), so a node
	// catching up after an outage does not take events its replica does
	// not hold.
	Ready func() bool
	// Held is the last seq this node's replica holds (nil: no bound): the
	// cursor Through reports is never beyond it, so that a cursor the
	// daemon stores in the node's journal never skips events the journal
	// does not hold yet (a later start without cluster mode would).
	Held func() uint64
}

// ErrNotReady, wrapped in a handler's error, says the node cannot run the
// handler on the event yet (its replica does not hold it): the event is
// handed back after a short delay, for this node or another, and the
// delivery is not a failure of the handler — it is not retried as one and
// never dead-lettered for.
var ErrNotReady = errors.New("cluster: this node cannot take the event yet")

// notReadyDelay is how long a handed-back event waits (ErrNotReady).
const notReadyDelay = 250 * time.Millisecond

func (c *ConsumerConfig) fill() {
	o := journal.SubscribeOptions{Attempts: c.Attempts, Backoff: c.Backoff, MaxBackoff: c.MaxBackoff}.Filled()
	c.Attempts, c.Backoff, c.MaxBackoff = o.Attempts, o.Backoff, o.MaxBackoff
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
}

// ConsumerHandler handles a shared subscription's events on this node.
type ConsumerHandler interface {
	// Handle is one attempt at e.
	Handle(ctx context.Context, e *event.Event) error
	// DeadLetter journals that the handler gave up on e after attempts
	// deliveries, cause being the last error (journal.HandlerFailed, through
	// the cluster's append path). nil: it is journaled, or was already.
	DeadLetter(ctx context.Context, e *event.Event, cause error, attempts int) error
}

// Consumer is this node's part of a shared subscription.
type Consumer struct {
	n       *Node
	cfg     ConsumerConfig
	durable string
	filter  []string
	h       ConsumerHandler
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}

	// callMu serialises this node's runs of the handler: the consumer's and
	// a redelivery's (Call).
	callMu    sync.Mutex
	delivered atomic.Uint64
	retries   atomic.Uint64
	failed    atomic.Uint64
	panics    atomic.Uint64
	// cursor and lag as last read from the consumer's info.
	cursor atomic.Uint64
	lag    atomic.Uint64
	// handedBack counts, by stream seq, the deliveries this node handed
	// back as not ready (ErrNotReady): they are not attempts. Only the
	// pulling goroutine uses it; entries below the event taken are dropped
	// (one in flight, in order: those events are done).
	handedBack map[uint64]int
}

// Consume starts this node's part of the shared subscription cfg.Name (not
// empty): in its own goroutine, it creates the durable consumer (or finds
// it) and pulls from it until ctx ends or Close, finding it again after any
// failure. It does not wait for the consumer: a node whose stream has no
// quorum yet still starts, and its part begins once the stream answers.
func (n *Node) Consume(ctx context.Context, cfg ConsumerConfig, h ConsumerHandler) *Consumer {
	cfg.fill()
	c := &Consumer{n: n, cfg: cfg, durable: DurableName(cfg.Name), h: h, done: make(chan struct{}), handedBack: map[uint64]int{}}
	for _, t := range cfg.Types {
		c.filter = append(c.filter, Subject(&event.Event{Type: t}))
	}
	slices.Sort(c.filter)
	c.filter = slices.Compact(c.filter)
	c.log = n.log.With("subscription", cfg.Name, "consumer", c.durable)
	rctx, rcancel := context.WithCancel(ctx)
	c.cancel = rcancel
	go c.run(rctx)
	return c
}

// DurableName is the JetStream consumer of the subscription name: "sub_"
// and the name, characters a consumer name cannot hold replaced by "_"
// and a hash of the name then added (so two names never share one).
func DurableName(name string) string {
	b := []byte(name)
	clean := true
	for i, ch := range b {
		if ch <= ' ' || ch >= 0x7f || ch == '.' || ch == '*' || ch == '>' || ch == '/' || ch == '\\' {
			b[i], clean = '_', false
		}
	}
	if clean {
		return "sub_" + name
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return fmt.Sprintf("sub_%s_%08x", b, h.Sum32())
}

// config is the consumer's configuration for this subscription, starting
// at start when created.
func (c *Consumer) config(start uint64) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       c.durable,
		Description:   "ringriftd shared subscription " + c.cfg.Name + " (cluster.md)",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Metadata:      map[string]string{"ringriftd_subscription": c.cfg.Name},
	}
	if len(c.filter) == 1 {
		cc.FilterSubject = c.filter[0]
	} else {
		cc.FilterSubjects = c.filter
	}
	if start > 1 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	}
	return cc
}

// consumer finds the durable consumer (updating its filter, ack wait or
// flow when the handler's changed) or creates it.
func (c *Consumer) consumer(ctx context.Context) (jetstream.Consumer, error) {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := c.n.js.Consumer(actx, c.n.cfg.Stream, c.durable)
	if err == nil {
		have := cons.CachedInfo().Config
		if slices.Equal(filterOf(have), c.filter) && have.AckWait == c.cfg.AckWait && have.MaxAckPending == 1 && have.MaxDeliver == -1 {
			return cons, nil
		}
		want := c.config(0)
		// What an update may not change stays as it was created.
		want.DeliverPolicy, want.OptStartSeq = have.DeliverPolicy, have.OptStartSeq
		c.log.Warn("updating the shared subscription's consumer", "filter", c.filter, "was", filterOf(have))
		return c.n.js.UpdateConsumer(actx, c.n.cfg.Stream, want)
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, err
	}
	// Another node creating it at once with another start is refused as
	// existing: the next round finds it.
	var start uint64
	if c.cfg.Start != nil {
		start = c.cfg.Start()
	}
	c.log.Info("creating the shared subscription's consumer", "start", max(start, 1))
	return c.n.js.CreateConsumer(actx, c.n.cfg.Stream, c.config(start))
}

func filterOf(cc jetstream.ConsumerConfig) []string {
	f := slices.Clone(cc.FilterSubjects)
	if cc.FilterSubject != "" {
		f = append(f, cc.FilterSubject)
	}
	slices.Sort(f)
	return f
}

// run pulls one event at a time until ctx ends, finding the consumer
// (again after any failure: an election, a lost quorum).
func (c *Consumer) run(ctx context.Context) {
	defer close(c.done)
	backoff := 100 * time.Millisecond
	for {
		cons, err := c.consumer(ctx)
		if err == nil {
			backoff = 100 * time.Millisecond
			c.noteInfo(cons.CachedInfo(), 0)
			err = c.pull(ctx, cons)
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("the shared subscription pulls again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// pull takes the consumer's events one by one, while the node is ready.
// A pull waits at most a second at the server, so that a stopping node
// never holds a pull request the server could answer after it left (that
// event would wait AckWait).
func (c *Consumer) pull(ctx context.Context, cons jetstream.Consumer) error {
	for ctx.Err() == nil {
		if c.cfg.Ready != nil && !c.cfg.Ready() {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
			continue
		}
		if err != nil {
			return err
		}
		c.take(ctx, msg)
	}
	return ctx.Err()
}

// take is one delivery of one event: handled and acknowledged, or handed
// back with a delay (a retry), or — at the last attempt — dead-lettered and
// acknowledged.
func (c *Consumer) take(ctx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		c.log.Warn("a message without JetStream metadata", "err", err)
		_ = msg.Nak()
		return
	}
	if ctx.Err() != nil {
		_ = msg.Nak() // stopping: another node takes it now
		return
	}
	e, err := Decode(msg.Data())
	if err != nil {
		// Not an event of the journal (Follow stops on it): nothing to
		// hand to the handler, nor to name in a dead letter.
		c.log.Warn("skipping a stream message that is not a journaled event", "stream_seq", meta.Sequence.Stream, "err", err)
		_ = msg.Term()
		return
	}
	seq := meta.Sequence.Stream
	for s := range c.handedBack {
		if s < seq {
			delete(c.handedBack, s)
		}
	}
	// The attempt: JetStream's delivery count less this node's hand-backs
	// (docs/cluster.md "attempts" says what else it counts).
	attempt := max(int(meta.NumDelivered)-c.handedBack[seq], 1)
	// Alive until the event is acknowledged or handed back: through the
	// handler, the dead letter (up to 30 s) and the ack.
	defer c.keepAlive(msg)()
	err = c.Call(ctx, &e)
	switch {
	case err == nil:
		c.delivered.Add(1)
		c.ack(ctx, msg, &e)
	case ctx.Err() != nil:
		_ = msg.Nak() // stopping: not a failure of the handler
	case errors.Is(err, ErrNotReady):
		c.log.Debug("handing an event back: this node cannot take it yet", "seq", e.Seq, "err", err)
		c.handedBack[seq]++
		_ = msg.NakWithDelay(notReadyDelay)
	case attempt < c.cfg.Attempts:
		c.retries.Add(1)
		_ = msg.NakWithDelay(c.backoff(attempt))
	default:
		c.failed.Add(1)
		c.log.Warn("handler failed; writing a dead letter", "seq", e.Seq, "attempts", attempt, "err", err)
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		derr := c.h.DeadLetter(dctx, &e, err, attempt)
		cancel()
		if derr != nil {
			// Not journaled: the event stays unacknowledged and its next
			// delivery (here or on another node) tries once more.
			c.log.Warn("writing the dead letter; the event will be delivered again", "seq", e.Seq, "err", derr)
			_ = msg.NakWithDelay(c.backoff(attempt))
			return
		}
		c.ack(ctx, msg, &e)
	}
}

// keepAlive tells JetStream the node is working on msg every AckWait/3
// until the returned stop is called (and waits for it), so that a long
// handler or dead letter does not lose the event to another node.
func (c *Consumer) keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var alive sync.WaitGroup
	alive.Add(1)
	go func() {
		defer alive.Done()
		t := time.NewTicker(c.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() {
		close(done)
		alive.Wait()
	}
}

// ack acknowledges and waits for the server's confirmation: the ack floor
// (the cursor) has moved once it returns. An unconfirmed ack means the
// event may be delivered again (at-least-once).
func (c *Consumer) ack(ctx context.Context, msg jetstream.Msg, e *event.Event) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		c.log.Warn("acknowledgement not confirmed; the event may be delivered again", "seq", e.Seq, "err", err)
		return
	}
	c.cursor.Store(c.bound(max(c.cursor.Load(), e.Seq)))
}

// backoff is the delay before the attempt after attempt.
func (c *Consumer) backoff(attempt int) time.Duration {
	d := c.cfg.Backoff
	for i := 1; i < attempt && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.cfg.MaxBackoff)
}

// Call runs the handler once on e, serialised with the node's other runs
// of it, a panic turned into an error. Redeliveries of dead letters use it.
func (c *Consumer) Call(ctx context.Context, e *event.Event) (err error) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			c.panics.Add(1)
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return c.h.Handle(ctx, e)
}

// Stats are the subscription's figures: cursor (Through's: the ack floor,
// or the stream's last seq when nothing of its types waits, never beyond
// this node's replica) and lag (its events not yet acknowledged: pending
// and in flight) as the stream's leader for the consumer says, asked within
// ctx, or as last known; the counts are this node's.
func (c *Consumer) Stats(ctx context.Context) journal.SubscriptionStats {
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	last := c.n.LastSeq()
	if cons, err := c.n.js.Consumer(ictx, c.n.cfg.Stream, c.durable); err == nil {
		c.noteInfo(cons.CachedInfo(), last)
	}
	return journal.SubscriptionStats{Name: c.cfg.Name, Cursor: c.cursor.Load(), Lag: c.lag.Load(),
		Delivered: c.delivered.Load(), Retries: c.retries.Load(), Failed: c.failed.Load(), Panics: c.panics.Load()}
}

// Through is the seq up to which every event of the subscription is
// handled, asked now: the ack floor, or — when nothing of its types is
// pending or in flight — the stream's last seq as this node saw it before
// asking (events of other types do not wait for it). ok is false when the
// consumer could not be asked within ctx.
func (c *Consumer) Through(ctx context.Context) (seq uint64, ok bool) {
	last := c.n.LastSeq()
	cons, err := c.n.js.Consumer(ctx, c.n.cfg.Stream, c.durable)
	if err != nil {
		return 0, false
	}
	return c.noteInfo(cons.CachedInfo(), last), true
}

// noteInfo keeps the cursor (Through's) and lag of info, asked after the
// stream's last seq was last, and returns the cursor.
func (c *Consumer) noteInfo(info *jetstream.ConsumerInfo, last uint64) uint64 {
	if info == nil {
		return c.cursor.Load()
	}
	seq := info.AckFloor.Stream
	if info.NumPending == 0 && info.NumAckPending == 0 {
		seq = max(seq, last)
	}
	seq = c.bound(seq)
	c.cursor.Store(seq)
	c.lag.Store(info.NumPending + uint64(max(info.NumAckPending, 0)))
	return seq
}

// bound is seq, or the last seq this node's replica holds if less (Held).
func (c *Consumer) bound(seq uint64) uint64 {
	if c.cfg.Held != nil {
		return min(seq, c.cfg.Held())
	}
	return seq
}

// Close stops this node's part of the subscription and waits for it: an
// event it held is handed back at once, for another node (or the next
// start) to take. The consumer and its ack floor stay.
func (c *Consumer) Close() {
	c.cancel()
	<-c.done
}

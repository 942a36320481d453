package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Forwarding appends to the node that sequences (cluster.md: "A node may
// instead forward appends to the node that currently sequences"). With every
// node publishing its own groups, most groups meet a moved head and are
// retried; with the appends forwarded to the stream leader's node, one
// sequencer publishes and its group commit becomes one atomic batch.
//
// The forward is a NATS request on ForwardSubject(node) carrying the HTTP
// request's body, content type, query and the client's remote address; the
// reply carries the HTTP answer (status, content type, body), which the
// forwarding node gives the client unchanged. Forwarding is an optimisation
// only: the node that takes a forwarded append runs it exactly as a local
// one (the head check and retry), whether or not it still sequences.

// ForwardPrefix is the subject prefix of forwarded appends.
const ForwardPrefix = "ringrift.append."

// Headers of a forwarded append and of its answer.
const (
	hdrQuery       = "Ringrift-Query"
	hdrRemote      = "Ringrift-Remote"
	hdrContentType = "Content-Type"
	hdrStatus      = "Ringrift-Status"
	// hdrDeclined in an answer: the node did not take the append (not
	// ready); nothing of it was journaled.
	hdrDeclined = "Ringrift-Declined"
	// hdrProbe in a request: is the node still there? (answered at once,
	// without running anything)
	hdrProbe = "Ringrift-Probe"
)

// Probing the node a forwarded append waits on: a node that died with the
// append in flight never answers, and with appends forwarded to the leader's
// node nearly every append in flight is there when it dies. A probe without
// responders (or probeMisses unanswered probes) ends the wait early with
// ErrForwardUnknown, so that clients retry after an election, not after the
// forward's whole timeout.
const (
	probeEvery  = 500 * time.Millisecond
	probeMisses = 4
)

// ForwardSubject is the subject on which node takes forwarded appends.
func ForwardSubject(node string) string { return ForwardPrefix + node }

// Forwarded is an append request as forwarded, and the answer to it.
type Forwarded struct {
	// Request: the body, its content type, the raw query (?atomic) and
	// the client's address.
	Body        []byte
	ContentType string
	Query       string
	Remote      string
}

// Answer is the HTTP answer to a forwarded append: its status, headers
// and body, given to the client unchanged.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// AppendHandler runs a forwarded append on this node. declined: the node
// does not take appends now (nothing was journaled; the sender runs the
// append itself).
type AppendHandler func(ctx context.Context, req Forwarded) (ans Answer, declined bool)

// ServeAppends takes appends forwarded to this node, each in its own
// goroutine (so that the sequencer groups them), each bounded by timeout.
// It returns a function that stops taking them.
func (n *Node) ServeAppends(timeout time.Duration, h AppendHandler) (stop func(), err error) {
	sub, err := n.nc.Subscribe(ForwardSubject(n.cfg.Name), func(m *nats.Msg) {
		if m.Header != nil && m.Header.Get(hdrProbe) != "" {
			_ = m.Respond(nil)
			return
		}
		go n.serveAppend(m, timeout, h)
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe %s: %w", ForwardSubject(n.cfg.Name), err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

func (n *Node) serveAppend(m *nats.Msg, timeout time.Duration, h AppendHandler) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req := Forwarded{Body: m.Data}
	if m.Header != nil {
		req.ContentType, req.Query, req.Remote = m.Header.Get(hdrContentType), m.Header.Get(hdrQuery), m.Header.Get(hdrRemote)
	}
	ans, declined := h(ctx, req)
	r := nats.NewMsg(m.Reply)
	if declined {
		r.Header.Set(hdrDeclined, "1")
	} else {
		for k, vs := range ans.Header {
			r.Header[k] = vs
		}
		r.Header.Set(hdrStatus, strconv.Itoa(ans.Status))
		r.Data = ans.Body
	}
	if err := m.RespondMsg(r); err != nil {
		// The sender times out and answers outcome_unknown: honest.
		n.log.Warn("answering a forwarded append", "err", err)
	}
}

// requestProbing sends m and waits for its answer, probing node meanwhile:
// when node is gone the wait ends with ErrForwardUnknown.
func (n *Node) requestProbing(ctx context.Context, node string, m *nats.Msg) (*nats.Msg, error) {
	type answer struct {
		r   *nats.Msg
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan answer, 1)
	go func() {
		r, err := n.nc.RequestMsgWithContext(ctx, m)
		done <- answer{r, err}
	}()
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	misses := 0
	for {
		select {
		case a := <-done:
			return a.r, a.err
		case <-t.C:
		}
		p := nats.NewMsg(ForwardSubject(node))
		p.Header.Set(hdrProbe, "1")
		pctx, pcancel := context.WithTimeout(ctx, probeEvery)
		_, err := n.nc.RequestMsgWithContext(pctx, p)
		pcancel()
		switch {
		case err == nil:
			misses = 0
		case errors.Is(err, nats.ErrNoResponders):
			return nil, fmt.Errorf("%w: node %s went away while the append was in flight", ErrForwardUnknown, node)
		case ctx.Err() == nil:
			if misses++; misses >= probeMisses {
				return nil, fmt.Errorf("%w: node %s stopped answering while the append was in flight", ErrForwardUnknown, node)
			}
		}
	}
}

// MaxForward is the largest body Forward sends (the connection's payload
// limit less room for the headers); a larger append runs locally.
func (n *Node) MaxForward() int {
	return int(n.nc.MaxPayload()) - 8<<10
}

// Forward sends an append to node and waits up to timeout for its answer.
// Errors: ErrForwardNotTaken (nothing was journaled: no node took it, or the
// node declined; run it locally), ErrForwardUnknown (sent, no answer: it may
// or may not have landed).
func (n *Node) Forward(ctx context.Context, node string, req Forwarded, timeout time.Duration) (Answer, error) {
	if len(req.Body) > n.MaxForward() {
		return Answer{}, fmt.Errorf("%w: a body of %d bytes", ErrForwardNotTaken, len(req.Body))
	}
	m := nats.NewMsg(ForwardSubject(node))
	m.Data = req.Body
	m.Header.Set(hdrContentType, req.ContentType)
	m.Header.Set(hdrQuery, req.Query)
	m.Header.Set(hdrRemote, req.Remote)
	// The client going away does not stop the append at the other node:
	// the wait is bounded by timeout alone, so that the answer (logged
	// and counted there) is not cut short here.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	r, err := n.requestProbing(rctx, node, m)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return Answer{}, fmt.Errorf("%w: no node %s listens: %w", ErrForwardNotTaken, node, err)
	case errors.Is(err, nats.ErrMaxPayload):
		return Answer{}, fmt.Errorf("%w: %w", ErrForwardNotTaken, err)
	case err != nil:
		return Answer{}, fmt.Errorf("%w: forwarded to %s: %w", ErrForwardUnknown, node, err)
	}
	if r.Header.Get(hdrDeclined) != "" {
		return Answer{}, fmt.Errorf("%w: node %s declined it", ErrForwardNotTaken, node)
	}
	status, err := strconv.Atoi(r.Header.Get(hdrStatus))
	if err != nil || status < 100 || status > 599 {
		return Answer{}, fmt.Errorf("%w: node %s answered without a status (%q)", ErrForwardUnknown, node, r.Header.Get(hdrStatus))
	}
	h := http.Header(r.Header).Clone()
	h.Del(hdrStatus)
	return Answer{Status: status, Header: h, Body: r.Data}, nil
}

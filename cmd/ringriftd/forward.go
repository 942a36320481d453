package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ringrift/ringriftd/cluster"
	"github.com/ringrift/ringriftd/event"
)

// Appends forwarded to the sequencing node (cluster.md allows it; see
// cluster/forward.go). A node that is not the stream leader's forwards a
// client's POST /v1/events to the stream leader's node over NATS and answers
// the client with exactly that node's answer. Nothing depends on it for
// correctness: the node that takes a forwarded append runs it like a local
// one (the head check and retry), and an append that no node took runs
// locally.

// forwardSlack is how much longer than the journal's retries a forwarded
// append may take (the last publish's timeout and catching up).
const forwardSlack = 15 * time.Second

// forwardTimeout bounds a forwarded append.
func (d *daemon) forwardTimeout() time.Duration {
	retry := d.cfg.Cluster.RetryFor
	if retry <= 0 {
		retry = 15 * time.Second // the journal's default
	}
	return retry + forwardSlack
}

// forwardAppends wraps POST /v1/events: in cluster mode, on a node other
// than the stream leader's, the append is forwarded there.
func (d *daemon) forwardAppends(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cs := d.cluster
		if cs == nil || cs.noForward {
			next(w, r)
			return
		}
		to := cs.node.Leader()
		if to == "" || to == cs.node.Name() {
			next(w, r)
			return
		}
		limit := min(int64(cs.node.MaxForward()), d.cfg.MaxBody)
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil || int64(len(body)) > limit {
			// Too large to forward (or unreadable): the local path
			// answers it, reading the rest.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
			next(w, r)
			return
		}
		ans, err := cs.node.Forward(r.Context(), to, cluster.Forwarded{Body: body,
			ContentType: r.Header.Get("Content-Type"), Query: r.URL.RawQuery, Remote: r.RemoteAddr}, d.forwardTimeout())
		switch {
		case err == nil:
			cs.forwards.WithLabelValues("answered").Inc()
			for k, vs := range ans.Header {
				w.Header()[k] = vs
			}
			w.WriteHeader(ans.Status)
			_, _ = w.Write(ans.Body)
		case errors.Is(err, cluster.ErrForwardNotTaken):
			// Nothing was journaled: run it here, at the head.
			cs.forwards.WithLabelValues("not_taken").Inc()
			d.log.Debug("forwarded append not taken; appending locally", "to", to, "err", err)
			r.Body = io.NopCloser(bytes.NewReader(body))
			next(w, r)
		default:
			cs.forwards.WithLabelValues("unknown").Inc()
			d.log.Warn("forwarded append without an answer", "to", to, "err", err)
			writeRequestRefusal(w, event.Errorf(event.CodeOutcomeUnknown, "", "retry with the same ids, which is safe: a repeat is answered as a duplicate",
				"the append was forwarded to the sequencing node %s, which did not answer in time; it may or may not have landed: %v", to, err))
		}
	}
}

// serveForwarded runs an append another node forwarded here, exactly as
// POST /v1/events (the client was authenticated by that node). It declines
// while this node cannot take appends (catching up, not yet following the
// stream): the sender then appends itself.
func (d *daemon) serveForwarded(ctx context.Context, req cluster.Forwarded) (cluster.Answer, bool) {
	if !d.ready.Load() || !d.cluster.following.Load() {
		return cluster.Answer{}, true
	}
	r, err := forwardedRequest(ctx, req)
	if err != nil {
		return cluster.Answer{}, true
	}
	rec := &answerRecorder{h: http.Header{}}
	d.appendEvents(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return cluster.Answer{Status: rec.status, Header: rec.h, Body: rec.body.Bytes()}, false
}

// forwardedRequest is the POST /v1/events a forwarded append stands for,
// its context marked as forwarded.
func forwardedRequest(ctx context.Context, req cluster.Forwarded) (*http.Request, error) {
	ctx = context.WithValue(ctx, forwardedKey{}, true)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/v1/events?"+req.Query, bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	if req.ContentType != "" {
		r.Header.Set("Content-Type", req.ContentType)
	}
	r.RemoteAddr = req.Remote
	return r, nil
}

// forwardedKey marks the context of an append forwarded from another node.
type forwardedKey struct{}

// answerWhenStored says whether the append of ctx is answered as soon as the
// stream stored it (journal.AppendOptions.AnswerWhenStored): a forwarded
// append is, since its client reads from the node that forwarded it, whose
// replica follows the stream anyway; waiting here for this replica's fsync
// would only delay the answer (docs/cluster.md, "Performance"). An append
// taken here directly still waits, so that what it answers is readable here.
func answerWhenStored(ctx context.Context) bool {
	v, _ := ctx.Value(forwardedKey{}).(bool)
	return v
}

// answerRecorder keeps the answer of a forwarded append.
type answerRecorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header { return a.h }

func (a *answerRecorder) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(b)
}

package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// appendRequest is a decoded POST /v1/events.
type appendRequest struct {
	atomic bool
	remote string
	items  []event.Item
}

// appendEvents is POST /v1/events: one event, a JSON array or NDJSON;
// atomic unless ?atomic=false. Every refusal lands in the rejected log.
// The answer is an event.AppendAnswer (daemon.md).
func (d *daemon) appendEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req, ok := d.decodeAppend(w, r)
	if !ok {
		return
	}
	ans := event.AppendAnswer{Results: make([]event.AppendResult, len(req.items)), Decisions: []event.DecisionRef{}}
	evs, at, refused := d.refuseInvalid(req, ans.Results)
	if req.atomic && len(refused) > 0 {
		d.metrics.results(0, 0, refused)
		writeRefusal(w, refused[0])
		return
	}
	var res []journal.Result
	if len(evs) > 0 {
		var err error
		res, err = d.j.Append(r.Context(), evs, journal.AppendOptions{Atomic: req.atomic, Validated: true, Remote: req.remote,
			AnswerWhenStored: answerWhenStored(r.Context())})
		if ref, ok := event.AsError(err); ok {
			ref.Index = at[ref.Index]
			d.metrics.results(0, 0, []*event.Error{ref})
			writeRefusal(w, ref)
			return
		}
		if err != nil {
			d.unavailable(w, err)
			return
		}
	}
	appended, dups, journalRefused := d.answer(res, at, &ans)
	d.metrics.results(appended, dups, append(refused, journalRefused...))
	d.metrics.appendDur.Observe(time.Since(start).Seconds())
	// What writeJSON would write (Encoder: a newline after the value),
	// without reflection.
	b := ans.AppendJSON(make([]byte, 0, 64+80*len(ans.Results)+160*len(ans.Decisions)))
	writeRaw(w, append(b, '\n'))
}

// decodeAppend reads and decodes the request: ?atomic, the body within
// --max-body, at most --max-batch events. ok is false after answering a
// request that is refused as a whole (and recording it).
func (d *daemon) decodeAppend(w http.ResponseWriter, r *http.Request) (req appendRequest, ok bool) {
	req = appendRequest{atomic: true, remote: r.RemoteAddr}
	if !d.ready.Load() {
		writeRequestRefusal(w, catchingUp())
		return req, false
	}
	if v := r.URL.Query().Get("atomic"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			badParam(w, "atomic", v, "true or false")
			return req, false
		}
		req.atomic = b
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, d.cfg.MaxBody), min(r.ContentLength, d.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.refuseWhole(w, req.remote, body, event.Errorf(event.CodeBatchTooLarge, "", fmt.Sprintf("a body of at most %d bytes; split the batch", d.cfg.MaxBody),
				"request body over %d bytes", d.cfg.MaxBody))
			return req, false
		}
		writeError(w, http.StatusBadRequest, string(event.CodeInvalidJSON), "", "reading the body: "+err.Error(), "send the whole body")
		return req, false
	}
	items, werr := d.validator.DecodeBody(body)
	if werr == nil && len(items) > d.cfg.MaxBatch {
		werr = event.Errorf(event.CodeBatchTooLarge, "", fmt.Sprintf("at most %d events per request; split the batch", d.cfg.MaxBatch),
			"batch of %d events", len(items))
		werr.Index = -1
	}
	if werr == nil {
		werr = d.clusterBatchLimit(len(items), req.atomic)
	}
	if werr != nil {
		d.refuseWhole(w, req.remote, body, werr)
		return req, false
	}
	req.items = items
	return req, true
}

// maxBodyHint bounds the buffer readBody sizes from a Content-Length in
// advance: a larger body grows it as it arrives.
const maxBodyHint = 4 << 20

// readBody is io.ReadAll with the buffer sized from the request's
// Content-Length (size; -1 when unknown), so that a batch of 1,000 events
// is not copied through a dozen doublings on its way in.
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		size = 512
	}
	size = min(size, maxBodyHint)
	b := make([]byte, 0, size+1) // +1: room to see EOF without growing
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// refuseInvalid sorts the items: the events to append (with the item index
// of each) and the refusals of the items that did not decode or validate,
// which it records in the rejected log and sets in results. An atomic
// request stops at its first refusal, recorded alone: it refuses the
// request.
func (d *daemon) refuseInvalid(req appendRequest, results []event.AppendResult) (evs []event.Event, at []int, refused []*event.Error) {
	evs = make([]event.Event, 0, len(req.items))
	at = make([]int, 0, len(req.items))
	var rejections []journal.Rejection
	for i := range req.items {
		it := &req.items[i]
		if it.Err == nil {
			evs = append(evs, it.Event)
			at = append(at, i)
			continue
		}
		it.Err.Index = i
		rej := journal.Rejection{Code: it.Err.Code, Index: i, Field: it.Err.Field, Message: it.Err.Message, Hint: it.Err.Hint, Raw: string(it.Raw), Remote: req.remote}
		if req.atomic {
			rej.Batch = len(req.items)
			d.record(rej)
			return nil, nil, []*event.Error{it.Err}
		}
		rejections = append(rejections, rej)
		refused = append(refused, it.Err)
		results[i] = event.AppendResult{Index: i, Status: "refused", Error: it.Err}
	}
	if len(rejections) > 0 {
		d.record(rejections...)
	}
	return evs, at, refused
}

// answer fills ans from the journal's results (res[k] is item at[k]) and
// the decisions the appended events caused; it returns the counts and the
// refusals of the sequencer.
func (d *daemon) answer(res []journal.Result, at []int, ans *event.AppendAnswer) (appended, dups int, refused []*event.Error) {
	for k, rr := range res {
		i := at[k]
		out := event.AppendResult{Index: i, Status: rr.Status.String(), Seq: rr.Seq}
		if rr.ID != (ulid.ULID{}) {
			out.ID = rr.ID.String()
		}
		switch rr.Status {
		case journal.Appended:
			appended++
		case journal.Duplicate:
			dups++
		case journal.Refused:
			rr.Refusal.Index = i
			out.Error = rr.Refusal
			refused = append(refused, rr.Refusal)
		}
		ans.Results[i] = out
	}
	ans.Decisions = d.decisions(res, ans.Decisions)
	return appended, dups, refused
}

// decisionGap is how far apart (in seqs) the decisions of two appended
// events may lie and still be read by one journal scan: opening and
// seeking an iterator costs about as much as decoding a few dozen records.
const decisionGap = 32

// seqRange is the seqs first…last.
type seqRange struct{ first, last uint64 }

// decisions appends to out the decisions the appended events of res caused
// (those of an event hold the seqs right after it), in the order of res. The
// decisions of nearby events are read by one journal scan, not one read
// per event (the answer of a batch of 1,000 events used to seek ~150
// times).
func (d *daemon) decisions(res []journal.Result, out []event.DecisionRef) []event.DecisionRef {
	var run []seqRange // ascending, each within decisionGap of the last
	for _, rr := range res {
		if rr.Status != journal.Appended || rr.Decisions == 0 {
			continue
		}
		r := seqRange{rr.Seq + 1, rr.Seq + uint64(rr.Decisions)}
		if n := len(run); n > 0 && (r.first <= run[n-1].last || r.first > run[n-1].last+decisionGap) {
			out = d.readDecisions(run, out)
			run = run[:0]
		}
		run = append(run, r)
	}
	if len(run) > 0 {
		out = d.readDecisions(run, out)
	}
	return out
}

// readDecisions appends the events of the ascending ranges run, read by
// one scan from the first to the last, to out.
func (d *daemon) readDecisions(run []seqRange, out []event.DecisionRef) []event.DecisionRef {
	last := run[len(run)-1].last
	k := 0
	err := d.j.Scan(run[0].first, journal.Filter{}, func(de *event.Event) error {
		for k < len(run) && de.Seq > run[k].last {
			k++
		}
		if k == len(run) {
			return journal.ErrStop
		}
		if de.Seq >= run[k].first {
			out = append(out, event.DecisionRef{Seq: de.Seq, ID: de.ID.String(), Type: de.Type,
				CausationID: de.CausationID, ConfigKey: de.ConfigKey, NodeID: de.NodeID})
		}
		return nil
	})
	if err != nil {
		d.log.Warn("reading decisions for the answer", "from", run[0].first, "to", last, "err", err)
	}
	return out
}

// refuseWhole refuses a request as a whole (invalid JSON, too large) and
// records it.
func (d *daemon) refuseWhole(w http.ResponseWriter, remote string, body []byte, e *event.Error) {
	e.Index = -1
	d.record(journal.Rejection{Code: e.Code, Index: -1, Field: e.Field, Message: e.Message, Hint: e.Hint, Raw: string(body), Remote: remote})
	d.metrics.results(0, 0, []*event.Error{e})
	writeRefusal(w, e)
}

// record writes refusals made before the sequencer to the rejected log.
func (d *daemon) record(rs ...journal.Rejection) {
	if err := d.j.Reject(rs...); err != nil {
		d.log.Error("writing the rejected log", "err", err)
	}
}

// unavailable answers an error of the journal with what became of the
// request (journal/errors.go), so that the caller never has to guess:
// outcome_unknown (503) when storage failed after the request was handed to
// it; insufficient_storage (507) when the disk is full and nothing landed;
// unavailable (503) when nothing landed for another reason, or when a read
// failed (nothing was written then either).
func (d *daemon) unavailable(w http.ResponseWriter, err error) {
	d.log.Error("journal error", "err", err)
	if ref := clusterRefusal(err); ref != nil {
		writeRequestRefusal(w, ref)
		return
	}
	var ref *event.Error
	switch {
	case errors.Is(err, journal.ErrOutcomeUnknown):
		ref = event.Errorf(event.CodeOutcomeUnknown, "", "retry with the same ids, which is safe: what landed is answered as a duplicate",
			"storage failed before confirming this request: all of it or none of it was journaled: %v", err)
	case errors.Is(err, journal.ErrDiskFull):
		ref = event.Errorf(event.CodeInsufficientStorage, "", "nothing of this request was journaled; retry once disk space is freed",
			"the journal's disk is full: %v", err)
	case errors.Is(err, journal.ErrNotLanded):
		ref = event.Errorf(event.CodeUnavailable, "", "nothing of this request was journaled; retry later",
			"the journal cannot take appends: %v", err)
	default:
		ref = event.Errorf(event.CodeUnavailable, "", "retry later", "the journal could not answer: %v", err)
	}
	writeRequestRefusal(w, ref)
}

package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// redeliverFailure is a dead letter whose handler failed again.
type redeliverFailure struct {
	DeadLetter journal.DeadLetter `json:"dead_letter"`
	Error      string             `json:"error"`
}

// redeliver is POST /v1/subscriptions/{name}/redeliver: the handler runs
// again on the original event of one dead letter (?seq=N, the seq of its
// handler_failed event) or of every open one of that subscription (no seq,
// in seq order). Each success journals handler_redelivered naming the dead
// letter as causation_id; a failure leaves the letter open and is answered
// (500 redelivery_failed). The dead letter's seq is a query parameter; a
// body is refused, so that a {"seq": N} body never redelivers them all.
//
// In cluster mode any node takes it (docs/cluster.md "Shared
// subscriptions"): the node first catches its replica up with the stream's
// head (a dead letter journaled through another node is then found), runs
// its own instance of the handler — serialised with that node's runs of it,
// as on one node; another node may be handling the subscription's next
// event meanwhile — and journals handler_redelivered through the cluster's
// append path, with an id derived from the dead letter's: two nodes
// redelivering one letter at once journal it once, the second answering
// 409 already_redelivered.
func (d *daemon) redeliver(w http.ResponseWriter, r *http.Request) {
	if !d.ready.Load() {
		writeRequestRefusal(w, catchingUp())
		return
	}
	name := r.PathValue("name")
	sub := d.subscription(name)
	if sub == nil {
		writeError(w, http.StatusNotFound, "not_found", "name", fmt.Sprintf("no running subscription %q", name),
			"GET /v1/subscriptions lists them; a dead letter is redelivered by its handler, which must be registered")
		return
	}
	if n, _ := io.ReadFull(r.Body, make([]byte, 1)); n > 0 {
		writeError(w, http.StatusBadRequest, string(event.CodeInvalidField), "body", "redeliver takes no body",
			"name the dead letter in the query: POST /v1/subscriptions/"+name+"/redeliver?seq=N (N: the handler_failed event's seq); without seq, every open one")
		return
	}
	seq, ok := uintParam(w, r, "seq", 0, 0)
	if !ok {
		return
	}
	if err := d.clusterCaughtUp(r.Context()); err != nil {
		d.unavailable(w, err)
		return
	}
	var letters []uint64
	if seq != 0 {
		letters = []uint64{seq}
	} else {
		open, err := d.dead.Open(name)
		if err != nil {
			d.unavailable(w, err)
			return
		}
		for _, dl := range open {
			letters = append(letters, dl.Seq)
		}
	}
	done := []journal.Redelivery{}
	failed := []redeliverFailure{}
	for _, s := range letters {
		res, err := sub.redeliver(r.Context(), d.dead, s)
		switch {
		case err == nil:
			done = append(done, res)
		case errors.Is(err, journal.ErrHandlerFailed):
			failed = append(failed, redeliverFailure{DeadLetter: res.DeadLetter, Error: err.Error()})
		case errors.Is(err, journal.ErrNotDeadLetter):
			writeError(w, http.StatusNotFound, "not_found", "seq", fmt.Sprintf("seq %d is not a dead letter (handler_failed) of %s", s, name),
				"GET /v1/subscriptions lists each subscription's open dead letters with their seqs")
			return
		case errors.Is(err, journal.ErrRedelivered):
			writeError(w, http.StatusConflict, "already_redelivered", "seq", fmt.Sprintf("dead letter %d was redelivered at seq %d", s, res.Seq),
				"nothing to do; GET /v1/events/"+fmt.Sprint(res.Seq)+" shows the handler_redelivered")
			return
		default:
			d.unavailable(w, err)
			return
		}
	}
	body := map[string]any{"redelivered": done, "failed": failed}
	if len(failed) > 0 {
		body["error"] = apiError{Code: "redelivery_failed", Message: fmt.Sprintf("%d of %d dead letters failed again: %s", len(failed), len(letters), failed[0].Error),
			Hint: "the dead letters stay open; fix the cause and redeliver again"}
		writeJSON(w, http.StatusInternalServerError, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// subscription returns the running subscription of a registered handler.
func (d *daemon) subscription(name string) *registered {
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	for _, s := range d.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// openDeadLettersDesc is the gauge of open dead letters per subscription.
var openDeadLettersDesc = prometheus.NewDesc("ringriftd_subscription_dead_letters_open",
	"Dead letters (handler_failed) of the subscription that no handler_redelivered resolved yet.", []string{"subscription"}, nil)

// deadLetterCollector exports the open dead letters of every running
// subscription (0 included) and of handlers no longer running, when scraped.
type deadLetterCollector struct{ d *daemon }

func (c deadLetterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- openDeadLettersDesc }

func (c deadLetterCollector) Collect(ch chan<- prometheus.Metric) {
	open, err := c.d.dead.Open("")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(openDeadLettersDesc, err)
		return
	}
	n := map[string]int{}
	c.d.subsMu.Lock()
	for _, s := range c.d.subs {
		n[s.name] = 0
	}
	c.d.subsMu.Unlock()
	for _, dl := range open {
		n[dl.Handler]++
	}
	for name, count := range n {
		ch <- prometheus.MustNewConstMetric(openDeadLettersDesc, prometheus.GaugeValue, float64(count), name)
	}
}

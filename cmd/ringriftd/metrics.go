package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// metrics are the daemon's Prometheus metrics (daemon.md), on a registry of
// its own so that tests can run several daemons in one process.
type metrics struct {
	reg        *prometheus.Registry
	appends    *prometheus.CounterVec // by status: appended, duplicate, refused
	refusals   *prometheus.CounterVec // by code
	decisions  *prometheus.CounterVec // by policy
	byType     *prometheus.CounterVec
	appendDur  prometheus.Histogram
	syncDur    prometheus.Histogram
	batchSize  prometheus.Histogram
	httpReqs   *prometheus.CounterVec
	httpDur    *prometheus.HistogramVec
	streamSubs prometheus.Gauge
	// streamDrops: streams sent back to the journal by the fan-out.
	streamDrops prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.appends = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringriftd_events_total",
		Help: "Events posted, by what became of them (appended, duplicate, refused)."}, []string{"status"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringriftd_refusals_total",
		Help: "Refused events by refusal code."}, []string{"code"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringriftd_decisions_total",
		Help: "Decisions journaled by the policies."}, []string{"policy"})
	m.byType = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringriftd_journaled_total",
		Help: "Events journaled, by type (decisions included)."}, []string{"type"})
	m.appendDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringriftd_append_seconds",
		Help: "Time to answer an append (durable), as the HTTP caller sees it.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)})
	m.syncDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringriftd_fsync_seconds",
		Help: "Time from handing a group commit to Pebble to its fsync.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringriftd_group_commit_events",
		Help: "Events per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 15)})
	m.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringriftd_http_requests_total",
		Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ringriftd_http_request_seconds",
		Help: "HTTP request duration by route (streams excluded).", Buckets: prometheus.DefBuckets}, []string{"route"})
	m.streamSubs = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringriftd_stream_clients",
		Help: "Open SSE streams."})
	m.streamDrops = prometheus.NewCounter(prometheus.CounterOpts{Name: "ringriftd_stream_catchups_total",
		Help: "Times a slow SSE stream fell out of the shared fan-out and caught up from the journal."})
	for _, c := range []prometheus.Collector{m.appends, m.refusals, m.decisions, m.byType, m.appendDur, m.syncDur,
		m.batchSize, m.httpReqs, m.httpDur, m.streamSubs, m.streamDrops,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// admitted counts an admitted event and its decisions (sequencer goroutine).
func (m *metrics) admitted(e *event.Event, decisions []event.Event) {
	m.byType.WithLabelValues(e.Type).Inc()
	for i := range decisions {
		d := &decisions[i]
		m.byType.WithLabelValues(d.Type).Inc()
		m.decisions.WithLabelValues(d.Source[len(event.DecisionSourcePrefix):]).Inc()
	}
}

// results counts what became of posted events.
func (m *metrics) results(appended, duplicates int, refused []*event.Error) {
	m.appends.WithLabelValues("appended").Add(float64(appended))
	m.appends.WithLabelValues("duplicate").Add(float64(duplicates))
	m.appends.WithLabelValues("refused").Add(float64(len(refused)))
	for _, r := range refused {
		m.refusals.WithLabelValues(string(r.Code)).Inc()
	}
}

func (m *metrics) committed(c journal.CommitStats) {
	m.syncDur.Observe(c.Sync.Seconds())
	m.batchSize.Observe(float64(c.Events))
}

// indexLagGauge exports how many durable events the journal's secondary
// indexes do not hold yet (they are built behind the log; reads stay exact).
func indexLagGauge(j *journal.Journal) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringriftd_journal_index_lag",
		Help: "Durable events not yet in the journal's type/config/node indexes (built behind the log)."},
		func() float64 { return float64(j.IndexLag()) })
}

// subscriptions exports each subscription's cursor, lag and counts when
// scraped.
type subscriptionCollector struct {
	stats func() []journal.SubscriptionStats
	descs map[string]*prometheus.Desc
}

func newSubscriptionCollector(stats func() []journal.SubscriptionStats) *subscriptionCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("ringriftd_subscription_"+name, help, []string{"subscription"}, nil)
	}
	return &subscriptionCollector{stats: stats, descs: map[string]*prometheus.Desc{
		"cursor":    d("cursor", "Last seq the subscription handled."),
		"lag":       d("lag", "Durable events the subscription has not handled yet."),
		"delivered": d("delivered_total", "Events delivered."),
		"retries":   d("retries_total", "Handler retries."),
		"failed":    d("dead_letters_total", "Events dead-lettered as handler_failed."),
	}}
}

func (c *subscriptionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *subscriptionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stats() {
		ch <- prometheus.MustNewConstMetric(c.descs["cursor"], prometheus.GaugeValue, float64(s.Cursor), s.Name)
		ch <- prometheus.MustNewConstMetric(c.descs["lag"], prometheus.GaugeValue, float64(s.Lag), s.Name)
		ch <- prometheus.MustNewConstMetric(c.descs["delivered"], prometheus.CounterValue, float64(s.Delivered), s.Name)
		ch <- prometheus.MustNewConstMetric(c.descs["retries"], prometheus.CounterValue, float64(s.Retries), s.Name)
		ch <- prometheus.MustNewConstMetric(c.descs["failed"], prometheus.CounterValue, float64(s.Failed), s.Name)
	}
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusRecorder remembers a response's status code for the request metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (write
// deadlines of the stream).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush lets SSE flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// instrument counts and times requests of one route.
func (m *metrics) instrument(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		m.httpReqs.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		if route != "stream" {
			m.httpDur.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	}
}

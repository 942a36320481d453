package main

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// flowCollector exports, when scraped, what the machines say now: configs
// per pipeline state, nodes per recovery state, the stuck configs with how
// long they have been in their state (the live pipelines view's stuck, by
// the same clock and limits), and whether the daemon is ready with a
// healthy journal. deploy/ alerts on them.
type flowCollector struct {
	d                              *daemon
	pipelines, nodes, stuck, ready *prometheus.Desc
}

func newFlowCollector(d *daemon) *flowCollector {
	return &flowCollector{d: d,
		pipelines: prometheus.NewDesc("ringriftd_pipelines", "Configs in each pipeline state.", []string{"state"}, nil),
		nodes:     prometheus.NewDesc("ringriftd_nodes", "Nodes in each recovery state.", []string{"state"}, nil),
		stuck: prometheus.NewDesc("ringriftd_pipeline_stuck_seconds",
			"Time in its state of each config stuck past the state's limit (projections.md); absent when none is.", []string{"config", "state"}, nil),
		ready: prometheus.NewDesc("ringriftd_ready", "1 when the daemon has caught up and its journal takes appends (GET /readyz).", nil, nil),
	}
}

func (c *flowCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pipelines
	ch <- c.nodes
	ch <- c.stuck
	ch <- c.ready
}

func (c *flowCollector) Collect(ch chan<- prometheus.Metric) {
	ready := 0.0
	if c.d.ready.Load() && c.d.j.Err() == nil {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready)
	if !c.d.ready.Load() {
		return
	}
	var pipes, nodes map[string]int
	var stuck map[string]time.Duration
	states := map[string]string{}
	c.d.eng.read(func(g *engine.Engine) {
		m := g.Machines()
		pipes = stateCounts(m, flows.PipelineMachine)
		nodes = stateCounts(m, flows.RecoveryMachine)
		stuck = stuckPipelines(m, time.Now())
		for k := range stuck {
			states[k] = m.Pipeline(k).State
		}
	})
	for s, n := range pipes {
		ch <- prometheus.MustNewConstMetric(c.pipelines, prometheus.GaugeValue, float64(n), s)
	}
	for s, n := range nodes {
		ch <- prometheus.MustNewConstMetric(c.nodes, prometheus.GaugeValue, float64(n), s)
	}
	for k, age := range stuck {
		ch <- prometheus.MustNewConstMetric(c.stuck, prometheus.GaugeValue, age.Seconds(), k, states[k])
	}
}

// stateCounts counts the keys of a machine in each of its states (every
// state listed, zeros included): for the pipeline, every canonical config
// (one before its first event is in the initial state) and every other
// config seen; for recovery, every node with a state. Under the engine's
// read lock.
func stateCounts(m *flows.Machines, machine string) map[string]int {
	def, _, _ := flows.Machine(machine)
	counts := make(map[string]int, len(def.States))
	for _, s := range def.States {
		counts[s] = 0
	}
	if machine == flows.PipelineMachine {
		keys := append(event.ConfigKeys(), m.PipelineKeys()...)
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			state := def.Initial
			if p := m.Pipeline(k); p != nil {
				state = p.State
			}
			counts[state]++
		}
		return counts
	}
	for _, id := range m.NodeKeys() {
		if n := m.Node(id); n != nil {
			counts[n.State]++
		}
	}
	return counts
}

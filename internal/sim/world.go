package sim

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/projections"
)

// The simulated cluster is a set of actors — per config a pipeline driver,
// a self-play runner, a champion monitor, quality and queue monitors; per
// node a health agent; sync, resource pressure, chaos and leader election
// for the cluster — each with one timer in simulated time. Every event
// advances the simulated clock by --step (but never past the wall clock:
// tick); the event is that of the earliest
// due timer, or background traffic (heartbeats, work, Elo updates from
// internal/gen) when none is due. The actors follow the daemon: after every
// answer the simulator reads the projections and each actor plans its next
// step from the state the daemon reports (its policies decide thresholds,
// promotions and recoveries), not from what it sent.

// timerKind names an actor.
type timerKind uint8

const (
	tPipeline timerKind = iota // per config
	tSelfplay                  // per config
	tMonitor                   // per config
	tQuality                   // per config: data quality restored
	tQueue                     // per config: queue backpressure released
	tMastered                  // per config: the curriculum tracker sees the opponent mastered
	tNode                      // per node
	tSync
	tPressure
	tQualityDrop
	tChaos
	tLeader
)

type actorID struct {
	kind timerKind
	idx  int
}

type timer struct {
	due   time.Time
	order uint64
	s     actorID
	gen   uint64
}

// timerHeap is a min-heap by due time, then scheduling order.
type timerHeap []timer

func (q timerHeap) Len() int { return len(q) }
func (q timerHeap) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].order < q[j].order
}
func (q timerHeap) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *timerHeap) Push(x any)   { *q = append(*q, x.(timer)) }
func (q *timerHeap) Pop() any {
	old := *q
	t := old[len(old)-1]
	*q = old[:len(old)-1]
	return t
}

type timerState struct {
	gen uint64
	set bool
}

// role says why an event was sent, for reading its answer.
type role uint8

const (
	roleOther    role = iota
	rolePipeline      // a pipeline step of a config's driver
	roleNode          // a node agent's event
	roleBad           // wrong on purpose: must be refused
	roleDup           // a re-sent event: must answer duplicate
)

// outEvent is one event as sent.
type outEvent struct {
	body      []byte
	id        string
	typ       string
	key, node string
	role      role
	compat    bool
}

// World is the simulated cluster.
type World struct {
	cfg     Config
	r       *rand.Rand
	ids     *rand.ChaCha8
	now     time.Time
	order   uint64
	timers  timerHeap
	slots   map[actorID]*timerState
	configs []*configActor
	byKey   map[string]*configActor
	nodes   []*nodeActor
	byNode  map[string]*nodeActor
	filler  *gen.Generator
	shares  map[string]float64
	// sent holds recently appended events (with ids) to re-send.
	sent     [][]byte
	sentNext int
	leader   string
	syncing  bool
	resource bool // cluster-wide resource backpressure is on
	// resourceUntil is when the resource monitor releases the pressure it
	// set at the latest; it sets none again before resourceCalm.
	resourceUntil, resourceCalm time.Time
	cluster                     string
	answers                     int
}

func newWorld(o Config) *World {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], o.Seed)
	binary.LittleEndian.PutUint64(seed[8:], 0x52494e4752494654) // "RINGRIFT"
	w := &World{
		cfg:    o,
		r:      rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		ids:    rand.NewChaCha8(seed),
		now:    o.Start,
		slots:  map[actorID]*timerState{},
		byKey:  map[string]*configActor{},
		byNode: map[string]*nodeActor{},
		filler: gen.New(gen.Options{Seed: o.Seed + 1, Start: o.Start, Step: o.Step, BadShare: 1e-9}),
		shares: map[string]float64{},
	}
	for i, k := range event.ConfigKeys() {
		c := &configActor{idx: i, key: k, players: event.Players(k), mult: 1, models: map[string]float64{},
			base: 1120 + 120*w.r.Float64(), ceiling: 1650 + 700*w.r.Float64(), lastSelfplay: o.Start}
		w.configs = append(w.configs, c)
		w.byKey[k] = c
		w.at(actorID{tSelfplay, i}, o.Start.Add(w.uniform(0, 2*time.Minute)))
		w.at(actorID{tMonitor, i}, o.Start.Add(w.minutes(20, 60)))
	}
	for i := 0; i < o.Nodes; i++ {
		n := &nodeActor{idx: i, id: fmt.Sprintf("gpu-%02d", i), state: "unknown", seen: "unknown"}
		w.nodes = append(w.nodes, n)
		w.byNode[n.id] = n
		w.at(actorID{tNode, i}, o.Start.Add(time.Duration(i+1)*o.Step))
	}
	w.at(actorID{tLeader, 0}, o.Start.Add(time.Duration(o.Nodes+1)*o.Step))
	w.at(actorID{tSync, 0}, o.Start.Add(w.minutes(1, 3)))
	w.at(actorID{tPressure, 0}, o.Start.Add(w.minutes(5, 10)))
	w.at(actorID{tQualityDrop, 0}, o.Start.Add(w.minutes(30, 90)))
	w.at(actorID{tChaos, 0}, o.Start.Add(w.minutes(10, 30)))
	return w
}

// at (re)schedules the slot's timer, replacing any pending one.
func (w *World) at(s actorID, due time.Time) {
	st := w.slots[s]
	if st == nil {
		st = &timerState{}
		w.slots[s] = st
	}
	st.gen++
	st.set = true
	w.order++
	heap.Push(&w.timers, timer{due: due, order: w.order, s: s, gen: st.gen})
}

func (w *World) after(s actorID, d time.Duration) { w.at(s, w.now.Add(d)) }

func (w *World) pending(s actorID) bool { st := w.slots[s]; return st != nil && st.set }

func (w *World) cancel(s actorID) {
	if st := w.slots[s]; st != nil {
		st.gen++
		st.set = false
	}
}

// uniform is a duration in [lo, hi).
func (w *World) uniform(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(w.r.Float64()*float64(hi-lo))
}

// minutes is a duration of lo to hi simulated minutes.
func (w *World) minutes(lo, hi float64) time.Duration {
	return w.uniform(time.Duration(lo*float64(time.Minute)), time.Duration(hi*float64(time.Minute)))
}

// period is a background actor's period: lo–hi minutes, but at least the
// time the actor's group (actors of them) may take at share of the events,
// so that a large --step leaves most events to the pipelines.
func (w *World) period(lo, hi float64, actors int, share float64) time.Duration {
	d := w.minutes(lo, hi)
	floor := time.Duration(float64(w.cfg.Step) * float64(actors) / share * (0.8 + 0.4*w.r.Float64()))
	return max(d, floor)
}

// chance reports true with probability p.
func (w *World) chance(p float64) bool { return w.r.Float64() < p }

// normal is a normally distributed number.
func (w *World) normal(mean, sd float64) float64 { return mean + sd*w.r.NormFloat64() }

// batch returns the next n events.
func (w *World) batch(n int) []outEvent {
	out := make([]outEvent, 0, n)
	for len(out) < n {
		out = append(out, w.next())
	}
	return out
}

// next advances the clock one step and returns its event.
func (w *World) next() outEvent {
	w.tick()
	if w.chance(w.cfg.Bad) {
		return w.bad()
	}
	if len(w.sent) > 0 && w.chance(w.cfg.Dup) {
		return outEvent{body: w.sent[w.r.IntN(len(w.sent))], typ: "(re-sent)", role: roleDup}
	}
	for w.timers.Len() > 0 && !w.timers[0].due.After(w.now) {
		t := heap.Pop(&w.timers).(timer)
		st := w.slots[t.s]
		if st.gen != t.gen {
			continue // replaced or cancelled
		}
		st.set = false
		if e, ok := w.fire(t.s); ok {
			return e
		}
	}
	return w.background()
}

// tick advances the simulated clock by a step, but not past the wall
// clock (Config.Clock), nor backwards: a run that catches up with the wall
// clock goes on at its pace.
func (w *World) tick() {
	next := w.now.Add(w.cfg.Step)
	if w.cfg.Clock != nil {
		if wall := w.cfg.Clock(); next.After(wall) {
			next = w.now
			if wall.After(next) {
				next = wall
			}
		}
	}
	w.now = next
}

func (w *World) fire(s actorID) (outEvent, bool) {
	switch s.kind {
	case tPipeline:
		return w.configs[s.idx].pipelineStep(w)
	case tSelfplay:
		return w.configs[s.idx].selfplay(w), true
	case tMonitor:
		return w.configs[s.idx].monitor(w)
	case tQuality:
		c := w.configs[s.idx]
		c.lowQuality = false
		return w.ev("high_quality_data_available", c.key, "", "QualityMonitor", event.Object{}.Num("quality_score", projections.Round3(0.7+0.2*w.r.Float64()))), true
	case tQueue:
		c := w.configs[s.idx]
		c.queued = false
		return w.ev("backpressure_released", c.key, "", "QueueMonitor", event.Object{}), true
	case tMastered:
		return w.ev("opponent_mastered", w.configs[s.idx].key, "", "CurriculumTracker", event.Object{}.Str("opponent", "heuristic")), true
	case tNode:
		return w.nodes[s.idx].step(w)
	case tSync:
		return w.sync(), true
	case tPressure:
		return w.pressure()
	case tQualityDrop:
		return w.qualityDrop()
	case tChaos:
		return w.chaos()
	case tLeader:
		return w.elect()
	}
	return outEvent{}, false
}

// ev builds a canonical event at the current simulated time, with an id.
func (w *World) ev(typ, key, node, source string, payload event.Object) outEvent {
	return w.evRaw(typ, key, node, source, "", payload.Bytes())
}

// evRaw is ev with the payload as JSON bytes and a correlation id ("" =
// none).
func (w *World) evRaw(typ, key, node, source, corr string, payload []byte) outEvent {
	id := ulid.MustNew(ulid.Timestamp(w.now), w.ids).String()
	b := append(make([]byte, 0, 256), `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","type":`...)
	b = event.AppendJSONString(b, typ)
	if key != "" {
		b = event.AppendJSONString(append(b, `,"config_key":`...), key)
	}
	if node != "" {
		b = event.AppendJSONString(append(b, `,"node_id":`...), node)
	}
	b = event.AppendJSONString(append(b, `,"source":`...), source)
	b = append(b, `,"time":"`...)
	b = w.now.UTC().AppendFormat(b, event.TimeFormat)
	b = append(b, '"')
	if corr != "" {
		b = append(append(append(b, `,"correlation_id":"`...), corr...), '"')
	}
	b = append(append(append(b, `,"payload":`...), payload...), '}')
	return outEvent{body: b, id: id, typ: typ, key: key, node: node}
}

// compat builds an event in the compatibility shape of the Python workers:
// event_type NAME, config and host inside the payload, unix timestamp,
// the bus's own keys (origin, trace_id), no id.
func (w *World) compat(name, key, node, source string, payload event.Object) outEvent {
	payload = payload.Str("config", key)
	if node != "" {
		payload = payload.Str("host", node)
	}
	b := append(make([]byte, 0, 256), `{"event_type":`...)
	b = event.AppendJSONString(b, name)
	b = append(append(b, `,"payload":`...), payload.Bytes()...)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendFloat(b, float64(w.now.UnixMilli())/1000, 'f', 3, 64)
	b = event.AppendJSONString(append(b, `,"source":`...), source)
	b = event.AppendJSONString(append(b, `,"origin":`...), "p2p-bus")
	b = event.AppendJSONString(append(b, `,"trace_id":`...), fmt.Sprintf("%016x", w.r.Uint64()))
	return outEvent{body: append(b, '}'), typ: name, key: key, node: node, compat: true}
}

// background is the traffic of a step with nothing due: coordinator
// heartbeats, work queue and re-rated models, from internal/gen.
func (w *World) background() outEvent {
	for range 100 {
		g := w.filler.Next()
		src := ""
		switch g.Type {
		case "coordinator_heartbeat":
			src = "ClusterCoordinator"
		case "work_queued":
			src = "WorkQueue"
		case "opponent_mastered":
			src = "CurriculumTracker"
		case "elo_updated":
			src = "EloService"
		default:
			continue
		}
		return w.evRaw(g.Type, g.ConfigKey, g.NodeID, src, "", g.Payload).repeatable()
	}
	return w.ev("coordinator_heartbeat", "", "", "ClusterCoordinator", event.Object{}.Str("daemon", "SelfplayScheduler")).repeatable()
}

// repeatable marks an event whose content legitimately repeats (a
// heartbeat, a re-rating) "dedup": false, as journal.md asks of producers:
// content dedup then never drops it, and replay lost does not report it as
// a probable duplicate. The simulator's deliberate re-sends are not marked.
func (o outEvent) repeatable() outEvent {
	if o.compat || len(o.body) == 0 || o.body[len(o.body)-1] != '}' {
		return o
	}
	o.body = append(o.body[:len(o.body)-1:len(o.body)-1], `,"dedup":false}`...)
	return o
}

// bad is an event that is wrong on purpose, of the kinds the old bus let
// through: a misspelt type, a bad config key, a missing required key, a
// phantom promotion, the reserved source, a payload that is no object, a
// recovery report for a healthy node.
func (w *World) bad() outEvent {
	c := w.configs[w.r.IntN(len(w.configs))]
	var e outEvent
	switch w.r.IntN(7) {
	case 0:
		e = w.ev("training_complete", c.key, "", "TrainingCoordinator", event.Object{}.Str("model_path", c.modelPath()))
	case 1:
		e = w.ev("new_games", "hex9_2p", "", "SelfplayRunner", event.Object{}.Int("games", 12))
	case 2:
		e = w.ev("training_completed", c.key, "", "TrainingCoordinator", event.Object{}.Num("final_loss", projections.Round3(0.31)))
	case 3:
		e = w.ev("promotion_started", c.key, "", "PromotionController", event.Object{}.Str("model_path", "models/"+c.key+"/phantom.pth"))
	case 4:
		e = w.ev("new_games", c.key, "", "ringriftd/threshold", event.Object{}.Int("games", 50))
	case 5:
		e = w.evRaw("evaluation_completed", c.key, "", "EvaluationDaemon", "", []byte("[0.71,0.96]"))
	default:
		for _, n := range w.nodes {
			if n.seen == "healthy" && n.state == "healthy" && !n.broken {
				e = w.ev("recovery_completed", "", n.id, "RecoveryManager", event.Object{}.Str("action", "restart_daemon"))
				break
			}
		}
		if e.body == nil {
			e = w.ev("TRAINING_COMPLETE", c.key, "", "TrainingCoordinator", event.Object{})
		}
	}
	e.role = roleBad
	return e
}

// sync alternates sync_started and its outcome, for every config at once.
func (w *World) sync() outEvent {
	s := actorID{tSync, 0}
	if !w.syncing {
		w.syncing = true
		w.after(s, w.minutes(1, 3))
		return w.ev("sync_started", "", "", "SyncDaemon", event.Object{})
	}
	w.syncing = false
	w.after(s, w.period(6, 12, 1, 0.08))
	if w.chance(0.05) {
		return w.ev("sync_failed", "", "", "SyncDaemon", event.Object{}.Str("error", "rsync: connection reset by peer"))
	}
	return w.ev("sync_completed", "", "", "SyncDaemon", event.Object{}.Int("files", int64(20+w.r.IntN(200))))
}

// pressure is the backpressure monitors: cluster-wide resource pressure
// when most configs train or evaluate at once, for 10–20 minutes at most
// and not again for 3–8 hours (else the pause would herd the configs into
// training together when it lifts, and hold them all again); and now and
// then a config's queue filling up.
func (w *World) pressure() (outEvent, bool) {
	w.after(actorID{tPressure, 0}, w.minutes(4, 8))
	busy := 0
	for _, c := range w.configs {
		switch c.state {
		case "training", "trained", "evaluating":
			busy++
		}
	}
	switch {
	case !w.resource && busy >= 9 && !w.now.Before(w.resourceCalm):
		w.resource = true
		w.resourceUntil = w.now.Add(w.minutes(10, 20))
		return w.ev("backpressure_activated", "", "", "ResourceMonitor", event.Object{}.Str("level", "high").Int("busy_configs", int64(busy))), true
	case w.resource && (busy <= 5 || !w.now.Before(w.resourceUntil)):
		w.resource = false
		w.resourceCalm = w.now.Add(w.minutes(180, 480))
		return w.ev("backpressure_released", "", "", "ResourceMonitor", event.Object{}), true
	case w.chance(0.15):
		c := w.configs[w.r.IntN(len(w.configs))]
		if c.queued {
			return outEvent{}, false
		}
		c.queued = true
		w.after(actorID{tQueue, c.idx}, w.minutes(10, 30))
		level := "hard"
		if w.chance(0.4) {
			level = "soft"
		}
		return w.ev("backpressure_activated", c.key, "", "QueueMonitor", event.Object{}.Str("level", level).Int("queue_depth", int64(500+w.r.IntN(1500)))), true
	}
	return outEvent{}, false
}

// qualityDrop blocks a config's training for low data quality, restored
// 10–30 minutes later.
func (w *World) qualityDrop() (outEvent, bool) {
	w.after(actorID{tQualityDrop, 0}, w.minutes(60, 120))
	c := w.configs[w.r.IntN(len(w.configs))]
	if c.lowQuality {
		return outEvent{}, false
	}
	c.lowQuality = true
	w.after(actorID{tQuality, c.idx}, w.minutes(10, 30))
	return w.ev("training_blocked_by_quality", c.key, "", "QualityMonitor",
		event.Object{}.Num("quality_score", projections.Round3(0.35+0.2*w.r.Float64())).Num("threshold", projections.Round3(0.6))), true
}

// chaos breaks a healthy node now and then: its daemon crashes (health
// checks fail until the daemon recovers it) or the host drops off.
func (w *World) chaos() (outEvent, bool) {
	w.after(actorID{tChaos, 0}, w.minutes(20, 60))
	var healthy []*nodeActor
	for _, n := range w.nodes {
		if n.seen == "healthy" && !n.broken {
			healthy = append(healthy, n)
		}
	}
	if len(healthy) == 0 {
		return outEvent{}, false
	}
	n := healthy[w.r.IntN(len(healthy))]
	n.broken = true
	if n.id == w.leader {
		w.after(actorID{tLeader, 0}, w.minutes(0.5, 2))
	}
	if w.chance(0.25) {
		n.state = "offline"
		w.after(actorID{tNode, n.idx}, w.minutes(5, 10)) // the daemon's recovery decision replans it
		return w.ev("host_offline", "", n.id, "P2PNode", event.Object{}.Str("reason", "unreachable")), true
	}
	w.after(actorID{tNode, n.idx}, w.minutes(0.2, 1))
	return outEvent{}, false
}

// elect makes the first healthy node leader when there is none or the
// leader is broken.
func (w *World) elect() (outEvent, bool) {
	if l := w.byNode[w.leader]; l != nil && !l.broken {
		return outEvent{}, false
	}
	for _, n := range w.nodes {
		if n.known && !n.broken {
			w.leader = n.id
			return w.ev("leader_elected", "", n.id, "P2PNode", event.Object{}.Int("term", int64(w.r.IntN(1000)))), true
		}
	}
	w.after(actorID{tLeader, 0}, w.minutes(1, 2))
	return outEvent{}, false
}

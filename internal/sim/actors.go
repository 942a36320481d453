package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/projections"
)

// Ratings of the fixed opponents of an evaluation, and the self-play games
// a config produces per simulated minute (by player count, 2p–4p).
const (
	eloRandom    = 400.0
	eloHeuristic = 1150.0
)

var gamesPerMinute = [3]float64{3, 3.5, 4.5}

// thresholds are the policies' defaults: the simulator sizes evaluations
// by them and, with the policies off, takes the decisions itself.
var thresholds = flows.DefaultThresholds()

// configActor is one config: its pipeline driver (training and evaluation
// workers), self-play runner and champion monitor. state … synced are the
// daemon's view, as last read, advanced by the steps sent since.
type configActor struct {
	idx     int
	key     string
	players int

	state, model, champion string
	iteration              int
	paused                 []string
	games                  int64
	synced                 bool
	// confirmed: state is as the daemon reported it (no step sent since).
	confirmed bool
	// refused is the code of the last refused step, until the next read.
	refused string

	job     *trainingJob
	attempt int                // trainings started in this iteration
	models  map[string]float64 // each model's true strength (Elo)
	base    float64            // the strength training starts from: the champion's
	// ceiling is the strength this config's training can reach for now;
	// at breakthrough a new idea raises it (see trained).
	ceiling      float64
	breakthrough time.Time
	mult         float64 // self-play games multiplier (feedback: weak)
	explore      float64 // exploration multiplier (feedback: strong)
	evalProgress bool
	lastPass     bool // the last evaluation passed the baseline gates
	corr         string
	lowQuality   bool
	queued       bool
	lastSelfplay time.Time
}

// trainingJob is a training run.
type trainingJob struct {
	model             string
	epochs            int
	reports, reported int
}

func (c *configActor) slot() actorID { return actorID{tPipeline, c.idx} }

// modelPath is the path of the model the current training writes.
func (c *configActor) modelPath() string {
	if c.attempt <= 1 {
		return fmt.Sprintf("models/%s/iter_%04d.pth", c.key, c.iteration)
	}
	return fmt.Sprintf("models/%s/iter_%04d_r%d.pth", c.key, c.iteration, c.attempt)
}

// follow adopts the daemon's view of the config and replans the driver
// when it differs from what the driver expected, a step was refused, or
// nothing is planned.
func (c *configActor) follow(w *World, p projections.PipelineView) {
	model, champion := string(p.Model), string(p.Champion)
	changed := p.State != c.state || p.Iteration != c.iteration || model != c.model
	if p.Iteration != c.iteration {
		c.attempt = 0
	}
	if champion != c.champion && champion != "" {
		if e, ok := c.models[champion]; ok {
			c.base = e // training goes on from the new champion (or the one rolled back to)
		}
	}
	c.state, c.iteration, c.model, c.champion = p.State, p.Iteration, model, champion
	c.paused, c.games, c.synced = p.Paused, p.GamesSinceTraining, p.SyncedSinceTraining
	c.confirmed = true
	c.lowQuality = slices.Contains(p.Paused, flows.PauseQuality)
	if s := (actorID{tQuality, c.idx}); c.lowQuality && !w.pending(s) {
		w.after(s, w.minutes(5, 20)) // also a pause of an earlier run
	}
	if p.State != "training" {
		c.job = nil
	}
	refused := c.refused
	c.refused = ""
	if changed || refused != "" || !w.pending(c.slot()) {
		c.plan(w, refused)
	}
}

// plan schedules the driver's next step from the state: the workers take
// a few simulated minutes per step; a refused step backs off. In the
// states where the daemon's policies decide (collecting until the
// threshold, evaluated, candidate, promoting) the driver only acts after a
// long wait, which happens when the policies are off.
func (c *configActor) plan(w *World, refused string) {
	var backoff [2]float64 // minutes
	switch refused {
	case "":
	case "paused":
		backoff = [2]float64{5, 15}
	default:
		backoff = [2]float64{1, 3}
	}
	var d [2]float64
	switch c.state {
	case "training_ready", "trained":
		d = [2]float64{1, 4}
	case "training", "evaluating":
		d = [2]float64{3, 6}
	case "rolling_back":
		d = [2]float64{2, 5}
	case "evaluated", "candidate", "promoting":
		d = [2]float64{30, 60}
	default:
		if c.games < 4*thresholds.For(c.players).TrainingGames || !c.synced || len(c.paused) > 0 {
			w.cancel(c.slot())
			return
		}
		d = [2]float64{30, 60}
	}
	w.after(c.slot(), w.minutes(d[0]+backoff[0], d[1]+backoff[1]))
}

// trainingBlocked reports whether the daemon pauses the config's training.
func (c *configActor) trainingBlocked() bool {
	return slices.ContainsFunc(c.paused, func(r string) bool {
		return r == flows.PauseQuality || r == flows.PauseBackpressure || r == flows.PauseRegression
	})
}

// pipelineStep is the driver's next step.
func (c *configActor) pipelineStep(w *World) (outEvent, bool) {
	s := c.slot()
	step := func(typ, source string, p event.Object) (outEvent, bool) {
		e := w.evRaw(typ, c.key, "", source, c.corr, p.Bytes()) // correlated: one iteration's training
		e.role = rolePipeline
		c.confirmed = false
		return e, true
	}
	switch c.state {
	case "collecting", "training_ready":
		if !c.confirmed && c.state == "collecting" {
			return outEvent{}, false
		}
		if c.trainingBlocked() && w.chance(0.7) { // the trainer sees the pause; else it tries and is refused
			w.after(s, w.minutes(5, 15))
			return outEvent{}, false
		}
		c.attempt++
		c.job = &trainingJob{model: c.modelPath(), epochs: 20 + w.r.IntN(30), reports: 1 + w.r.IntN(3)}
		c.corr = ulid.MustNew(ulid.Timestamp(w.now), w.ids).String()
		c.state = "training"
		w.after(s, w.minutes(3, 6))
		return step("training_started", "TrainingCoordinator",
			event.Object{}.Str("job_id", fmt.Sprintf("train-%s-%d-%d", c.key, c.iteration, c.attempt)).Int("epochs", int64(c.job.epochs)))
	case "training":
		j := c.job
		if j == nil { // adopted from the daemon: a run in progress
			j = &trainingJob{model: c.modelPath(), epochs: 30, reports: 1, reported: 1}
			c.job = j
		}
		if j.reported < j.reports {
			j.reported++
			w.after(s, w.minutes(3, 6))
			frac := float64(j.reported) / float64(j.reports+1)
			return step("training_progress", "TrainingCoordinator",
				event.Object{}.Int("epoch", int64(float64(j.epochs)*frac)).Num("loss", projections.Round3(1.6-frac+0.05*w.r.Float64())))
		}
		c.job = nil
		switch x := w.r.Float64(); {
		case x < 0.03:
			c.state = "collecting"
			return step("training_failed", "TrainingCoordinator", event.Object{}.Str("error", "CUDA out of memory"))
		case x < 0.04:
			c.state = "rolling_back"
			w.after(s, w.minutes(2, 5))
			return step("training_rollback_needed", "TrainingCoordinator", event.Object{}.Str("reason", "loss diverged"))
		case x < 0.08:
			c.trained(w, j.model)
			return step("training_early_stopped", "TrainingCoordinator",
				event.Object{}.Str("model_path", j.model).Str("reason", "validation loss plateau"))
		}
		c.trained(w, j.model)
		return step("training_completed", "TrainingCoordinator",
			event.Object{}.Str("model_path", j.model).Num("final_loss", projections.Round3(0.45+0.2*w.r.Float64())).Int("epochs", int64(j.epochs)))
	case "rolling_back":
		c.state = "collecting"
		to := c.champion
		if to == "" {
			to = "checkpoint"
		}
		return step("training_rollback_completed", "TrainingCoordinator", event.Object{}.Str("rolled_back_to", to))
	case "trained":
		c.state, c.evalProgress = "evaluating", false
		w.after(s, w.minutes(3, 6))
		return step("evaluation_started", "EvaluationDaemon", event.Object{}.Str("model_path", c.model))
	case "evaluating":
		if !c.evalProgress && w.chance(0.5) {
			c.evalProgress = true
			w.after(s, w.minutes(2, 4))
			return step("evaluation_progress", "EvaluationDaemon", event.Object{}.Str("model_path", c.model).Int("games_played", int64(20+w.r.IntN(40))))
		}
		if w.chance(0.05) {
			c.state = "trained"
			w.after(s, w.minutes(2, 5))
			return step("evaluation_failed", "EvaluationDaemon", event.Object{}.Str("model_path", c.model).Str("error", "evaluation worker lost"))
		}
		c.state = "evaluated"
		return step("evaluation_completed", "EvaluationDaemon", c.results(w))
	}
	// evaluated, candidate, promoting: the daemon did not decide (policies
	// off): the old promotion controller's part.
	if !c.confirmed {
		return outEvent{}, false
	}
	p := event.Object{}.Str("model_path", c.model)
	switch {
	case c.state == "evaluated" && !c.lastPass:
		c.state = "collecting"
		return step("promotion_rejected", "PromotionController", p.Str("reason", "baseline gates failed"))
	case c.state == "evaluated":
		c.state = "candidate"
		w.after(s, w.minutes(2, 5))
		return step("promotion_candidate", "PromotionController", p)
	case c.state == "candidate":
		c.state = "promoting"
		w.after(s, w.minutes(2, 5))
		return step("promotion_started", "PromotionController", p)
	}
	c.state = "collecting"
	return step("model_promoted", "PromotionController", p)
}

// Strength model: a training run closes part of the gap between the
// champion it starts from and the config's ceiling, with noise; past the
// ceiling gains are compressed, so models improve quickly, then plateau
// and only an occasional breakthrough (every few simulated days) raises
// the ceiling, up to maxCeiling, below the Elo cap of 3000.
const (
	maxCeiling    = 2750.0
	pastCeiling   = 0.25 // the share of a gain past the ceiling that is kept
	gainSD        = 40.0 // the spread of a training's result
	breakthroughs = 4    // the mean days between a config's breakthroughs
)

// trained records a new model and its true strength.
func (c *configActor) trained(w *World, model string) {
	c.state, c.model = "trained", model
	if !w.now.Before(c.breakthrough) {
		if !c.breakthrough.IsZero() {
			c.ceiling = min(maxCeiling, c.ceiling+w.normal(140, 40))
		}
		c.breakthrough = w.now.Add(w.minutes(0.5*breakthroughs*24*60, 1.5*breakthroughs*24*60))
	}
	sd := gainSD
	if c.explore > 0 {
		sd *= c.explore
	}
	m := c.base + (0.08+0.12*w.r.Float64())*(c.ceiling-c.base) + w.normal(0, sd)
	if m > c.ceiling {
		m = c.ceiling + pastCeiling*(m-c.ceiling)
	}
	c.models[model] = m
	if c.champion == "" {
		c.base = max(c.base, m) // no champion yet: the self-play data improves anyway
	}
	c.mult, c.explore = 1, 0
	w.after(c.slot(), w.minutes(1, 3))
}

// expected is the Elo expected score of a against b.
func eloExpected(a, b float64) float64 { return 1 / (1 + math.Pow(10, (b-a)/400)) }

// result is one opponent's results: games and a sampled win rate.
func resultJSON(w *World, games int64, p float64) []byte {
	wins := 0
	for range games {
		if w.r.Float64() < p {
			wins++
		}
	}
	return event.Object{}.Int("games", games).Num("win_rate", projections.Round3(float64(wins)/float64(games))).Bytes()
}

// results is the payload of the iteration model's evaluation_completed:
// baselines (winning against all of the other players in 3p/4p is harder),
// the champion head to head when there is one, and the Elo.
func (c *configActor) results(w *World) event.Object {
	m, ok := c.models[c.model]
	if !ok { // adopted from the daemon: trained by an earlier run
		m = c.base + w.normal(0, gainSD)
		c.models[c.model] = m
	}
	t := thresholds.For(c.players)
	games := t.MinGames + int64(w.r.IntN(30))
	if w.chance(0.04) {
		games = max(1, t.MinGames-5-int64(w.r.IntN(15)))
	}
	n := float64(c.players - 1)
	pr, ph := math.Pow(eloExpected(m, eloRandom), n), math.Pow(eloExpected(m, eloHeuristic), n)
	c.lastPass = games >= t.MinGames && pr >= t.WinRateRandom && ph >= t.WinRateHeuristic
	opp := event.Object{}.Raw("heuristic", resultJSON(w, games, ph)).Raw("random", resultJSON(w, games, pr))
	if ce, ok := c.models[c.champion]; ok && w.chance(0.8) {
		opp = opp.Raw("champion", resultJSON(w, 200, eloExpected(m, ce)))
	}
	return event.Object{}.Str("model_path", c.model).Raw("opponents", opp.Bytes()).Num("elo", projections.Round3(m+w.normal(0, 10)))
}

// selfplay reports the games played since the last report.
func (c *configActor) selfplay(w *World) outEvent {
	minutes := w.now.Sub(c.lastSelfplay).Minutes()
	c.lastSelfplay = w.now
	share := 1.0
	if s, ok := w.shares[c.key]; ok && s > 0 {
		share = min(max(s*float64(len(w.configs)), 0.25), 4)
	}
	games := max(1, int64(math.Round(gamesPerMinute[c.players-2]*c.mult*share*minutes*(0.7+0.6*w.r.Float64()))))
	w.after(actorID{tSelfplay, c.idx}, w.period(1, 3, len(w.configs), 0.25))
	node := ""
	if n := w.nodes[w.r.IntN(len(w.nodes))]; n.known && !n.broken {
		node = n.id
	}
	if w.chance(w.cfg.Compat) {
		return w.compat("NEW_GAMES_AVAILABLE", c.key, node, "SelfplayRunner", event.Object{}.Int("games_count", games))
	}
	return w.ev("new_games", c.key, node, "SelfplayRunner", event.Object{}.Int("games", games).Int("avg_moves", int64(40+w.r.IntN(80))))
}

// monitor re-evaluates the champion now and then (a monitoring evaluation:
// the daemon's regression policy checks it); once in a while the champion
// plays badly.
func (c *configActor) monitor(w *World) (outEvent, bool) {
	w.after(actorID{tMonitor, c.idx}, w.period(40, 80, len(w.configs), 0.05))
	ce, ok := c.models[c.champion]
	if !ok || c.champion == c.model || !c.confirmed { // a step since the last read may have changed the champion
		return outEvent{}, false
	}
	elo := ce + w.normal(0, 5)
	if w.chance(0.08) {
		elo = ce - 25 - 65*w.r.Float64()
	}
	n := float64(c.players - 1)
	opp := event.Object{}.Raw("heuristic", resultJSON(w, 60, math.Pow(eloExpected(elo, eloHeuristic), n))).
		Raw("random", resultJSON(w, 40, math.Pow(eloExpected(elo, eloRandom), n)))
	return w.ev("evaluation_completed", c.key, "", "ModelMonitor",
		event.Object{}.Str("model_path", c.champion).Raw("opponents", opp.Bytes()).Num("elo", projections.Round3(elo))), true
}

// nodeActor is a GPU node's agent. seen/seenAttempts are the daemon's view
// of it, state the same advanced by the events sent since; broken is the
// truth the daemon learns from health checks.
type nodeActor struct {
	idx          int
	id           string
	state        string
	seen         string
	seenAttempts int
	lastAction   string
	known        bool
	broken       bool
	refused      bool
}

func (n *nodeActor) slot() actorID { return actorID{tNode, n.idx} }

// checkPeriod is the time to the next health check: quick while failing.
func (n *nodeActor) checkPeriod(w *World) time.Duration {
	if n.broken {
		return w.minutes(0.5, 1.5)
	}
	return w.period(1.5, 3, len(w.nodes), 0.25)
}

// follow adopts the daemon's view of the node (ok false: it does not know
// it) and reacts to the recovery decisions: a recovery runs for a few
// minutes, an escalated or offline node is fixed by an operator.
func (n *nodeActor) follow(w *World, v projections.NodeView, ok bool) {
	s := n.slot()
	if !ok {
		n.known, n.seen, n.state = false, "unknown", "unknown"
		if !w.pending(s) {
			w.after(s, w.minutes(0.1, 1))
		}
		return
	}
	n.known = true
	changed := v.State != n.seen || v.Attempts != n.seenAttempts || n.refused
	n.seen, n.seenAttempts, n.lastAction, n.state = v.State, v.Attempts, string(v.LastAction), v.State
	n.refused = false
	if !changed && w.pending(s) {
		return
	}
	switch v.State {
	case "recovering":
		w.after(s, w.minutes(2, 6))
	case "escalated":
		w.after(s, w.minutes(20, 60))
	case "offline":
		w.after(s, w.minutes(10, 30))
	default:
		w.after(s, n.checkPeriod(w))
	}
}

// step is the node's next event: joining, a recovery's outcome, an
// operator's fix, or a health check.
func (n *nodeActor) step(w *World) (outEvent, bool) {
	s := n.slot()
	ev := func(typ, source string, p event.Object) (outEvent, bool) {
		e := w.ev(typ, "", n.id, source, p)
		e.role = roleNode
		return e, true
	}
	switch n.state {
	case "unknown":
		n.state = "healthy"
		w.after(s, n.checkPeriod(w))
		return ev("host_online", "NodeAgent", event.Object{}.Int("gpus", 8))
	case "recovering":
		success := 0.6
		if n.lastAction == "failover_to_peer" {
			success = 0.85
		}
		p := event.Object{}.Str("action", n.lastAction).Int("attempt", int64(n.seenAttempts))
		if w.chance(success) {
			n.broken, n.state = false, "healthy"
			w.after(s, n.checkPeriod(w))
			return ev("recovery_completed", "RecoveryManager", p)
		}
		n.state = "unhealthy"
		w.after(s, n.checkPeriod(w))
		return ev("recovery_failed", "RecoveryManager", p.Str("reason", "daemon did not come back"))
	case "escalated", "offline":
		n.broken, n.state = false, "healthy"
		w.after(s, n.checkPeriod(w))
		return ev("host_online", "NodeAgent", event.Object{}.Int("gpus", 8).Str("reason", "operator restored the host"))
	}
	if !n.broken && w.chance(0.01) { // a flaky check
		w.after(s, w.minutes(0.5, 1.5))
		return ev("health_check_failed", "HealthMonitor", event.Object{}.Str("reason", "timeout"))
	}
	w.after(s, n.checkPeriod(w))
	if n.broken {
		return ev("health_check_failed", "HealthMonitor", event.Object{}.Str("reason", "daemon unresponsive"))
	}
	e, ok := ev("health_check_passed", "HealthMonitor", event.Object{}.Int("latency_ms", int64(5+w.r.IntN(40))))
	return e.repeatable(), ok // a passed check repeats legitimately
}

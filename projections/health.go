package projections

import (
	"maps"
	"slices"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// Backpressure levels: the queue scale (none soft hard stop) and the resource
// scale (none low medium high critical).
const (
	LevelNone     = "none"
	LevelSoft     = "soft"
	LevelHard     = "hard"
	LevelStop     = "stop"
	LevelLow      = "low"
	LevelMedium   = "medium"
	LevelHigh     = "high"
	LevelCritical = "critical"
)

// Daemon statuses set by the daemon events ("unknown" before any).
const (
	DaemonRunning = "running"
	DaemonStopped = "stopped"
	DaemonUnknown = "unknown"
)

// Cluster statuses of the cluster policy (flows.md).
const (
	ClusterHealthy  = flows.ClusterHealthy
	ClusterDegraded = flows.ClusterDegraded
	ClusterCritical = flows.ClusterCritical
)

// Levels are one scope's backpressure levels.
type Levels struct {
	Queue    string
	Resource string
}

var noLevels = Levels{LevelNone, LevelNone}

// Blocks reports whether the levels block training: queue hard or stop, or
// resource high or critical.
func (l Levels) Blocks() bool {
	return l.Queue == LevelHard || l.Queue == LevelStop || l.Resource == LevelHigh || l.Resource == LevelCritical
}

// set applies an activated level; false for a level of neither scale.
func (l *Levels) set(level string) bool {
	switch level {
	case LevelNone:
		*l = noLevels
	case LevelSoft, LevelHard, LevelStop:
		l.Queue = level
	case LevelLow, LevelMedium, LevelHigh, LevelCritical:
		l.Resource = level
	default:
		return false
	}
	return true
}

// Daemon is what the health projection knows of one daemon.
type Daemon struct {
	Status   string
	LastSeen time.Time
}

// Health holds the cluster facts of the health projection (projections.md):
// leader, daemons, backpressure and nodes low on disk. The nodes' recovery
// machines live in flows. The zero value is not usable; use NewHealth.
type Health struct {
	leader  string
	daemons map[string]*Daemon
	cluster Levels
	configs map[string]*Levels
	diskLow map[string]bool
}

var _ flows.Backpressure = (*Health)(nil)

// NewHealth returns the cluster facts before any event.
func NewHealth() *Health {
	return &Health{daemons: map[string]*Daemon{}, cluster: noLevels,
		configs: map[string]*Levels{}, diskLow: map[string]bool{}}
}

// HealthChange says what one event did to the cluster facts.
type HealthChange struct {
	// Backpressure is true when a level of the scope changed; Scope is the
	// config, "" for the cluster-wide scope.
	Backpressure bool
	Scope        string
	// Leader is true when the leader changed.
	Leader bool
}

// Apply folds one event into the cluster facts and says what changed.
func (h *Health) Apply(e *event.Event) HealthChange {
	var ch HealthChange
	switch e.Type {
	case "leader_elected":
		ch.Leader = h.leader != e.NodeID
		h.leader = e.NodeID
	case "leader_lost":
		ch.Leader = h.leader != ""
		h.leader = ""
	case "leader_stepdown":
		if e.NodeID == h.leader {
			ch.Leader = h.leader != ""
			h.leader = ""
		}
	case "daemon_started", "daemon_stopped", "daemon_status_changed", "coordinator_heartbeat":
		h.daemon(e)
	case "backpressure_activated", "backpressure_released":
		next := noLevels
		if e.Type == "backpressure_activated" {
			level, _ := e.Str("level")
			next = h.Levels(e.ConfigKey)
			if !next.set(level) {
				break // not a level of either scale
			}
		}
		ch.Scope = e.ConfigKey
		l := &h.cluster
		if e.ConfigKey != "" {
			if l = h.configs[e.ConfigKey]; l == nil {
				l = &Levels{LevelNone, LevelNone}
				h.configs[e.ConfigKey] = l
			}
		}
		ch.Backpressure = *l != next
		*l = next
	case "disk_space_low":
		if e.NodeID != "" {
			h.diskLow[e.NodeID] = true
		}
	case "host_online", "node_recovered", "health_check_passed":
		delete(h.diskLow, e.NodeID)
	}
	return ch
}

func (h *Health) daemon(e *event.Event) {
	name, ok := e.Str("daemon")
	if !ok || name == "" {
		return
	}
	d := h.daemons[name]
	if d == nil {
		d = &Daemon{Status: DaemonUnknown}
		h.daemons[name] = d
	}
	d.LastSeen = e.Time
	switch e.Type {
	case "daemon_started":
		d.Status = DaemonRunning
	case "daemon_stopped":
		d.Status = DaemonStopped
	case "daemon_status_changed":
		if s, ok := e.Str("status"); ok && s != "" {
			d.Status = s
		}
	}
}

// Blocks reports whether the backpressure levels of one scope block training:
// configKey "" asks about the cluster-wide scope, any other about that
// config's own scope only (a config is paused by the union of both scopes,
// which the pipeline machine computes).
func (h *Health) Blocks(configKey string) bool { return h.Levels(configKey).Blocks() }

// Levels returns the backpressure levels of a scope ("" = cluster-wide); a
// config never named by a backpressure event has none/none.
func (h *Health) Levels(configKey string) Levels {
	if configKey == "" {
		return h.cluster
	}
	if l := h.configs[configKey]; l != nil {
		return *l
	}
	return noLevels
}

// BackpressureConfigs returns the configs with a backpressure scope of their
// own, sorted.
func (h *Health) BackpressureConfigs() []string { return slices.Sorted(maps.Keys(h.configs)) }

// Leader returns the leader, "" when there is none.
func (h *Health) Leader() string { return h.leader }

// Daemon returns what is known of a daemon.
func (h *Health) Daemon(name string) (Daemon, bool) {
	if d := h.daemons[name]; d != nil {
		return *d, true
	}
	return Daemon{}, false
}

// Daemons returns the names of the known daemons, sorted.
func (h *Health) Daemons() []string { return slices.Sorted(maps.Keys(h.daemons)) }

// DiskLow returns the nodes low on disk, sorted.
func (h *Health) DiskLow() []string { return slices.Sorted(maps.Keys(h.diskLow)) }

// Clone returns a deep copy.
func (h *Health) Clone() *Health {
	out := &Health{leader: h.leader, cluster: h.cluster,
		daemons: make(map[string]*Daemon, len(h.daemons)),
		configs: make(map[string]*Levels, len(h.configs)),
		diskLow: make(map[string]bool, len(h.diskLow))}
	for k, d := range h.daemons {
		cp := *d
		out.daemons[k] = &cp
	}
	for k, l := range h.configs {
		cp := *l
		out.configs[k] = &cp
	}
	for k := range h.diskLow {
		out.diskLow[k] = true
	}
	return out
}

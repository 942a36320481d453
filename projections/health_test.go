package projections_test

import (
	"testing"

	"github.com/ringrift/ringriftd/projections"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthLeader(t *testing.T) {
	h := projections.NewHealth()
	assert.True(t, h.Apply(mk(t, "leader_elected", "", "node-a", at(0), "")).Leader)
	assert.Equal(t, "node-a", h.Leader())
	// a stepdown that names another node changes nothing.
	assert.False(t, h.Apply(mk(t, "leader_stepdown", "", "node-b", at(1), "")).Leader)
	assert.Equal(t, "node-a", h.Leader())
	h.Apply(mk(t, "leader_stepdown", "", "node-a", at(2), ""))
	assert.Empty(t, h.Leader())
	h.Apply(mk(t, "leader_elected", "", "node-b", at(3), ""))
	h.Apply(mk(t, "leader_lost", "", "", at(4), ""))
	assert.Empty(t, h.Leader())
}

func TestHealthDaemons(t *testing.T) {
	h := projections.NewHealth()
	daemon := func(name string) projections.Daemon {
		t.Helper()
		d, ok := h.Daemon(name)
		require.True(t, ok, "daemon %s unknown", name)
		return d
	}
	// first seen by a heartbeat: unknown.
	h.Apply(mk(t, "coordinator_heartbeat", "", "", at(0), `{"coordinator":"Sync"}`))
	assert.Equal(t, projections.Daemon{Status: "unknown", LastSeen: at(0)}, daemon("Sync"))
	h.Apply(mk(t, "daemon_started", "", "", at(1), `{"daemon":"Sync"}`))
	assert.Equal(t, projections.Daemon{Status: "running", LastSeen: at(1)}, daemon("Sync"))
	// a heartbeat moves last_seen only.
	h.Apply(mk(t, "coordinator_heartbeat", "", "", at(2), `{"daemon":"Sync","status":"odd"}`))
	assert.Equal(t, projections.Daemon{Status: "running", LastSeen: at(2)}, daemon("Sync"))
	// status_changed without status: unchanged; with status: that status.
	h.Apply(mk(t, "daemon_status_changed", "", "", at(3), `{"name":"Sync"}`))
	assert.Equal(t, projections.Daemon{Status: "running", LastSeen: at(3)}, daemon("Sync"))
	h.Apply(mk(t, "daemon_status_changed", "", "", at(4), `{"name":"Sync","status":"degraded"}`))
	assert.Equal(t, projections.Daemon{Status: "degraded", LastSeen: at(4)}, daemon("Sync"))
	h.Apply(mk(t, "daemon_stopped", "", "", at(5), `{"daemon":"Sync"}`))
	assert.Equal(t, projections.Daemon{Status: "stopped", LastSeen: at(5)}, daemon("Sync"))
	// last_seen follows the event's time, even backwards.
	h.Apply(mk(t, "coordinator_heartbeat", "", "", at(1), `{"daemon":"Sync"}`))
	assert.Equal(t, at(1), daemon("Sync").LastSeen)
	h.Apply(mk(t, "daemon_status_changed", "", "", at(6), `{"daemon":"New"}`))
	assert.Equal(t, "unknown", daemon("New").Status)
	assert.Equal(t, []string{"New", "Sync"}, h.Daemons())
}

func TestHealthBackpressureScopes(t *testing.T) {
	h := projections.NewHealth()
	levels := func(scope string) projections.Levels { return h.Levels(scope) }
	act := func(scope, level string) projections.HealthChange {
		return h.Apply(mk(t, "backpressure_activated", scope, "", at(0), `{"level":"`+level+`"}`))
	}
	rel := func(scope string) projections.HealthChange {
		return h.Apply(mk(t, "backpressure_released", scope, "", at(0), ""))
	}
	assert.Equal(t, projections.Levels{Queue: "none", Resource: "none"}, levels(""))
	assert.False(t, h.Blocks(""))

	// each level sets its own scale.
	ch := act("", "high")
	assert.Equal(t, projections.HealthChange{Backpressure: true}, ch)
	act("", "soft")
	assert.Equal(t, projections.Levels{Queue: "soft", Resource: "high"}, levels(""))
	assert.True(t, h.Blocks(""))
	assert.False(t, h.Blocks("square19_4p"), "one scope only: a config is not blocked by the cluster scope here")

	// a config scope.
	ch = act("square19_4p", "hard")
	assert.Equal(t, projections.HealthChange{Backpressure: true, Scope: "square19_4p"}, ch)
	assert.True(t, h.Blocks("square19_4p"))
	assert.False(t, h.Blocks("hex8_2p"))

	// a cluster-wide release leaves config scopes alone.
	rel("")
	assert.Equal(t, projections.Levels{Queue: "none", Resource: "none"}, levels(""))
	assert.True(t, h.Blocks("square19_4p"))

	// none resets both scales of its scope.
	act("square19_4p", "critical")
	assert.Equal(t, projections.Levels{Queue: "hard", Resource: "critical"}, levels("square19_4p"))
	act("square19_4p", "none")
	assert.Equal(t, projections.Levels{Queue: "none", Resource: "none"}, levels("square19_4p"))
	assert.False(t, h.Blocks("square19_4p"))

	// a released config stays listed with none/none.
	act("hex8_2p", "stop")
	assert.True(t, h.Blocks("hex8_2p"))
	rel("hex8_2p")
	assert.False(t, h.Blocks("hex8_2p"))
	assert.False(t, rel("hex8_2p").Backpressure, "releasing twice changes nothing")
	assert.Equal(t, []string{"hex8_2p", "square19_4p"}, h.BackpressureConfigs())

	// the blocking levels, one by one.
	for level, blocks := range map[string]bool{"soft": false, "hard": true, "stop": true,
		"low": false, "medium": false, "high": true, "critical": true} {
		rel("square8_2p")
		act("square8_2p", level)
		assert.Equal(t, blocks, h.Blocks("square8_2p"), level)
	}
}

func TestHealthDiskLow(t *testing.T) {
	h := projections.NewHealth()
	for _, n := range []string{"gpu-3", "gpu-1", "gpu-2", "gpu-4"} {
		h.Apply(mk(t, "disk_space_low", "", n, at(0), `{"free_bytes":1024}`))
	}
	assert.Equal(t, []string{"gpu-1", "gpu-2", "gpu-3", "gpu-4"}, h.DiskLow())
	h.Apply(mk(t, "host_online", "", "gpu-1", at(1), ""))
	h.Apply(mk(t, "node_recovered", "", "gpu-2", at(1), ""))
	h.Apply(mk(t, "health_check_passed", "", "gpu-3", at(1), ""))
	h.Apply(mk(t, "health_check_failed", "", "gpu-4", at(1), ""))
	assert.Equal(t, []string{"gpu-4"}, h.DiskLow())
}

func TestHealthBackpressureUnknownLevel(t *testing.T) {
	// the schema refuses such a level; a foreign journal imported leniently
	// may still hold one: it changes nothing and lists nothing.
	h := projections.NewHealth()
	e := mk(t, "backpressure_activated", "hex8_2p", "", at(0), `{"level":"hard"}`)
	e.Payload = []byte(`{"level":"extreme"}`)
	assert.Equal(t, projections.HealthChange{}, h.Apply(e))
	assert.Empty(t, h.BackpressureConfigs())
}

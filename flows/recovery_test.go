package flows_test

import (
	"slices"
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allNodeStates = []string{flows.Unknown, flows.Healthy, flows.Degraded, flows.Unhealthy, flows.Recovering, flows.Offline, flows.Escalated}

// recoveryAccepts is flows.md's recovery table read by state.
var recoveryAccepts = map[string][]string{
	flows.Unknown:    {"health_check_failed", "health_check_passed", "host_offline", "host_online", "node_recovered", "node_unhealthy"},
	flows.Healthy:    {"health_check_failed", "health_check_passed", "host_offline", "host_online", "node_recovered", "node_unhealthy"},
	flows.Degraded:   {"health_check_failed", "health_check_passed", "host_offline", "host_online", "node_recovered", "node_unhealthy"},
	flows.Unhealthy:  {"health_alert", "health_check_failed", "health_check_passed", "host_offline", "host_online", "node_recovered", "node_unhealthy", "recovery_initiated"},
	flows.Recovering: {"health_check_failed", "health_check_passed", "host_offline", "host_online", "node_recovered", "recovery_completed", "recovery_failed", "recovery_initiated"},
	flows.Offline:    {"health_check_failed", "health_check_passed", "host_offline", "host_online", "node_recovered", "recovery_initiated"},
	flows.Escalated:  {"health_check_failed", "health_check_passed", "host_offline", "host_online", "node_recovered", "recovery_initiated"},
}

var recoveryEvents = []string{
	"health_check_failed", "health_check_passed", "node_recovered", "host_online", "node_unhealthy", "host_offline",
	"recovery_initiated", "recovery_completed", "recovery_failed", "health_alert",
}

func TestRecoveryRefusesWhatTheTableDoesNotAllow(t *testing.T) {
	for state, accepts := range recoveryAccepts {
		r := newRun(t, flows.Options{})
		r.reachNode(state)
		assert.Equal(t, accepts, r.m.ExplainNode(node).Accepts, state)
		for _, typ := range recoveryEvents {
			if slices.Contains(accepts, typ) {
				continue
			}
			t.Run(state+"/"+typ, func(t *testing.T) {
				r.t = t
				err := r.refuse(nev(typ, node, ""), event.CodeFlowViolation)
				assert.Equal(t, typ+" is not allowed for node gpu-1 in state "+state+"; it accepts "+joinComma(accepts), err.Message)
			})
		}
	}
}

func TestHealthCheckFailedCounts(t *testing.T) {
	r := newRun(t, flows.Options{})
	want := []string{flows.Degraded, flows.Degraded, flows.Unhealthy, flows.Unhealthy, flows.Offline}
	for i, st := range want {
		c := r.apply(nev("health_check_failed", node, ""))
		assert.Equal(t, st, r.m.Node(node).State, "failure %d", i+1)
		assert.Equal(t, i+1, r.m.Node(node).Failures)
		assert.Equal(t, flows.RecoveryMachine, c.Machine)
	}
	// unchanged in recovering, offline, escalated; failures++.
	c := r.apply(nev("health_check_failed", node, ""))
	assert.Equal(t, flows.Change{Machine: flows.RecoveryMachine, Node: node, Event: "health_check_failed/stay", From: flows.Offline, To: flows.Offline}, c)
	assert.Equal(t, 6, r.m.Node(node).Failures)

	for _, st := range []string{flows.Recovering, flows.Escalated} {
		r := newRun(t, flows.Options{})
		r.reachNode(st)
		f := r.m.Node(node).Failures
		r.apply(nev("health_check_failed", node, ""))
		assert.Equal(t, st, r.m.Node(node).State)
		assert.Equal(t, f+1, r.m.Node(node).Failures)
	}

	// From healthy and from an unhealthy node with few failures, the count
	// decides the destination.
	r = newRun(t, flows.Options{})
	r.reachNode(flows.Healthy)
	r.apply(nev("health_check_failed", node, ""))
	assert.Equal(t, flows.Degraded, r.m.Node(node).State)
	r = newRun(t, flows.Options{})
	r.applyAll(nev("host_offline", node, ""), nev("recovery_initiated", node, ""), nev("recovery_failed", node, ""))
	require.Equal(t, flows.Unhealthy, r.m.Node(node).State)
	require.Zero(t, r.m.Node(node).Failures)
	r.apply(nev("health_check_failed", node, ""))
	assert.Equal(t, flows.Degraded, r.m.Node(node).State, "failures 1 goes to degraded, even from unhealthy")
}

func TestRecoveryRows(t *testing.T) {
	for _, typ := range []string{"health_check_passed", "node_recovered", "host_online"} {
		for _, from := range allNodeStates {
			t.Run(typ+" from "+from, func(t *testing.T) {
				r := newRun(t, flows.Options{})
				r.reachNode(from)
				before := flows.Node{}
				if n := r.m.Node(node); n != nil {
					before = *n
				}
				c := r.apply(nev(typ, node, ""))
				n := r.m.Node(node)
				assert.Equal(t, flows.Healthy, n.State)
				if from == flows.Recovering || from == flows.Offline {
					require.NotZero(t, before.Attempts, "setup")
				}
				assert.Zero(t, n.Failures)
				assert.Zero(t, n.Attempts)
				assert.Equal(t, from != flows.Healthy, c.Entered(flows.Healthy))
			})
		}
	}
	for _, from := range allNodeStates {
		t.Run("host_offline from "+from, func(t *testing.T) {
			r := newRun(t, flows.Options{})
			r.reachNode(from)
			before := flows.Node{}
			if n := r.m.Node(node); n != nil {
				before = *n
			}
			c := r.apply(nev("host_offline", node, ""))
			n := r.m.Node(node)
			assert.Equal(t, flows.Offline, n.State)
			assert.Equal(t, before.Failures, n.Failures)
			assert.Equal(t, before.Attempts, n.Attempts)
			assert.Equal(t, from != flows.Offline, c.Entered(flows.Offline))
			assert.Equal(t, start.Add(secs(r.seq)), n.UpdatedAt)
		})
	}
	t.Run("host_offline when offline", func(t *testing.T) {
		r := newRun(t, flows.Options{})
		r.reachNode(flows.Offline)
		before := *r.m.Node(node)
		c := r.apply(nev("host_offline", node, ""))
		assert.False(t, c.Changed())
		assert.False(t, c.Entered(flows.Offline), "not entering offline")
		after := *r.m.Node(node)
		assert.NotEqual(t, before.UpdatedAt, after.UpdatedAt)
		after.UpdatedAt = before.UpdatedAt
		assert.Equal(t, before, after, "nothing changes but updated_at")
	})
	for _, from := range []string{flows.Unknown, flows.Healthy, flows.Degraded, flows.Unhealthy} {
		t.Run("node_unhealthy from "+from, func(t *testing.T) {
			r := newRun(t, flows.Options{})
			r.reachNode(from)
			r.apply(nev("node_unhealthy", node, ""))
			assert.Equal(t, flows.Unhealthy, r.m.Node(node).State)
			assert.Equal(t, 3, r.m.Node(node).Failures, "max(failures, 3)")
		})
	}
	t.Run("node_unhealthy keeps more failures", func(t *testing.T) {
		r := newRun(t, flows.Options{})
		for range 4 {
			r.apply(nev("health_check_failed", node, ""))
		}
		r.apply(nev("node_unhealthy", node, ""))
		assert.Equal(t, 4, r.m.Node(node).Failures)
	})
	for _, from := range []string{flows.Unhealthy, flows.Offline, flows.Escalated, flows.Recovering} {
		t.Run("recovery_initiated from "+from, func(t *testing.T) {
			r := newRun(t, flows.Options{})
			r.reachNode(from)
			a := r.m.Node(node).Attempts
			r.apply(nev("recovery_initiated", node, ""))
			n := r.m.Node(node)
			assert.Equal(t, flows.Recovering, n.State)
			assert.Equal(t, a+1, n.Attempts, "attempts+1 without a payload attempt")
			r.apply(nev("recovery_initiated", node, `{"action":"failover_to_peer","attempt":3}`))
			assert.Equal(t, 3, n.Attempts, "attempts := payload attempt")
			assert.Equal(t, "failover_to_peer", n.LastAction)
			r.apply(nev("recovery_initiated", node, ""))
			assert.Equal(t, "failover_to_peer", n.LastAction, "kept when no action is given")
			assert.Equal(t, 4, n.Attempts)
		})
	}
	t.Run("recovery_completed", func(t *testing.T) {
		r := newRun(t, flows.Options{})
		r.reachNode(flows.Recovering)
		c := r.apply(nev("recovery_completed", node, ""))
		n := r.m.Node(node)
		assert.Equal(t, flows.Healthy, n.State)
		assert.Zero(t, n.Failures)
		assert.Zero(t, n.Attempts)
		assert.Equal(t, "restart_daemon", n.LastAction)
		assert.True(t, c.Entered(flows.Healthy))
	})
	t.Run("recovery_failed", func(t *testing.T) {
		r := newRun(t, flows.Options{})
		r.reachNode(flows.Recovering)
		c := r.apply(nev("recovery_failed", node, ""))
		n := r.m.Node(node)
		assert.Equal(t, flows.Unhealthy, n.State)
		assert.Equal(t, 1, n.Attempts, "attempts are kept")
		assert.Equal(t, 3, n.Failures)
		assert.Equal(t, flows.Change{Machine: flows.RecoveryMachine, Node: node, Event: "recovery_failed", From: flows.Recovering, To: flows.Unhealthy}, c)
	})
	t.Run("health_alert", func(t *testing.T) {
		r := newRun(t, flows.Options{})
		r.reachNode(flows.Unhealthy)
		c := r.apply(nev("health_alert", node, `{"action":"escalate_to_operator","attempts":3}`))
		assert.Equal(t, flows.Escalated, r.m.Node(node).State)
		assert.True(t, c.Entered(flows.Escalated))
		assert.True(t, r.m.Node(node).Failing())
	})
}

func TestNodeKnownAndUpdatedAt(t *testing.T) {
	r := newRun(t, flows.Options{Enforcement: flows.Lenient, HistoryLimit: 8})
	assert.Nil(t, r.m.Node(node))
	c := r.apply(nev("recovery_completed", node, ""))
	assert.True(t, c.Violation)
	n := r.m.Node(node)
	require.NotNil(t, n, "a node with violations only is listed")
	assert.False(t, n.Known, "but not known")
	assert.Equal(t, 1, n.Violations)
	assert.True(t, n.UpdatedAt.IsZero())
	assert.Equal(t, []string{node}, r.m.NodeKeys())

	r.apply(nev("node_overloaded", node, ""))
	assert.False(t, r.m.Node(node).Known, "a type outside the recovery machine does not make a node known")
	r.apply(nev("health_check_passed", node, ""))
	assert.True(t, n.Known)
	assert.Equal(t, start.Add(secs(3)), n.UpdatedAt)
	r.apply(nev("health_check_passed", "gpu-0", ""))
	assert.Equal(t, []string{"gpu-0", node}, r.m.NodeKeys())
	assert.Equal(t, uint64(4), r.m.NodeHistory("gpu-0")[0].Seq)
}

func TestRecoveryEventWithConfigMovesLastSeq(t *testing.T) {
	r := newRun(t, flows.Options{})
	e := nev("health_check_failed", node, "")
	e.ConfigKey = cfg
	c := r.apply(e)
	assert.Equal(t, cfg, c.Config)
	assert.Equal(t, uint64(1), r.p().LastSeq)
}

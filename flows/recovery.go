package flows

import (
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/fsm"
)

// decideRecovery checks a recovery-machine event against the node's state
// and picks the variant of health_check_failed. It changes nothing. With
// checkState false the state check is left to fsm's Apply.
func (m *Machines) decideRecovery(e *event.Event, checkState bool) (string, *event.Error) {
	id := e.NodeID
	if id == "" {
		return "", event.Errorf(event.CodeMissingField, "node_id", "the node the event is about, e.g. gpu-17",
			"%s needs a node_id", e.Type)
	}
	if checkState && !m.rec.Can(id, e.Type) {
		return "", recoveryTexts.refusal(e.Type, id, m.rec.State(id))
	}
	if e.Type != "health_check_failed" {
		return e.Type, nil
	}
	failures := 0
	state := Unknown
	if n := m.nodes[id]; n != nil {
		failures, state = n.Failures, n.State
	}
	switch state {
	case Recovering, Offline, Escalated:
		return evCheckFailedStay, nil
	}
	switch f := failures + 1; {
	case f <= 2:
		return evCheckFailedDegraded, nil
	case f <= 4:
		return evCheckFailedUnhealth, nil
	default:
		return evCheckFailedOffline, nil
	}
}

// applyRecovery folds a recovery-machine event.
func (m *Machines) applyRecovery(e *event.Event) (Change, *event.Error) {
	id := e.NodeID
	ev, err := m.decideRecovery(e, false)
	var step fsm.Step
	if err == nil {
		var ok bool
		if step, ok = m.rec.TryApply(id, ev, e.Seq, e.Time); !ok {
			err = recoveryTexts.refusal(e.Type, id, m.rec.State(id))
		}
	}
	if err != nil {
		if m.enforcement == Strict || err.Code == event.CodeMissingField {
			return Change{}, err
		}
		n := m.node(id)
		n.Violations++
		return Change{Machine: RecoveryMachine, Node: id, Config: e.ConfigKey, From: n.State, To: n.State, Violation: true, Refusal: err}, nil
	}
	n := m.node(id)
	wasKnown, wasFailing := n.Known, n.Known && n.Failing()
	switch e.Type {
	case "health_check_failed":
		n.Failures++
	case "health_check_passed", "node_recovered", "host_online", "recovery_completed":
		n.Failures, n.Attempts = 0, 0
	case "node_unhealthy":
		n.Failures = max(n.Failures, 3)
	case "recovery_initiated":
		if a, ok := e.Int("attempt"); ok {
			n.Attempts = int(a)
		} else {
			n.Attempts++
		}
		if a, ok := e.Str("action"); ok && a != "" {
			n.LastAction = a
		}
	}
	n.State = step.To
	n.Known = true
	n.UpdatedAt = e.Time
	m.nodeCount.add(wasKnown, wasFailing, n)
	if e.ConfigKey != "" {
		m.pipeline(e.ConfigKey).LastSeq = e.Seq
	}
	return Change{Machine: RecoveryMachine, Node: id, Config: e.ConfigKey, Event: ev, From: step.From, To: step.To}, nil
}

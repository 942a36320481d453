package fsm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	lfsm "github.com/looplab/fsm"
	"github.com/ringrift/ringriftd/fsm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestNewValidates(t *testing.T) {
	valid := exampleDefinition()
	tests := []struct {
		name string
		edit func(d *fsm.Definition)
		want string
	}{
		{"no name", func(d *fsm.Definition) { d.Name = "" }, "needs a name"},
		{"no states", func(d *fsm.Definition) { d.States = nil }, "no states"},
		{"duplicate state", func(d *fsm.Definition) { d.States = append(d.States, "idle") }, "listed twice"},
		{"bad state name", func(d *fsm.Definition) { d.States[3] = "fail ed" }, `state "fail ed"`},
		{"initial unknown", func(d *fsm.Definition) { d.Initial = "nowhere" }, `initial state "nowhere"`},
		{"no transitions", func(d *fsm.Definition) { d.Transitions = nil }, "no transitions"},
		{"empty event", func(d *fsm.Definition) { d.Transitions[0].Event = "" }, `event ""`},
		{"two variant separators", func(d *fsm.Definition) { d.Transitions[0].Event = "a/b/c" }, `event "a/b/c"`},
		{"no from", func(d *fsm.Definition) { d.Transitions[0].From = nil }, "no from-state"},
		{"unknown to", func(d *fsm.Definition) { d.Transitions[0].To = "x" }, `to-state "x"`},
		{"unknown from", func(d *fsm.Definition) { d.Transitions[0].From = []string{"x"} }, `from-state "x"`},
		{"label with colon", func(d *fsm.Definition) { d.Transitions[0].Label = "a: b" }, "label"},
		{"pair twice", func(d *fsm.Definition) {
			d.Transitions = append(d.Transitions, fsm.Transition{Event: "start", From: []string{"idle"}, To: "done"})
		}, "start from idle is defined twice"},
		{"plain and variant", func(d *fsm.Definition) {
			d.Transitions = append(d.Transitions, fsm.Transition{Event: "finish", From: []string{"running"}, To: "done"})
		}, "both plain and as variant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := exampleDefinition()
			d.States = append([]string(nil), d.States...)
			d.Transitions = append([]fsm.Transition(nil), d.Transitions...)
			tt.edit(&d)
			_, err := fsm.New(d)
			require.Error(t, err)
			assert.ErrorIs(t, err, fsm.ErrDefinition)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := fsm.New(valid)
	require.NoError(t, err)
	assert.Panics(t, func() { fsm.MustNew(fsm.Definition{}) })
}

func TestApply(t *testing.T) {
	m := fsm.MustNew(exampleDefinition())
	assert.Equal(t, "idle", m.State("a"), "a key starts at the initial state")
	assert.Empty(t, m.Keys(), "reading a state creates no key")

	st, err := m.Apply("a", "start", 1, t0)
	require.NoError(t, err)
	assert.Equal(t, fsm.Step{Key: "a", Event: "start", From: "idle", To: "running"}, st)
	assert.True(t, st.Changed())

	st, err = m.Apply("a", "tick", 2, t0.Add(time.Second))
	require.NoError(t, err, "a self-transition (looplab's NoTransitionError) is a success")
	assert.False(t, st.Changed())
	assert.Equal(t, "running", m.State("a"))

	st, err = m.Apply("a", "finish/error", 3, t0.Add(2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "failed", st.To)
	assert.Equal(t, "idle", m.State("b"), "keys are independent")
	assert.Equal(t, []string{"a"}, m.Keys())
}

func TestApplyRefusals(t *testing.T) {
	m := fsm.MustNew(exampleDefinition())
	_, err := m.Apply("a", "start", 1, t0)
	require.NoError(t, err)

	_, err = m.Apply("a", "reset", 2, t0)
	var na *fsm.NotAllowedError
	require.ErrorAs(t, err, &na)
	assert.ErrorIs(t, err, fsm.ErrNotAllowed)
	assert.Equal(t, &fsm.NotAllowedError{Machine: "job", Key: "a", Event: "reset", State: "running", Accepts: []string{"finish", "tick"}}, na)
	assert.Equal(t, "job: reset is not allowed for a in state running; it accepts finish, tick", err.Error())
	assert.Equal(t, "running", m.State("a"), "a refused event changes nothing")
	assert.Len(t, m.History("a"), 1, "a refused event is not in the history")

	_, err = m.Apply("a", "explode", 3, t0)
	assert.ErrorIs(t, err, fsm.ErrUnknownEvent)
	_, err = m.Apply("a", "finish", 3, t0)
	assert.ErrorIs(t, err, fsm.ErrUnknownEvent, "Apply takes the full name of a variant")

	_, err = m.Apply("fresh", "tick", 4, t0)
	require.ErrorAs(t, err, &na)
	assert.Equal(t, "idle", na.State)
	assert.Equal(t, []string{"a"}, m.Keys(), "a refused first event creates no key")
}

func TestCanAndExplain(t *testing.T) {
	m := fsm.MustNew(exampleDefinition())
	_, err := m.Apply("a", "start", 1, t0)
	require.NoError(t, err)

	assert.True(t, m.Can("a", "finish"), "a base name stands for its variants")
	assert.True(t, m.Can("a", "finish/ok"))
	assert.False(t, m.Can("a", "start"))
	assert.False(t, m.Can("a", "nope"))
	assert.True(t, m.Can("b", "start"), "an unseen key is at the initial state")
	assert.True(t, m.Allows("done", "reset"))
	assert.False(t, m.Allows("done", "tick"))
	assert.False(t, m.Allows("nowhere", "tick"))
	assert.True(t, m.Known("finish"))
	assert.True(t, m.Known("finish/ok"))
	assert.False(t, m.Known("finish/maybe"))

	assert.Equal(t, fsm.Explanation{Machine: "job", Key: "a", State: "running", Accepts: []string{"finish", "tick"}}, m.Explain("a"))
	assert.Equal(t, []string{"reset"}, m.Accepts("failed"))
	assert.Nil(t, m.Accepts("nowhere"))

	require.NoError(t, m.WhyNot("a", "tick"))
	err = m.WhyNot("a", "start")
	var na *fsm.NotAllowedError
	require.ErrorAs(t, err, &na)
	assert.Equal(t, "running", na.State)
	assert.ErrorIs(t, m.WhyNot("a", "nope"), fsm.ErrUnknownEvent)
	err = m.WhyNot("a", "reset")
	require.ErrorAs(t, err, &na)
	assert.Equal(t, "reset", na.Event)

	to, ok := m.Next("running", "finish/error")
	assert.True(t, ok)
	assert.Equal(t, "failed", to)
	_, ok = m.Next("idle", "finish/error")
	assert.False(t, ok)
	_, ok = m.Next("idle", "nope")
	assert.False(t, ok)
}

// TestTableMatchesLooplab cross-checks the transition table with looplab, the
// reference engine: for every state and every event, a fresh looplab FSM at
// that state either moves to the table's destination (a NoTransitionError
// counts as staying) or refuses exactly when the table does.
func TestTableMatchesLooplab(t *testing.T) {
	for _, def := range []fsm.Definition{exampleDefinition()} {
		m := fsm.MustNew(def)
		events := map[string]bool{}
		for _, tr := range def.Transitions {
			events[tr.Event] = true
		}
		for _, st := range def.States {
			for ev := range events {
				f := lfsm.NewFSM(st, def.LooplabEvents(), nil)
				err := f.Event(context.Background(), ev)
				var nt lfsm.NoTransitionError
				lOK := err == nil || errors.As(err, &nt)
				to, ok := m.Next(st, ev)
				require.Equal(t, lOK, ok, "%s from %s: looplab %v", ev, st, err)
				if ok {
					assert.Equal(t, f.Current(), to, "%s from %s", ev, st)
				}
			}
		}
	}
}

func TestHistory(t *testing.T) {
	apply := func(m *fsm.Machine, n int) {
		t.Helper()
		cycle := []string{"start", "tick", "finish/ok", "reset"}
		for i := 0; i < n; i++ {
			_, err := m.Apply("a", cycle[i%len(cycle)], uint64(i+1), t0.Add(time.Duration(i)*time.Second))
			require.NoError(t, err)
		}
	}
	seqs := func(rs []fsm.Record) []uint64 {
		var out []uint64
		for _, r := range rs {
			out = append(out, r.Seq)
		}
		return out
	}

	m := fsm.MustNew(exampleDefinition())
	assert.Equal(t, fsm.DefaultHistoryLimit, m.HistoryLimit())
	apply(m, 2)
	assert.Equal(t, []fsm.Record{
		{Seq: 1, Event: "start", From: "idle", To: "running", Time: t0},
		{Seq: 2, Event: "tick", From: "running", To: "running", Time: t0.Add(time.Second)},
	}, m.History("a"), "self-transitions are recorded too")
	assert.Nil(t, m.History("nobody"))

	m = fsm.MustNew(exampleDefinition())
	m.SetHistoryLimit(3)
	apply(m, 10)
	assert.Equal(t, []uint64{8, 9, 10}, seqs(m.History("a")), "the last N are kept, oldest first")
	m.SetHistoryLimit(2)
	assert.Equal(t, []uint64{9, 10}, seqs(m.History("a")), "lowering the limit trims")
	m.SetHistoryLimit(4)
	for i, ev := range []string{"finish/ok", "reset", "start"} {
		_, err := m.Apply("a", ev, uint64(11+i), t0)
		require.NoError(t, err)
	}
	assert.Equal(t, []uint64{10, 11, 12, 13}, seqs(m.History("a")), "raising the limit keeps order")

	m = fsm.MustNew(exampleDefinition())
	m.SetHistoryLimit(0)
	apply(m, 5)
	assert.Nil(t, m.History("a"), "limit 0 keeps none")
	assert.Equal(t, "running", m.State("a"))

	m = fsm.MustNew(exampleDefinition())
	m.SetHistoryLimit(-1)
	apply(m, 200)
	assert.Len(t, m.History("a"), 200, "a negative limit keeps all")
}

func TestClone(t *testing.T) {
	m := fsm.MustNew(exampleDefinition())
	m.SetHistoryLimit(2)
	_, err := m.Apply("a", "start", 1, t0)
	require.NoError(t, err)
	c := m.Clone()
	assert.Equal(t, m.Export(), c.Export())
	assert.Equal(t, 2, c.HistoryLimit())

	_, err = c.Apply("a", "finish/ok", 2, t0)
	require.NoError(t, err)
	_, err = c.Apply("b", "start", 3, t0)
	require.NoError(t, err)
	assert.Equal(t, "running", m.State("a"), "the original does not see the clone's events")
	assert.Equal(t, []string{"a"}, m.Keys())
	assert.Len(t, m.History("a"), 1)

	_, err = m.Apply("a", "finish/error", 4, t0)
	require.NoError(t, err)
	assert.Equal(t, "done", c.State("a"), "the clone does not see the original's events")
	assert.Equal(t, uint64(2), c.History("a")[1].Seq)
}

func TestExportImport(t *testing.T) {
	m := fsm.MustNew(exampleDefinition())
	for i, step := range []struct{ key, ev string }{{"a", "start"}, {"b", "start"}, {"a", "tick"}, {"b", "finish/ok"}} {
		_, err := m.Apply(step.key, step.ev, uint64(i+1), t0.Add(time.Duration(i)*time.Millisecond))
		require.NoError(t, err)
	}
	exp := m.Export()
	assert.Equal(t, fsm.KeyState{State: "done", History: []fsm.Record{
		{Seq: 2, Event: "start", From: "idle", To: "running", Time: t0.Add(time.Millisecond)},
		{Seq: 4, Event: "finish/ok", From: "running", To: "done", Time: t0.Add(3 * time.Millisecond)},
	}}, exp["b"])

	r := fsm.MustNew(exampleDefinition())
	require.NoError(t, r.Import(exp))
	assert.Equal(t, exp, r.Export())
	assert.Equal(t, m.Keys(), r.Keys())
	_, err := r.Apply("b", "reset", 5, t0)
	require.NoError(t, err, "an imported key goes on from its state")
	assert.Equal(t, "idle", r.State("b"))

	short := fsm.MustNew(exampleDefinition())
	short.SetHistoryLimit(1)
	require.NoError(t, short.Import(exp))
	assert.Equal(t, []fsm.Record{exp["b"].History[1]}, short.History("b"), "import trims to the limit")

	for name, bad := range map[string]map[string]fsm.KeyState{
		"unknown state":   {"a": {State: "nowhere"}},
		"unknown event":   {"a": {State: "idle", History: []fsm.Record{{Event: "boom", From: "idle", To: "idle"}}}},
		"unknown history": {"a": {State: "idle", History: []fsm.Record{{Event: "start", From: "idle", To: "x"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			err := r.Import(bad)
			assert.ErrorIs(t, err, fsm.ErrState)
			assert.Equal(t, "idle", r.State("b"), "a failed import changes nothing")
		})
	}
}

func TestMermaid(t *testing.T) {
	def := exampleDefinition()
	m := fsm.MustNew(def)
	got := m.Mermaid()
	want := strings.Join([]string{
		"stateDiagram-v2",
		"    [*] --> idle",
		"    idle --> running: start",
		"    running --> running: tick (progress)",
		"    running --> done: finish [ok]",
		"    running --> failed: finish [error]",
		"    done --> idle: reset",
		"    failed --> idle: reset",
	}, "\n") + "\n"
	assert.Equal(t, want, got)
	assert.Equal(t, got, fsm.MustNew(def).Mermaid(), "deterministic")

	// Every edge looplab's own visualiser draws is in the diagram.
	f := lfsm.NewFSM(def.Initial, def.LooplabEvents(), nil)
	lv, err := lfsm.VisualizeWithType(f, lfsm.MERMAID)
	require.NoError(t, err)
	edges := 0
	for _, line := range strings.Split(lv, "\n") {
		var from, to, ev string
		if n, _ := fmt.Sscanf(strings.TrimSpace(line), "%s --> %s %s", &from, &to, &ev); n != 3 || from == "[*]" {
			continue
		}
		edges++
		assert.Contains(t, got, "    "+from+" --> "+strings.TrimSuffix(to, ":")+": ", "looplab edge %q", line)
	}
	assert.Equal(t, 6, edges)
}

func TestDefinitionIsCopied(t *testing.T) {
	def := exampleDefinition()
	m := fsm.MustNew(def)
	def.Transitions[0].From[0] = "done"
	def.States[0] = "changed"
	assert.Equal(t, "idle", m.Definition().States[0], "New keeps its own copy")
	assert.True(t, m.Can("k", "start"))
	got := m.Definition()
	got.Transitions[0].To = "failed"
	assert.Equal(t, "running", m.Definition().Transitions[0].To, "Definition returns a copy")
}

// TestCloneSharesHistoryUntilWritten: a clone's history starts shared with
// the original (a wrapped ring included) and diverges on the first write of
// either side.
func TestCloneSharesHistoryUntilWritten(t *testing.T) {
	m := fsm.MustNew(exampleDefinition())
	m.SetHistoryLimit(2)
	for i, ev := range []string{"start", "tick", "tick"} { // wrapped: 2, 3
		_, err := m.Apply("a", ev, uint64(i+1), t0)
		require.NoError(t, err)
	}
	seqs := func(m *fsm.Machine) []uint64 {
		var out []uint64
		for _, r := range m.History("a") {
			out = append(out, r.Seq)
		}
		return out
	}
	c := m.Clone()
	_, err := c.Apply("a", "tick", 10, t0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{2, 3}, seqs(m))
	assert.Equal(t, []uint64{3, 10}, seqs(c))
	_, err = m.Apply("a", "tick", 20, t0)
	require.NoError(t, err)
	_, err = m.Apply("a", "tick", 21, t0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{20, 21}, seqs(m))
	assert.Equal(t, []uint64{3, 10}, seqs(c))

	c2 := c.Clone()
	c3 := c.Clone()
	_, err = c2.Apply("a", "tick", 30, t0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{3, 10}, seqs(c3), "clones of a clone are independent too")
	assert.Equal(t, []uint64{3, 10}, seqs(c))
}

package engine_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
	"github.com/ringrift/ringriftd/journal"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// ev decodes one event at t0 + sec seconds.
func ev(t *testing.T, sec int, raw string) event.Event {
	t.Helper()
	e, err := event.Decode([]byte(raw))
	require.Nil(t, err, raw)
	e.Time = t0.Add(time.Duration(sec) * time.Second)
	return e
}

// upToEvaluation is an iteration of hex8_2p up to a strong evaluation, whose
// policies go evaluation_completed → promotion_candidate (depth 1) →
// promotion_started, model_promoted (depth 2) → curriculum_rebalanced (3).
func upToEvaluation(t *testing.T) []event.Event {
	return []event.Event{
		ev(t, 0, `{"type":"training_started","config_key":"hex8_2p"}`),
		ev(t, 1, `{"type":"training_completed","config_key":"hex8_2p","payload":{"model_path":"m1"}}`),
		ev(t, 2, `{"type":"evaluation_started","config_key":"hex8_2p","payload":{"model_path":"m1"}}`),
		ev(t, 3, `{"type":"evaluation_completed","config_key":"hex8_2p","payload":{"model_path":"m1","opponents":{"random":{"games":50,"win_rate":0.96},"heuristic":{"games":50,"win_rate":0.7}}}}`),
	}
}

func openWith(t *testing.T, g *engine.Engine) *journal.Journal {
	t.Helper()
	j, err := journal.Open("policies", journal.Options{InMemory: true, Hook: g})
	require.NoError(t, err)
	t.Cleanup(func() { j.Close() })
	return j
}

// TestCascadeTooDeep: a cascade deeper than the limit refuses its cause
// with cascade_too_deep naming the chain, journals nothing of it and leaves
// the state exactly as it was, in a plain and in an atomic append.
func TestCascadeTooDeep(t *testing.T) {
	for _, atomic := range []bool{false, true} {
		t.Run(fmt.Sprint("atomic=", atomic), func(t *testing.T) {
			ctx := context.Background()
			th := flows.DefaultThresholds()
			th.MaxCascadeDepth = 1
			g := engine.New(engine.Options{Policies: flows.PolicyConfig{Enabled: flows.AllPolicies, Thresholds: th}})
			j := openWith(t, g)
			evs := upToEvaluation(t)
			_, err := j.Append(ctx, evs[:3], journal.AppendOptions{})
			require.NoError(t, err)
			before := views(t, g)
			seqBefore := j.Durable()

			res, err := j.Append(ctx, evs[3:], journal.AppendOptions{Atomic: atomic})
			var ref *event.Error
			if atomic {
				var ok bool
				ref, ok = event.AsError(err)
				require.True(t, ok, "atomic append refused whole: %v", err)
			} else {
				require.NoError(t, err)
				require.Equal(t, journal.Refused, res[0].Status)
				ref = res[0].Refusal
			}
			assert.Equal(t, event.CodeCascadeTooDeep, ref.Code)
			assert.Contains(t, ref.Message, "evaluation_completed → promotion_candidate → promotion_started")
			assert.Equal(t, seqBefore, j.Durable(), "nothing journaled")
			assert.Equal(t, before, views(t, g), "state unchanged")
			rej, err := j.Rejected(0, 10)
			require.NoError(t, err)
			require.NotEmpty(t, rej.Entries)
			assert.Equal(t, event.CodeCascadeTooDeep, rej.Entries[len(rej.Entries)-1].Code)

			// the state still takes the same event once the limit allows it
			g2 := engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
			j2 := openWith(t, g2)
			_, err = j2.Append(ctx, upToEvaluation(t), journal.AppendOptions{})
			require.NoError(t, err)
			assert.Contains(t, views(t, g2)["pipelines"], `"champion":"m1"`)
		})
	}
}

// TestDecisionEnvelope: a decision carries its policy's source, its cause's
// time, causation and correlation, and the id derived as journal.md says.
func TestDecisionEnvelope(t *testing.T) {
	ctx := context.Background()
	g := engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
	j := openWith(t, g)
	evs := upToEvaluation(t)
	evs[3].CorrelationID = "iter-1"
	res, err := j.Append(ctx, evs, journal.AppendOptions{})
	require.NoError(t, err)
	cause := res[3]
	require.Positive(t, cause.Decisions)
	var ds []event.Event
	require.NoError(t, j.Scan(cause.Seq+1, journal.Filter{}, func(e *event.Event) error { ds = append(ds, *e); return nil }))
	first := ds[0]
	assert.Equal(t, "promotion_candidate", first.Type)
	assert.Equal(t, "ringriftd/promotion", first.Source)
	assert.Equal(t, cause.ID.String(), first.CausationID)
	assert.Equal(t, "iter-1", first.CorrelationID)
	assert.True(t, first.Time.Equal(evs[3].Time))
	assert.Equal(t, uint64(evs[3].Time.UnixMilli()), first.ID.Time())
	in := append(cause.ID.Bytes(), 0)
	sum := sha256.Sum256(in)
	assert.Equal(t, sum[:10], first.ID.Bytes()[6:], "random part: SHA-256(cause id ‖ position 0)")
	for _, d := range ds[1:] {
		if d.CausationID == cause.ID.String() {
			assert.NotEqual(t, first.ID, d.ID, "each position has its own id")
		}
	}
}

// TestVerifierSeesOtherThresholds: re-running the policies with other
// thresholds than the journal's finds the decisions that differ.
func TestVerifierSeesOtherThresholds(t *testing.T) {
	ctx := context.Background()
	g := engine.New(engine.Options{Policies: flows.DefaultPolicyConfig()})
	j := openWith(t, g)
	gn := gen.New(gen.Options{Seed: 9})
	for range 300 {
		evs := make([]event.Event, 10)
		for i := range evs {
			evs[i] = gn.Next()
		}
		_, err := j.Append(ctx, evs, journal.AppendOptions{})
		require.NoError(t, err)
	}
	verify := func(c flows.PolicyConfig) []engine.Difference {
		v := engine.NewVerifier(engine.Options{Policies: c})
		var diffs []engine.Difference
		require.NoError(t, j.Scan(1, journal.Filter{}, func(e *event.Event) error { diffs = append(diffs, v.Fold(e)...); return nil }))
		return append(diffs, v.Close()...)
	}
	require.Empty(t, verify(flows.DefaultPolicyConfig()))

	other := flows.DefaultPolicyConfig()
	other.Thresholds.Strong = 0.99
	diffs := verify(other)
	require.NotEmpty(t, diffs)
	found := false
	for _, d := range diffs {
		for _, f := range d.Found {
			found = found || f.Type == "hyperparameter_updated"
		}
	}
	assert.True(t, found, "a strong feedback today's thresholds would not send")
}

package projections_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/projections"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fold is one of the three folds behind a common face.
type fold interface {
	json.Marshaler
	json.Unmarshaler
}

type folds struct {
	elo        *projections.Elo
	curriculum *projections.Curriculum
	health     *projections.Health
}

func newFolds() *folds {
	return &folds{projections.NewElo(), projections.NewCurriculum(), projections.NewHealth()}
}

func (f *folds) apply(evs []*event.Event) {
	for _, e := range evs {
		f.elo.Apply(e)
		f.curriculum.Apply(e)
		f.health.Apply(e)
	}
}

func (f *folds) clone() *folds {
	return &folds{f.elo.Clone(), f.curriculum.Clone(), f.health.Clone()}
}

// views is every rendering and every checkpoint, to compare byte for byte.
func (f *folds) views(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{
		"elo":        string(projections.EloJSON(f.elo)),
		"curriculum": string(projections.CurriculumJSON(f.curriculum)),
		"health":     string(projections.HealthJSON(f.health, "healthy", nil, func(string) *flows.Node { return nil })),
	}
	for name, x := range map[string]fold{"elo": f.elo, "curriculum": f.curriculum, "health": f.health} {
		b, err := x.MarshalJSON()
		require.NoError(t, err)
		out[name+" checkpoint"] = string(b)
	}
	return out
}

func restore(t *testing.T, f *folds) *folds {
	t.Helper()
	out := &folds{new(projections.Elo), new(projections.Curriculum), new(projections.Health)}
	for _, p := range []struct {
		from fold
		to   fold
	}{{f.elo, out.elo}, {f.curriculum, out.curriculum}, {f.health, out.health}} {
		b, err := p.from.MarshalJSON()
		require.NoError(t, err)
		require.NoError(t, p.to.UnmarshalJSON(b))
	}
	return out
}

func TestCheckpointRestoreThenFoldEqualsLive(t *testing.T) {
	evs := gen(t, 30000, 11)
	live := newFolds()
	live.apply(evs)
	want := live.views(t)
	require.Contains(t, want["elo"], `"hexbig_2p"`)
	for _, k := range []int{0, 1, 777, 15000, 29999, 30000} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			f := newFolds()
			f.apply(evs[:k])
			r := restore(t, f)
			assert.Equal(t, f.views(t), r.views(t), "a restored checkpoint is the same state")
			r.apply(evs[k:])
			got := r.views(t)
			for name := range want {
				assert.Equal(t, want[name], got[name], name)
			}
		})
	}
}

// current puts this build's checkpoint version in place of "v":1.
func current(s string) string {
	return strings.Replace(s, `"v":1`, fmt.Sprintf(`"v":%d`, projections.CheckpointVersion), 1)
}

func TestCheckpointRefusals(t *testing.T) {
	e := projections.NewElo()
	e.Apply(mk(t, "model_promoted", cfg, "", at(0), `{"model_path":"m","elo":1600}`))
	before := string(projections.EloJSON(e))
	err := e.UnmarshalJSON([]byte(fmt.Sprintf(`{"v":%d,"configs":{}}`, projections.CheckpointVersion+1)))
	assert.True(t, errors.Is(err, projections.ErrCheckpointVersion), "%v", err)
	for _, bad := range []string{
		`[]`,
		`{"v":1,"configs":{"hex8_2p":{"series":{"t":[2,1],"y":[1,1],"lo":0}}}}`,
		`{"v":1,"configs":{"hex8_2p":{"series":{"t":[1],"y":[],"lo":0}}}}`,
		`{"v":1,"configs":{"hex8_2p":{"series":{"t":[1],"y":[1500],"lo":1}}}}`,
		`{"v":1,"configs":{"hex8_2p":{"ratings":{"random":{"elo":1,"games":0}}}}}`,
	} {
		err := e.UnmarshalJSON([]byte(current(bad)))
		assert.True(t, errors.Is(err, projections.ErrCheckpointInvalid), "%s: %v", bad, err)
	}
	assert.Equal(t, before, string(projections.EloJSON(e)), "a refused checkpoint changes nothing")

	c := projections.NewCurriculum()
	assert.True(t, errors.Is(c.UnmarshalJSON([]byte(current(`{"v":1,"configs":{"hex8_2p":{"weight":3,"tier":0}}}`))), projections.ErrCheckpointInvalid))
	assert.True(t, errors.Is(c.UnmarshalJSON([]byte(`{"v":0}`)), projections.ErrCheckpointVersion))
	h := projections.NewHealth()
	assert.True(t, errors.Is(h.UnmarshalJSON([]byte(current(`{"v":1,"backpressure":{"queue":"high","resource":"none"}}`))), projections.ErrCheckpointInvalid))
}

func TestCloneIsIndependent(t *testing.T) {
	evs := gen(t, 20000, 5)
	live := newFolds()
	live.apply(evs[:10000])
	snap := live.views(t)
	c := live.clone()
	live.apply(evs[10000:])
	assert.Equal(t, snap, c.views(t), "folding into the original leaves the clone alone")
	c.apply(evs[10000:])
	assert.Equal(t, live.views(t), c.views(t), "the clone folds like the original")
}

// TestCloneCopyOnWrite checks the velocity points shared by a clone: a point
// inserted out of order into one side is never seen by the other.
func TestCloneCopyOnWrite(t *testing.T) {
	e := projections.NewElo()
	for i := range 10 {
		point(t, e, float64(2*i), 1500+float64(i))
	}
	c := e.Clone()
	point(t, e, 20, 1600)  // appended in order into the original
	point(t, e, 3, 1000)   // inserted out of order into the original
	point(t, c, 1, 2000)   // and into the clone
	point(t, c, 19, 1400)  // in order again in the clone
	c2 := c.Clone()        // a clone of a clone
	point(t, c2, 0.5, 100) // out of order into it
	ref := func(hs, ys []float64) (float64, int) {
		ts := make([]time.Time, len(hs))
		for i, h := range hs {
			ts[i] = at(h)
		}
		v, ok, n := naiveVelocity(ts, ys)
		require.True(t, ok)
		return v, n
	}
	base := []float64{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}
	baseY := []float64{1500, 1501, 1502, 1503, 1504, 1505, 1506, 1507, 1508, 1509}
	v, n := ref(append(base[:10:10], 20, 3), append(baseY[:10:10], 1600, 1000))
	assert.InDelta(t, v, e.Velocity(cfg).Value, 1e-9)
	assert.Equal(t, n, e.Velocity(cfg).Points)
	v, n = ref(append(base[:10:10], 1, 19), append(baseY[:10:10], 2000, 1400))
	assert.InDelta(t, v, c.Velocity(cfg).Value, 1e-9)
	assert.Equal(t, n, c.Velocity(cfg).Points)
	v, n = ref(append(base[:10:10], 1, 19, 0.5), append(baseY[:10:10], 2000, 1400, 100))
	assert.InDelta(t, v, c2.Velocity(cfg).Value, 1e-9)
	assert.Equal(t, n, c2.Velocity(cfg).Points)

	// the clones' checkpoints hold exactly their own points.
	b, err := c.MarshalJSON()
	require.NoError(t, err)
	var cp struct {
		Configs map[string]struct {
			Series struct {
				Y []float64 `json:"y"`
			} `json:"series"`
		} `json:"configs"`
	}
	require.NoError(t, json.Unmarshal(b, &cp))
	assert.Equal(t, []float64{1500, 2000, 1501, 1502, 1503, 1504, 1505, 1506, 1507, 1508, 1509, 1400}, cp.Configs[cfg].Series.Y)
}

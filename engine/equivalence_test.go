package engine_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/internal/gen"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/admit_golden.txt from the current code")

// admitScenario is one generated stream run through the engine.
type admitScenario struct {
	name     string
	seed     uint64
	n        int
	bad      float64
	window   int // events shuffled within windows of this size, as concurrent appenders reorder them
	mode     flows.Enforcement
	policies flows.PolicySet
}

var admitScenarios = []admitScenario{
	{"strict-off-ordered", 1, 20000, 0.02, 1, flows.Strict, 0},
	{"strict-off-shuffled", 11, 20000, 0.02, 64, flows.Strict, 0},
	{"strict-on-shuffled", 5, 20000, 0.05, 16, flows.Strict, flows.AllPolicies},
	{"strict-on-ordered", 7, 20000, 0.02, 1, flows.Strict, flows.AllPolicies},
	{"lenient-on-shuffled", 3, 20000, 0.10, 32, flows.Lenient, flows.AllPolicies},
	{"lenient-off-shuffled", 9, 10000, 0.15, 8, flows.Lenient, 0},
}

// transcript runs the scenario through Check, Begin, Admit and Commit or
// Rollback (every 211th append is rolled back, as an atomic batch would be)
// and writes every verdict to h, byte for byte: the refusal's fields, or
// each decision's JSON; then the projections and the checkpoint of the
// live engine and of a rebuild by Fold.
func transcript(t *testing.T, sc admitScenario, h hash.Hash) {
	g := gen.New(gen.Options{Seed: sc.seed, BadShare: sc.bad})
	evs := make([]event.Event, 0, sc.n)
	for len(evs) < sc.n {
		e := g.Next()
		if event.Validate(&e) == nil {
			evs = append(evs, e)
		}
	}
	r := rand.New(rand.NewPCG(sc.seed, 99))
	for i := 0; i < len(evs); i += sc.window {
		w := evs[i:min(i+sc.window, len(evs))]
		r.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	opts := engine.Options{Enforcement: sc.mode, Policies: flows.PolicyConfig{Enabled: sc.policies}}
	live := engine.New(opts)
	var journal []event.Event
	writeErr := func(tag string, err *event.Error) {
		if err == nil {
			fmt.Fprintf(h, "%s ok\n", tag)
			return
		}
		fmt.Fprintf(h, "%s %s|%d|%s|%s|%s\n", tag, err.Code, err.Index, err.Field, err.Message, err.Hint)
	}
	var seq uint64
	for i := range evs {
		e := evs[i]
		seq++
		e.Seq = seq
		writeErr("check", live.Check(&e))
		live.Begin(i%211 == 3)
		ds, err := live.Admit(&e)
		writeErr("admit", err)
		if err != nil {
			seq--
			live.Commit()
			continue
		}
		for k := range ds {
			h.Write(ds[k].AppendJSON(nil))
			h.Write([]byte{'\n'})
		}
		if i%211 == 3 {
			live.Rollback()
			seq--
			continue
		}
		live.Commit()
		journal = append(journal, e)
		journal = append(journal, ds...)
		seq += uint64(len(ds))
	}
	replayed := engine.New(engine.Options{Enforcement: sc.mode})
	for i := range journal {
		replayed.Fold(&journal[i])
	}
	for _, g := range []*engine.Engine{live, replayed} {
		for _, p := range engine.Projections {
			h.Write(g.JSON(p))
			h.Write([]byte{'\n'})
		}
	}
	cp, err := live.MarshalCheckpoint()
	require.NoError(t, err)
	h.Write(cp)
}

// TestAdmitGolden requires every verdict, decision, projection and
// checkpoint of the scenarios to be what the code produced when
// testdata/admit_golden.txt was written (go test -run TestAdmitGolden
// -update-golden): a change that only makes the engine faster must not
// move a byte.
func TestAdmitGolden(t *testing.T) {
	path := filepath.Join("testdata", "admit_golden.txt")
	got := map[string]string{}
	var lines []string
	for _, sc := range admitScenarios {
		h := sha256.New()
		transcript(t, sc, h)
		got[sc.name] = hex.EncodeToString(h.Sum(nil))
		lines = append(lines, sc.name+" "+got[sc.name])
	}
	if *updateGolden {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
		return
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	want := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, sum, _ := strings.Cut(s.Text(), " ")
		want[name] = sum
	}
	require.NoError(t, s.Err())
	require.Equal(t, want, got)
}

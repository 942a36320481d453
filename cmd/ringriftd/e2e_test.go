package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/replay"
)

// buildBinary builds ringriftd once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ringriftd-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ringriftd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is a running ringriftd binary.
type proc struct {
	cmd  *exec.Cmd
	base string
	logs *strings.Builder
	mu   *sync.Mutex
	done chan error
}

var listenRe = regexp.MustCompile(`addr=http://(\S+)`)

func startBinary(t *testing.T, dataDir string, args ...string) *proc {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"--data-dir", dataDir, "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, logs: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRe.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("ringriftd did not say where it listens:\n%s", p.log())
	}
	waitReady(t, p.base)
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("ringriftd did not exit")
		return nil
	}
}

// acked is what the load learned from the answers: id → seq.
type acked struct {
	mu  sync.Mutex
	ids map[string]uint64
}

// load posts single events from 8 clients until stop; only answers that
// say appended count as acknowledged.
func load(base string, stop <-chan struct{}, a *acked, n *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"type":"new_games","config_key":"square8_2p","node_id":"w%d","payload":{"games":%d}}`, c, i%7)
				resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader(body))
				if err != nil {
					continue // the daemon died: this one was not acknowledged
				}
				var out struct {
					Results []struct {
						Status string `json:"status"`
						Seq    uint64 `json:"seq"`
						ID     string `json:"id"`
					} `json:"results"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(out.Results) != 1 || out.Results[0].Status != "appended" {
					continue
				}
				a.mu.Lock()
				a.ids[out.Results[0].ID] = out.Results[0].Seq
				a.mu.Unlock()
				n.Add(1)
			}
		}(c)
	}
	return &wg
}

// exportSeqs reads the whole journal through /v1/export: id → seq, and the
// seqs in order.
func exportSeqs(t *testing.T, base string) (map[string]uint64, []uint64) {
	t.Helper()
	resp, err := http.Get(base + "/v1/export")
	require.NoError(t, err)
	defer resp.Body.Close()
	ids := map[string]uint64{}
	var seqs []uint64
	dec := json.NewDecoder(resp.Body)
	for {
		var e struct {
			Seq uint64 `json:"seq"`
			ID  string `json:"id"`
		}
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		ids[e.ID] = e.Seq
		seqs = append(seqs, e.Seq)
	}
	return ids, seqs
}

func allProjections(t *testing.T, base string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{"pipelines", "elo", "curriculum", "health"} {
		code, b := get(t, base+"/v1/"+p)
		require.Equal(t, 200, code)
		out[p] = string(b)
	}
	return out
}

// killRoundsEnv sets the rounds of TestEndToEndKill9 (make chaos runs 100+).
const killRoundsEnv = "RINGRIFT_KILL_ROUNDS"

// TestEndToEndKill9 starts the real binary, drives it over HTTP, kills it
// with SIGKILL under load at a random instant, restarts it, many times
// (killRoundsEnv; 3 by default); then checks that every acknowledged event
// survived at its seq with gap-free seqs, that the projections survive a
// quiet SIGKILL byte for byte, and that they equal a `replay rebuild` of the
// journal.
func TestEndToEndKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	rounds := 3
	if v := os.Getenv(killRoundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "%s=%q", killRoundsEnv, v)
		rounds = n
	}
	data := filepath.Join(t.TempDir(), "data")
	a := &acked{ids: map[string]uint64{}}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for round := 0; round < rounds; round++ {
		p := startBinary(t, data, "--checkpoint-every", "200ms")
		stop := make(chan struct{})
		var n atomic.Int64
		wg := load(p.base, stop, a, &n)
		target := int64(20 + rng.IntN(400))
		deadline := time.Now().Add(5 * time.Second)
		for n.Load() < target && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		// at least one acknowledged append to check, however slow the machine
		waitFor(t, 60*time.Second, fmt.Sprintf("round %d: an acknowledged append", round), func() bool { return n.Load() > 0 })
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		_ = p.wait(t)
		close(stop)
		wg.Wait()
		require.Positive(t, n.Load(), "round %d acknowledged appends", round)
	}
	p := startBinary(t, data)
	ids, seqs := exportSeqs(t, p.base)
	gaps := 0
	for i, s := range seqs {
		if s != uint64(i+1) {
			gaps++
		}
	}
	lost := 0
	a.mu.Lock()
	for id, seq := range a.ids {
		if ids[id] != seq {
			lost++
		}
	}
	total := len(a.ids)
	a.mu.Unlock()
	msg := fmt.Sprintf("kill -9 soak: %d rounds, %d events acknowledged, %d journaled, lost %d, gaps %d", rounds, total, len(seqs), lost, gaps)
	t.Log(msg)
	if os.Getenv(killRoundsEnv) != "" {
		fmt.Println(msg)
	}
	require.Zero(t, gaps, "gap-free seqs")
	require.Zero(t, lost, "every acknowledged event survived at its seq")

	// quiet: projections must survive a kill exactly
	before := allProjections(t, p.base)
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.wait(t)
	p = startBinary(t, data)
	assert.Equal(t, before, allProjections(t, p.base), "projections after SIGKILL and restart")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.wait(t), "exit 0 on SIGTERM")

	// and they are what a rebuild from the journal alone gives
	src, err := replay.OpenJournal(context.Background(), data)
	require.NoError(t, err)
	defer src.Close()
	reb, err := replay.Rebuild(context.Background(), src, replay.Point{}, replay.FoldOptions{})
	require.NoError(t, err)
	for name, js := range map[string][]byte{"pipelines": reb.Pipelines, "elo": reb.Elo, "curriculum": reb.Curriculum, "health": reb.Health} {
		assert.JSONEq(t, string(js), before[name], "%s equals replay rebuild", name)
	}
}

// TestGracefulSIGTERM: in-flight appends are answered, the checkpoint is
// written (the next start folds nothing), and the exit status is 0.
func TestGracefulSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := filepath.Join(t.TempDir(), "data")
	p := startBinary(t, data, "--checkpoint-every", "1h")
	a := &acked{ids: map[string]uint64{}}
	stop := make(chan struct{})
	var n atomic.Int64
	wg := load(p.base, stop, a, &n)
	for n.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.wait(t), "exit 0:\n%s", p.log())
	close(stop)
	wg.Wait()
	assert.Contains(t, p.log(), "shutting down")

	p = startBinary(t, data)
	// Its stderr is read in the background: the catch-up's line may not be
	// in yet when /readyz answers.
	waitFor(t, 30*time.Second, `the restarted daemon's "caught up" line`, func() bool { return strings.Contains(p.log(), `msg="caught up"`) })
	assert.Regexp(t, `caught up" checkpoint_seq=[1-9][0-9]* folded=0 `, p.log(), "the shutdown checkpoint covers the whole journal")
	ids, _ := exportSeqs(t, p.base)
	a.mu.Lock()
	for id, seq := range a.ids {
		require.Equal(t, seq, ids[id])
	}
	a.mu.Unlock()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.wait(t))
}

package journal_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

const crashEnv = "RINGRIFT_CRASH_CHILD_DIR"

// TestCrashKill9 kills a child process that appends under load (SIGKILL, at a
// random instant) many times over one journal directory, and checks after each
// kill that every acknowledged event is there with its id, that seqs are
// gap-free and that no atomic batch is partly there.
func TestCrashKill9(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	rounds := 15
	if testing.Short() {
		rounds = 4
	}
	dir := t.TempDir()
	acked := map[uint64]ulid.ULID{}
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill9$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, "RINGRIFT_CRASH_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it run until it has acknowledged something, then a while more.
		first, ok := <-lines
		require.True(t, ok, "child wrote nothing")
		time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		n := 0
		for _, l := range append([]string{first}, drain(lines)...) {
			// "ack <seq> <id> ." — a line cut by the kill lacks the dot.
			f := strings.Fields(l)
			if len(f) != 4 || f[0] != "ack" || f[3] != "." {
				continue
			}
			seq, err := strconv.ParseUint(f[1], 10, 64)
			require.NoError(t, err)
			acked[seq] = ulid.MustParse(f[2])
			n++
		}
		_ = cmd.Wait()
		verifyAfterCrash(t, dir, acked)
		t.Logf("round %d: %d acks, %d acknowledged in all", round, n, len(acked))
	}
}

func drain(ch <-chan string) []string {
	var out []string
	for l := range ch {
		out = append(out, l)
	}
	return out
}

func verifyAfterCrash(t *testing.T, dir string, acked map[uint64]ulid.ULID) {
	t.Helper()
	verifyAfterCrashOpts(t, dir, journal.Options{}, acked)
}

func verifyAfterCrashOpts(t *testing.T, dir string, opts journal.Options, acked map[uint64]ulid.ULID) {
	t.Helper()
	j, err := journal.Open(dir, opts)
	require.NoError(t, err)
	defer j.Close()
	all, err := j.Read(1, journal.Filter{}, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(len(all)), j.Durable())
	// Each check compares first and calls require only on a difference:
	// TestPowerLoss verifies hundreds of thousands of events per cut, and
	// testify's reflection per event made it take minutes under -race.
	batches := map[string][]int{}
	sizes := map[string]int{}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			require.Equal(t, uint64(i+1), e.Seq, "seqs are gap-free")
		}
		var p struct {
			Batch string `json:"batch"`
			Size  int    `json:"size"`
			I     int    `json:"i"`
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			require.NoError(t, err, "seq %d", e.Seq)
		}
		batches[p.Batch] = append(batches[p.Batch], p.I)
		sizes[p.Batch] = p.Size
	}
	// The secondary indexes after the crash: exact at once (the index up to
	// its watermark, then the log) and once the indexer caught up.
	for _, caughtUp := range []bool{false, true} {
		if caughtUp {
			require.NoError(t, j.WaitIndexed(context.Background(), j.Durable()))
		}
		for _, f := range []journal.Filter{{ConfigKey: "hex8_2p"}, {Types: []string{"new_games"}}} {
			got, err := j.Read(1, f, 0)
			require.NoError(t, err)
			require.Equal(t, len(all), len(got), "%+v (index at %d of %d)", f, j.Indexed(), j.Durable())
			for i := range got {
				if all[i].ID != got[i].ID {
					require.Equal(t, all[i].ID, got[i].ID, "%+v: seq %d", f, got[i].Seq)
				}
			}
		}
	}
	for seq, id := range acked {
		if seq > uint64(len(all)) || all[seq-1].ID != id {
			require.LessOrEqual(t, seq, uint64(len(all)), "acknowledged seq %d is missing", seq)
			require.Equal(t, id, all[seq-1].ID, "acknowledged seq %d holds another event", seq)
		}
	}
	for b, members := range batches {
		require.Len(t, members, sizes[b], "batch %s is partly there", b)
		for i, m := range members {
			if m != i {
				require.Equal(t, i, m, "batch %s out of order", b)
			}
		}
	}
}

// TestPowerLoss is the fsync half of crash safety, which a process kill
// cannot show (the kernel keeps what was written): on Pebble's crashable
// in-memory file system it takes the state a power cut would leave — only what
// was synced, plus some unsynced writes — at random instants under load, and
// checks that every event acknowledged before the cut is in it.
func TestPowerLoss(t *testing.T) {
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	fs := vfs.NewCrashableMem()
	j, err := journal.Open("j", journal.Options{FS: slowSyncFS{fs}})
	require.NoError(t, err)
	var mu sync.Mutex
	acked := map[uint64]ulid.ULID{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				size := 1 + (n*7+g)%9
				name := fmt.Sprintf("%d-%d", g, n)
				evs := make([]event.Event, size)
				for i := range evs {
					evs[i] = event.Event{Type: "new_games", ConfigKey: "hex8_2p", Source: "power",
						Payload: json.RawMessage(fmt.Sprintf(`{"batch":%q,"size":%d,"i":%d}`, name, size, i))}
				}
				res, err := j.Append(context.Background(), evs, journal.AppendOptions{Atomic: true})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, r := range res {
					acked[r.Seq] = r.ID
				}
				mu.Unlock()
			}
		}(g)
	}
	for round := 0; round < rounds; round++ {
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
		mu.Lock()
		before := make(map[uint64]ulid.ULID, len(acked))
		for k, v := range acked {
			before[k] = v
		}
		mu.Unlock()
		clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50 * (round % 2), RNG: rng(round)})
		verifyAfterCrashOpts(t, "j", journal.Options{FS: clone}, before)
		t.Logf("power cut %d: %d acknowledged before it, all there", round, len(before))
	}
	cancel()
	wg.Wait()
	require.NoError(t, j.Close())
}

// slowSyncFS makes every sync take a millisecond, as a disk does, so that an
// acknowledgement sent before the sync completes would be caught by a cut.
type slowSyncFS struct{ vfs.FS }

func (fs slowSyncFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return slowFile{f}, err
}

func (fs slowSyncFS) ReuseForWrite(old, new string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(old, new, c)
	return slowFile{f}, err
}

type slowFile struct{ vfs.File }

func (f slowFile) Sync() error     { time.Sleep(time.Millisecond); return f.File.Sync() }
func (f slowFile) SyncData() error { time.Sleep(time.Millisecond); return f.File.SyncData() }
func (f slowFile) SyncTo(length int64) (bool, error) {
	time.Sleep(time.Millisecond)
	return f.File.SyncTo(length)
}

func rng(seed int) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 7)) }

// crashChild appends forever from 8 goroutines, printing each acknowledged
// event; the parent kills it.
func crashChild(dir string) {
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	round := os.Getenv("RINGRIFT_CRASH_ROUND")
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; ; n++ {
				size := 1
				if n%3 == 0 {
					size = 1 + rand.IntN(40)
				}
				name := fmt.Sprintf("%s-%d-%d", round, g, n)
				evs := make([]event.Event, size)
				for i := range evs {
					evs[i] = event.Event{Type: "new_games", ConfigKey: "hex8_2p", Source: "crash",
						Payload: json.RawMessage(fmt.Sprintf(`{"batch":%q,"size":%d,"i":%d,"pad":"%0200d"}`, name, size, i, n))}
				}
				res, err := j.Append(context.Background(), evs, journal.AppendOptions{Atomic: true})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(3)
				}
				mu.Lock()
				for _, r := range res {
					fmt.Fprintf(w, "ack %d %s .\n", r.Seq, r.ID)
				}
				w.Flush()
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
}

package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oklog/ulid/v2"
)

// startClusterDaemons starts three ringriftd processes in cluster mode on
// loopback (they wait for each other to create the stream).
func (s *suite) startClusterDaemons(bin string) ([]*daemonProc, error) {
	peers, err := freeLoopbackPorts(3)
	if err != nil {
		return nil, err
	}
	procs := make([]*daemonProc, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i], errs[i] = s.startDaemon(bin, "--cluster", fmt.Sprintf("f%d", i+1),
				"--cluster-listen", peers[i], "--cluster-peers", strings.Join(peers, ","))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, p := range procs {
				if p != nil {
					_ = p.cmd.Process.Kill()
				}
			}
			return nil, fmt.Errorf("cluster node f%d: %w", i+1, err)
		}
	}
	return procs, nil
}

// failoverMs: three processes, 8 clients appending through all nodes (a
// failed append is retried with the same id on the next node); SIGKILL the
// stream leader's process and time until the next acknowledged append.
func (s *suite) failoverMs(bin string) (float64, error) {
	procs, err := s.startClusterDaemons(bin)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				_ = p.stop()
			}
		}
	}()
	// killedAt is set at the kill; firstAck is the first acknowledgement of
	// an attempt sent after it (an answer in flight at the kill does not
	// count).
	var killedAt, firstAck atomic.Int64
	var acks atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				body := fmt.Sprintf(`{"id":%q,"type":"new_games","config_key":"hex8_2p","node_id":"f%d","payload":{"games":1}}`, ulid.Make(), c)
				for attempt := c; ; attempt++ {
					select {
					case <-stop:
						return
					default:
					}
					sent := time.Now().UnixNano()
					status, ans, err := post(client, procs[attempt%3].base+"/v1/events", "application/json", []byte(body))
					if err == nil && status == http.StatusOK && (strings.Contains(string(ans), `"appended"`) || strings.Contains(string(ans), `"duplicate"`)) {
						// Only a new append says the stream takes appends
						// again: a retry of one that landed before the kill
						// is answered "duplicate" from the node's replica,
						// with no stream leader (that measured 15-500 ms).
						if k := killedAt.Load(); k != 0 && sent > k && strings.Contains(string(ans), `"appended"`) {
							firstAck.CompareAndSwap(0, time.Now().UnixNano())
						}
						acks.Add(1)
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for acks.Load() < 200 {
		time.Sleep(10 * time.Millisecond)
	}
	// The leader as all three nodes see it, under load: one node's view
	// may name a leader that has since moved.
	view, err := agreedLeader(procs, 30*time.Second)
	if err != nil {
		return 0, err
	}
	var leader int
	if _, err := fmt.Sscanf(view, "f%d", &leader); err != nil || leader < 1 || leader > 3 {
		return 0, fmt.Errorf("stream leader %q is not one of f1..f3", view)
	}
	killed := time.Now()
	killedAt.Store(killed.UnixNano())
	if err := procs[leader-1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return 0, err
	}
	<-procs[leader-1].done
	deadline := killed.Add(60 * time.Second)
	for firstAck.Load() == 0 {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no append acknowledged within 60 s of killing the stream leader %s", view)
		}
		time.Sleep(time.Millisecond)
	}
	return float64(firstAck.Load()-killed.UnixNano()) / 1e6, nil
}

// clusterFailover reports cluster.failover_ms.
func (s *suite) clusterFailover() error {
	if !s.want("cluster.failover_ms") {
		return nil
	}
	bin, err := s.buildDaemon()
	if err != nil {
		return err
	}
	_, err = s.median("cluster.failover_ms", func() (float64, error) { return s.failoverMs(bin) })
	return err
}

// agreedLeader asks every node for the stream leader until they all name
// the same one twice in a row, 200 ms apart.
func agreedLeader(procs []*daemonProc, within time.Duration) (string, error) {
	var last, seen string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		names := map[string]bool{}
		for _, p := range procs {
			var view struct {
				Leader string `json:"stream_leader"`
			}
			resp, err := http.Get(p.base + "/v1/cluster")
			if err != nil {
				names[""] = true
				continue
			}
			err = json.NewDecoder(resp.Body).Decode(&view)
			resp.Body.Close()
			if err != nil {
				view.Leader = ""
			}
			names[view.Leader] = true
		}
		seen = fmt.Sprint(names)
		if len(names) == 1 && !names[""] {
			for n := range names {
				if n == last {
					return n, nil
				}
				last = n
			}
			continue
		}
		last = ""
	}
	return "", fmt.Errorf("GET /v1/cluster: the nodes did not agree on a stream leader within %v (last seen: %s)", within, seen)
}

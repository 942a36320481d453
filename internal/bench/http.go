package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ringrift/ringriftd/internal/gen"
)

// httpFigures measures the daemon over HTTP, as a real child process with
// its defaults (all policies, strict enforcement) on a loopback port:
// http.ingest_ndjson, http.ingest_single_c64 and http.stream_fanout. Every
// run starts a fresh daemon on a fresh journal and stops it with SIGTERM.
func (s *suite) httpFigures() error {
	ndjson, single, fanout := s.want("http.ingest_ndjson"), s.want("http.ingest_single_c64"), s.want("http.stream_fanout")
	if !ndjson && !single && !fanout {
		return nil
	}
	bin, err := s.buildDaemon()
	if err != nil {
		return err
	}
	if ndjson {
		if err := s.httpIngestNDJSON(bin); err != nil {
			return err
		}
	}
	if single {
		if err := s.httpIngestSingle(bin); err != nil {
			return err
		}
	}
	if fanout {
		return s.httpStreamFanout(bin)
	}
	return nil
}

// limitInRun measures the journal figure name (a prefix of
// journalAppend's) unless this run already has it, so that an http figure
// is compared with a limit measured on the same machine at the same time.
func (s *suite) limitInRun(name string) error {
	if _, ok := s.figures[name+".events_per_sec"]; ok {
		return nil
	}
	only := s.only
	s.only = name
	defer func() { s.only = only }()
	return s.journalAppend()
}

// buildDaemon builds cmd/ringriftd once into the bench's directory.
func (s *suite) buildDaemon() (string, error) {
	out, err := exec.CommandContext(s.ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("the http figures build ./cmd/ringriftd: run the bench inside the module")
	}
	bin := filepath.Join(s.dir, "ringriftd")
	fmt.Fprintln(s.log, "building ringriftd for the http figures")
	cmd := exec.CommandContext(s.ctx, "go", "build", "-o", bin, "./cmd/ringriftd")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ringriftd: %w\n%s", err, out)
	}
	return bin, nil
}

// daemonProc is a running ringriftd.
type daemonProc struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	done chan error
	mu   sync.Mutex
	tail []string // its last log lines
}

var listenAddrRe = regexp.MustCompile(`addr=http://(\S+)`)

// startDaemon starts bin (with args) on a free loopback port with a fresh
// data directory and returns once GET /readyz answers 200.
func (s *suite) startDaemon(bin string, args ...string) (*daemonProc, error) {
	cmd := exec.Command(bin, append([]string{"--data-dir", s.tempDir(), "--listen", "127.0.0.1:0"}, args...)...)
	// The daemon reads RINGRIFT_* variables (token, trace …): the defaults
	// are what is measured.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RINGRIFT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if s.daemonProfile != "" {
		cmd.Env = append(cmd.Env, "RINGRIFTD_CPUPROFILE="+fmt.Sprintf("%s.%d", s.daemonProfile, s.n))
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ringriftd: %w", err)
	}
	p := &daemonProc{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if p.tail = append(p.tail, line); len(p.tail) > 40 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
			if m := listenAddrRe.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	fail := func(format string, args ...any) (*daemonProc, error) {
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("ringriftd: %s\n%s", fmt.Sprintf(format, args...), p.logs())
	}
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-p.done:
		p.done <- err
		return fail("exited at start: %v", err)
	case <-time.After(30 * time.Second):
		return fail("did not say where it listens within 30 s")
	case <-s.ctx.Done():
		return fail("%v", s.ctx.Err())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || s.ctx.Err() != nil {
			return fail("GET /readyz not 200 within 60 s (last: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *daemonProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// stop sends SIGTERM and wants a clean exit (0) within 60 s.
func (p *daemonProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("ringriftd: SIGTERM: %w", err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("ringriftd: after SIGTERM: %w\n%s", err, p.logs())
		}
		return nil
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("ringriftd: did not exit within 60 s of SIGTERM\n%s", p.logs())
	}
}

// withDaemon runs f against a fresh daemon and stops it; an unclean exit
// is an error of the run.
func (s *suite) withDaemon(bin string, f func(p *daemonProc, c *http.Client) (float64, error)) (float64, error) {
	p, err := s.startDaemon(bin)
	if err != nil {
		return 0, err
	}
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	start := time.Now()
	v, err := f(p, &http.Client{Transport: tr})
	tr.CloseIdleConnections()
	if serr := p.stop(); err == nil {
		err = serr
	}
	s.lastCPU = 0
	if ps := p.cmd.ProcessState; ps != nil {
		s.lastCPU = ps.UserTime() + ps.SystemTime()
		// Whether the daemon was short of CPU: the machine has 2 cores,
		// shared with the load.
		fmt.Fprintf(s.log, "    ringriftd used %.1f CPU-s (user %.1f, sys %.1f) in %.1f s of load\n",
			(ps.UserTime() + ps.SystemTime()).Seconds(), ps.UserTime().Seconds(), ps.SystemTime().Seconds(), time.Since(start).Seconds())
	}
	return v, err
}

// post sends body and returns the answer's status and body.
func post(c *http.Client, url, contentType string, body []byte) (int, []byte, error) {
	resp, err := c.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// warmConns opens n keep-alive connections (concurrent GET /healthz) so
// that the timed requests reuse them.
func warmConns(c *http.Client, base string, n int) error {
	_, err := concurrently(n, 1, func(_, _ int) error {
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})
	return err
}

var appendedMark = []byte(`"status":"appended"`)

// httpIngestNDJSON: 4 clients posting NDJSON batches of 1,000 generated
// events (?atomic=false, so refusals do not sink a batch).
func (s *suite) httpIngestNDJSON(bin string) error {
	// The target is relative to the journal's batch appends: measure them
	// in this run too.
	if err := s.limitInRun("journal.append_batch1000"); err != nil {
		return err
	}
	const clients, batches, size = 4, 200, 1000
	g := gen.New(gen.Options{Seed: 11})
	bodies := make([][]byte, batches)
	for b := range bodies {
		buf := make([]byte, 0, 256*size)
		for i := 0; i < size; i++ {
			e := g.Next()
			buf = e.AppendJSON(buf)
			buf = append(buf, '\n')
		}
		bodies[b] = buf
	}
	var shares, cpus []float64
	if _, err := s.median("http.ingest_ndjson.events_per_sec", func() (float64, error) {
		defer func() { cpus = append(cpus, cpuPerEvent(s.lastCPU, batches*size)) }()
		return s.withDaemon(bin, func(p *daemonProc, c *http.Client) (float64, error) {
			if err := warmConns(c, p.base, clients); err != nil {
				return 0, err
			}
			url := p.base + "/v1/events?atomic=false"
			var next, appended atomic.Int64
			d, err := concurrently(clients, 1, func(_, _ int) error {
				for {
					b := int(next.Add(1) - 1)
					if b >= batches {
						return nil
					}
					status, ans, err := post(c, url, "application/x-ndjson", bodies[b])
					if err != nil {
						return err
					}
					if status != http.StatusOK {
						return fmt.Errorf("POST batch %d: %d %s", b, status, truncate(ans))
					}
					appended.Add(int64(bytes.Count(ans, appendedMark)))
				}
			})
			if err != nil {
				return 0, err
			}
			n := int(appended.Load())
			fmt.Fprintf(s.log, "    posted %d events, appended %d (%.1f%%; the rest refused, mostly flow violations)\n",
				batches*size, n, 100*float64(n)/float64(batches*size))
			shares = append(shares, rate(n, d))
			return rate(batches*size, d), nil
		})
	}); err != nil {
		return err
	}
	sort.Float64s(shares)
	s.report("http.ingest_ndjson.appended_per_sec", shares[len(shares)/2])
	s.report("http.ingest_ndjson.daemon_cpu_us", medianOf(cpus))
	return nil
}

// cpuPerEvent is the daemon's CPU time (its whole life: start, load and
// stop) per event posted, in microseconds: what the http figures cost the
// daemon, which the rates alone hide on a machine shared with other load.
func cpuPerEvent(cpu time.Duration, events int) float64 {
	return float64(cpu.Microseconds()) / float64(events)
}

// httpIngestSingle: 64 keep-alive clients posting one event per request.
func (s *suite) httpIngestSingle(bin string) error {
	// The target is relative to the journal's own 64-writer appends.
	if err := s.limitInRun("journal.append_c64"); err != nil {
		return err
	}
	const clients, each = 64, 400
	bodies := make([][]byte, clients*each)
	for k := range bodies {
		e := newGames(k)
		bodies[k] = e.AppendJSON(nil)
	}
	var p99s, cpus []float64
	if _, err := s.median("http.ingest_single_c64.events_per_sec", func() (float64, error) {
		defer func() { cpus = append(cpus, cpuPerEvent(s.lastCPU, clients*each)) }()
		return s.withDaemon(bin, func(p *daemonProc, c *http.Client) (float64, error) {
			r, p99, err := s.singleLoad(p, c, bodies, clients, each)
			p99s = append(p99s, p99)
			return r, err
		})
	}); err != nil {
		return err
	}
	sort.Float64s(p99s)
	s.report("http.ingest_single_c64.p99_ms", p99s[len(p99s)/2])
	s.report("http.ingest_single_c64.daemon_cpu_us", medianOf(cpus))
	return nil
}

// singleLoad posts bodies, one event per request, from clients keep-alive
// clients (each bodies in turn); it returns the rate and the p99 latency
// in milliseconds.
func (s *suite) singleLoad(p *daemonProc, c *http.Client, bodies [][]byte, clients, each int) (float64, float64, error) {
	if err := warmConns(c, p.base, clients); err != nil {
		return 0, 0, err
	}
	url := p.base + "/v1/events"
	lat := make([]time.Duration, clients*each)
	var appended atomic.Int64
	d, err := concurrently(clients, each, func(_, k int) error {
		t := time.Now()
		status, ans, err := post(c, url, "application/json", bodies[k])
		lat[k] = time.Since(t)
		if err != nil {
			return err
		}
		if status >= 500 || status == http.StatusBadRequest {
			return fmt.Errorf("POST event %d: %d %s", k, status, truncate(ans))
		}
		if status == http.StatusOK && bytes.Contains(ans, appendedMark) {
			appended.Add(1)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if n := appended.Load(); n != int64(clients*each) {
		fmt.Fprintf(s.log, "    %d of %d events appended (the rest refused)\n", n, clients*each)
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	p99 := ms(lat[len(lat)*99/100])
	fmt.Fprintf(s.log, "    latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", ms(lat[len(lat)/2]), p99, ms(lat[len(lat)-1]))
	return rate(clients*each, d), p99, nil
}

// appendAnswer is the part of POST /v1/events's answer the fan-out reads.
type appendAnswer struct {
	Results []struct {
		Status string `json:"status"`
		Seq    uint64 `json:"seq"`
	} `json:"results"`
	Decisions []struct {
		Seq uint64 `json:"seq"`
	} `json:"decisions"`
}

// sentSeq is a seq an append answer named and when its POST was sent
// (since the run's base; -1 for a decision, which has no send of its own).
type sentSeq struct {
	seq uint64
	at  time.Duration
}

// httpStreamFanout: 10 SSE subscribers on /v1/stream while a loader
// ingests 10,000 events/s (batches of 50 every 5 ms, paced, from 4
// connections). The latency of an event is from just before the POST that
// appended it to when a subscriber reads its id line; every seq the
// answers name (events and decisions) must reach every subscriber.
func (s *suite) httpStreamFanout(bin string) error {
	const (
		subs     = 10
		loaders  = 4
		perBatch = 50
		interval = 5 * time.Millisecond // 50 / 5 ms = 10,000 events/s
		duration = 3 * time.Second
		batches  = int(duration / interval)
	)
	bodies := make([][]byte, batches)
	for b := range bodies {
		var buf []byte
		for i := 0; i < perBatch; i++ {
			e := newGames(b*perBatch + i)
			buf = e.AppendJSON(buf)
			buf = append(buf, '\n')
		}
		bodies[b] = buf
	}
	var missing []float64
	if _, err := s.median("http.stream_fanout.p99_ms", func() (float64, error) {
		return s.withDaemon(bin, func(p *daemonProc, c *http.Client) (float64, error) {
			if err := warmConns(c, p.base, loaders); err != nil {
				return 0, err
			}
			base := time.Now()
			ctx, cancel := context.WithCancel(s.ctx)
			defer cancel()

			// Subscribers: recv[seq] is when the id line was read (since
			// base, 0 = never).
			recv := make([][]time.Duration, subs)
			var lastSeen [subs]atomic.Uint64
			subErrs := make([]error, subs)
			var swg sync.WaitGroup
			for i := 0; i < subs; i++ {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/v1/stream", nil)
				if err != nil {
					return 0, err
				}
				resp, err := c.Do(req)
				if err != nil {
					return 0, fmt.Errorf("subscriber %d: %w", i, err)
				}
				if resp.StatusCode != http.StatusOK {
					resp.Body.Close()
					return 0, fmt.Errorf("subscriber %d: GET /v1/stream: %d", i, resp.StatusCode)
				}
				swg.Add(1)
				go func(i int, body io.ReadCloser) {
					defer swg.Done()
					defer body.Close()
					r := bufio.NewReaderSize(body, 256<<10)
					got := make([]time.Duration, 0, 64<<10)
					defer func() { recv[i] = got }()
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							if ctx.Err() == nil {
								subErrs[i] = fmt.Errorf("subscriber %d: stream ended: %v", i, err)
							}
							return
						}
						if !bytes.HasPrefix(line, []byte("id: ")) {
							continue
						}
						seq, err := strconv.ParseUint(string(bytes.TrimSpace(line[4:])), 10, 64)
						if err != nil {
							subErrs[i] = fmt.Errorf("subscriber %d: bad id line %q", i, line)
							return
						}
						at := time.Since(base)
						for uint64(len(got)) <= seq {
							got = append(got, 0)
						}
						got[seq] = at
						lastSeen[i].Store(seq)
					}
				}(i, resp.Body)
			}

			// Loader: paced batches, open loop (a slow answer delays only
			// its own connection).
			work := make(chan int, batches)
			sents := make([][]sentSeq, loaders)
			loadStart := time.Now()
			d, err := concurrently(loaders+1, 1, func(w, _ int) error {
				if w == loaders { // the pacer
					defer close(work)
					for b := 0; b < batches; b++ {
						if wait := time.Until(loadStart.Add(time.Duration(b) * interval)); wait > 0 {
							time.Sleep(wait)
						}
						work <- b
					}
					return nil
				}
				url := p.base + "/v1/events?atomic=false"
				for b := range work {
					at := time.Since(base)
					status, ans, err := post(c, url, "application/x-ndjson", bodies[b])
					if err != nil {
						return err
					}
					if status != http.StatusOK {
						return fmt.Errorf("POST batch %d: %d %s", b, status, truncate(ans))
					}
					var a appendAnswer
					if err := json.Unmarshal(ans, &a); err != nil {
						return fmt.Errorf("POST batch %d: answer: %w", b, err)
					}
					for _, r := range a.Results {
						if r.Status == "appended" {
							sents[w] = append(sents[w], sentSeq{r.Seq, at})
						}
					}
					for _, de := range a.Decisions {
						sents[w] = append(sents[w], sentSeq{de.Seq, -1})
					}
				}
				return nil
			})
			if err != nil {
				return 0, err
			}
			var all []sentSeq
			var maxSeq uint64
			decisions := 0
			for _, ss := range sents {
				all = append(all, ss...)
				for _, x := range ss {
					maxSeq = max(maxSeq, x.seq)
					if x.at < 0 {
						decisions++
					}
				}
			}
			// Wait for every subscriber to reach the last seq (or give up
			// after 15 s: what is not there by then is missing).
			deadline := time.Now().Add(15 * time.Second)
			for i := 0; i < subs; i++ {
				for lastSeen[i].Load() < maxSeq && time.Now().Before(deadline) && subErrs[i] == nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
			cancel()
			swg.Wait()
			for _, err := range subErrs {
				if err != nil {
					return 0, err
				}
			}
			var lat []time.Duration
			miss := 0
			for _, x := range all {
				for i := 0; i < subs; i++ {
					if x.seq >= uint64(len(recv[i])) || recv[i][x.seq] == 0 {
						miss++
						continue
					}
					if x.at >= 0 {
						lat = append(lat, recv[i][x.seq]-x.at)
					}
				}
			}
			missing = append(missing, float64(miss))
			if len(lat) == 0 {
				return 0, errors.New("no event reached a subscriber")
			}
			sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
			fmt.Fprintf(s.log, "    ingested %d events (+%d decisions) at %.0f events/s; %d deliveries, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; missing %d\n",
				batches*perBatch, decisions, rate(batches*perBatch, d), len(lat),
				ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]), miss)
			return ms(lat[len(lat)*99/100]), nil
		})
	}); err != nil {
		return err
	}
	// Not a median: any run that lost an event counts.
	s.report("http.stream_fanout.missing", slicesMax(missing))
	return nil
}

func slicesMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

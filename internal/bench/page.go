package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// httpPageOpen measures what an open dashboard costs the appends: the
// load of http.ingest_single_c64 with one dashboard page open in headless
// Chromium (reading the live stream, polling the projections) and without,
// in alternating pairs so that both meet the same machine. It reports both
// rates and http.page_open.ingest_ratio (page open / none), which the
// checks hold against noise. Chromium shares the 2 cores with the daemon
// and the load, so that ratio includes the browser's own CPU; the daemon's
// CPU per event with and without the page (http.page_open.daemon_cpu_ratio)
// is its own cost. The log says how much CPU Chromium's processes used
// during each load, by process type, to tell the two apart. Without a
// chromium on PATH it says so and measures nothing.
func (s *suite) httpPageOpen() error {
	if !s.want("http.page_open") {
		return nil
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		fmt.Fprintln(s.log, "  http.page_open: no chromium on PATH (apt-get install chromium); not measured")
		return nil
	}
	bin, err := s.buildDaemon()
	if err != nil {
		return err
	}
	const clients, each = 64, 400
	bodies := make([][]byte, clients*each)
	for k := range bodies {
		e := newGames(k)
		bodies[k] = e.AppendJSON(nil)
	}
	cpu := map[bool][]float64{} // the daemon's CPU µs per event, page open or not
	load := func(page bool) func() (float64, error) {
		return func() (float64, error) {
			defer func() { cpu[page] = append(cpu[page], float64(s.lastCPU.Microseconds())/float64(clients*each)) }()
			return s.withDaemon(bin, func(p *daemonProc, c *http.Client) (float64, error) {
				if !page {
					r, _, err := s.singleLoad(p, c, bodies, clients, each)
					return r, err
				}
				br, err := s.openPage(browser, p.base)
				if err != nil {
					return 0, err
				}
				defer br.stop()
				before, start := br.cpu(), time.Now()
				r, _, err := s.singleLoad(p, c, bodies, clients, each)
				fmt.Fprintf(s.log, "    chromium used %s during the %.2f s load\n", br.cpu().since(before), time.Since(start).Seconds())
				return r, err
			})
		}
	}
	if err := s.ratio("http.page_open.ingest_ratio",
		"http.page_open.ingest_single_c64.events_per_sec", load(true),
		"http.page_open.none.ingest_single_c64.events_per_sec", load(false)); err != nil {
		return err
	}
	// The daemon's own cost, apart from the browser's CPU on the shared
	// cores (in production the page runs on the operator's machine).
	open, none := medianOf(cpu[true]), medianOf(cpu[false])
	s.report("http.page_open.daemon_cpu_us_per_event", open)
	s.report("http.page_open.none.daemon_cpu_us_per_event", none)
	s.report("http.page_open.daemon_cpu_ratio", open/none)
	return nil
}

// page is a headless Chromium showing the dashboard.
type page struct {
	pgid int // the browser's process group: it and its helpers
	stop func()
}

// openPage starts headless Chromium on the dashboard at base and waits until
// the page has read the stream (the daemon has served /v1/stream to it) and
// the browser has settled; stop ends the browser.
func (s *suite) openPage(browser, base string) (*page, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+s.tempDir(), "--remote-debugging-port=0", base+"/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting %s: %w", browser, err)
	}
	stop := func() {
		cancel()
		_ = cmd.Wait()
	}
	// The page opens the stream once its script runs.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if streaming(base) {
			p := &page{pgid: cmd.Process.Pid, stop: stop}
			p.settle(s.log)
			return p, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("the dashboard page never opened the stream within 30 s")
}

// streaming says whether the daemon at base has an SSE stream open (its
// ringriftd_stream_clients gauge).
func streaming(base string) bool {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ringriftd_stream_clients "); ok {
			n, err := strconv.ParseFloat(v, 64)
			return err == nil && n >= 1
		}
	}
	return false
}

// settle waits until the browser has finished starting: its processes
// used at most 20 ms of CPU in each of two running 250 ms windows (an
// open page with no events coming uses about none), or 10 s went by. The
// load lasts about a second: without this, Chromium's start-up (0.1-0.3
// CPU-s of the renderer in the second after the stream opens, measured)
// falls into it, and the figure would measure a browser starting, not a
// page open.
func (p *page) settle(log io.Writer) {
	start := time.Now()
	prev := p.cpu().total()
	for quiet := 0; quiet < 2; {
		if time.Since(start) > 10*time.Second {
			fmt.Fprintf(log, "    chromium still busy 10 s after the stream opened; measuring anyway\n")
			return
		}
		time.Sleep(250 * time.Millisecond)
		cur := p.cpu().total()
		if cur-prev <= 2 { // ticks of 10 ms
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
	}
	fmt.Fprintf(log, "    chromium settled %v after the stream opened\n", time.Since(start).Round(10*time.Millisecond))
}

// procCPU is the CPU time of a browser's processes so far, by process type
// (its --type= flag; "browser" for the main one), in clock ticks.
type procCPU map[string]int64

// cpu reads /proc for the browser's processes: the one started and its
// descendants (Chromium's zygote puts its helpers in a session of their
// own). It logs where the browser's share of the cores went; Linux only,
// empty elsewhere.
func (p *page) cpu() procCPU {
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// the fields after "comm)": state ppid pgrp … utime(12) stime(13)
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid: ppid, ticks: ut + st}
	}
	out := procCPU{}
	for pid, pr := range procs {
		for a, n := pid, 0; a > 1 && n < 64; a, n = procs[a].ppid, n+1 {
			if a == p.pgid {
				out[procType(strconv.Itoa(pid))] += pr.ticks
				break
			}
		}
	}
	return out
}

// procType is a Chromium process's --type= (renderer, gpu-process,
// utility, zygote), or "browser".
func procType(pid string) string {
	b, _ := os.ReadFile("/proc/" + pid + "/cmdline")
	// Chromium rewrites its command line as one string: split on spaces too
	for _, a := range bytes.FieldsFunc(b, func(r rune) bool { return r == 0 || r == ' ' }) {
		if t, ok := bytes.CutPrefix(a, []byte("--type=")); ok {
			return string(t)
		}
	}
	return "browser"
}

// total is the ticks of every process.
func (c procCPU) total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// since returns the CPU used since before, as text: the total and by
// process type, in seconds (100 ticks a second, Linux's USER_HZ).
func (c procCPU) since(before procCPU) string {
	var total int64
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		d := c[k] - before[k]
		total += d
		if d > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(d)/100))
		}
	}
	return fmt.Sprintf("%.2f CPU-s (%s)", float64(total)/100, strings.Join(parts, ", "))
}

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
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
// is its own cost. Without a chromium on PATH it says so and measures
// nothing.
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
				if page {
					stop, err := s.openPage(browser, p.base)
					if err != nil {
						return 0, err
					}
					defer stop()
				}
				r, _, err := s.singleLoad(p, c, bodies, clients, each)
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

// openPage starts headless Chromium on the dashboard at base and waits until
// the page has read the stream (the daemon has served /v1/stream to it);
// stop ends the browser.
func (s *suite) openPage(browser, base string) (stop func(), err error) {
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
	stop = func() {
		cancel()
		_ = cmd.Wait()
	}
	// The page opens the stream once its script runs.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if streaming(base) {
			return stop, nil
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

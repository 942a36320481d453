// Package bench is the `make bench` command: it measures the journal (and,
// as later issues land, the engine, the daemon and replay) and the raw-Pebble
// limits they are compared with, in the same run, and prints medians.
package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Figure is one measured number.
type Figure struct {
	Name  string
	Value float64
}

// Run measures everything and writes the figures to stdout.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", envInt(getenv, "BENCH_RUNS", 3), "repetitions per figure; the median is reported (env BENCH_RUNS)")
	scanEvents := fs.Int("scan-events", envInt(getenv, "BENCH_SCAN_EVENTS", 1_000_000), "events in the journal the read figures scan")
	only := fs.String("only", "", "run only the figures whose name has this prefix")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	daemonProfile := fs.String("daemon-cpuprofile", "", "write a CPU profile of each ringriftd the http figures start to this path plus .N")
	rssChild := fs.String("rss-child", "", "internal: append -scan-events events to this directory and report peak RSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rssChild != "" {
		return rssChildMain(ctx, *rssChild, *scanEvents, stdout)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *runs < 1 {
		return fmt.Errorf("-runs: %d; want 1 or more", *runs)
	}
	dir, err := os.MkdirTemp("", "ringrift-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s := &suite{ctx: ctx, dir: dir, runs: *runs, scanEvents: *scanEvents, log: stderr, out: stdout, figures: map[string]float64{}, only: *only, daemonProfile: *daemonProfile}
	steps := []func() error{s.pebbleLimits, s.journalAppend, s.journalRead, s.journalRSS, s.engineFigures, s.replayCLI, s.httpFigures, s.httpPageOpen, s.clusterFigures, s.clusterFailover}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
	}
	s.checks()
	return nil
}

type suite struct {
	ctx        context.Context
	dir        string
	runs       int
	scanEvents int
	log, out   io.Writer
	figures    map[string]float64
	only       string
	n          int
	// lastCPU is the CPU time of the last daemon withDaemon ran.
	lastCPU time.Duration
	// daemonProfile: where ringriftd children write CPU profiles ("" none).
	daemonProfile string
}

func (s *suite) want(name string) bool {
	return s.only == "" || len(name) >= len(s.only) && name[:len(s.only)] == s.only || len(s.only) > len(name) && s.only[:len(name)] == name
}

// tempDir returns a fresh directory for one measurement.
func (s *suite) tempDir() string {
	s.n++
	d := filepath.Join(s.dir, strconv.Itoa(s.n))
	_ = os.MkdirAll(d, 0o755)
	return d
}

// median runs f s.runs times and reports the median of its results.
func (s *suite) median(name string, f func() (float64, error)) (float64, error) {
	vals := make([]float64, 0, s.runs)
	for i := 0; i < s.runs; i++ {
		v, err := f()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		vals = append(vals, v)
		fmt.Fprintf(s.log, "  %s run %d: %.2f\n", name, i+1, v)
	}
	sort.Float64s(vals)
	m := vals[len(vals)/2]
	if len(vals)%2 == 0 {
		m = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
	}
	s.report(name, m)
	return m, nil
}

// ratio measures a against b in alternating runs (a, b, a, b …), so that
// both meet the same machine (the disk's writeback, other load), reports
// each one's median and the median of the per-pair ratios as name.
func (s *suite) ratio(name, nameA string, a func() (float64, error), nameB string, b func() (float64, error)) error {
	var as, bs, rs []float64
	for i := 0; i < s.runs; i++ {
		va, err := a()
		if err != nil {
			return fmt.Errorf("%s: %w", nameA, err)
		}
		vb, err := b()
		if err != nil {
			return fmt.Errorf("%s: %w", nameB, err)
		}
		fmt.Fprintf(s.log, "  pair %d: %s %.2f, %s %.2f, ratio %.3f\n", i+1, nameA, va, nameB, vb, va/vb)
		as, bs, rs = append(as, va), append(bs, vb), append(rs, va/vb)
	}
	s.report(nameA, medianOf(as))
	s.report(nameB, medianOf(bs))
	s.report(name, medianOf(rs))
	return nil
}

func medianOf(vals []float64) float64 {
	vals = slices.Clone(vals)
	sort.Float64s(vals)
	m := vals[len(vals)/2]
	if len(vals)%2 == 0 {
		m = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
	}
	return m
}

func (s *suite) report(name string, v float64) {
	s.figures[name] = v
	if v >= 100 {
		fmt.Fprintf(s.out, "%s %.0f\n", name, v)
	} else {
		fmt.Fprintf(s.out, "%s %.3f\n", name, v)
	}
}

// checks prints each target beside what was measured (stderr).
func (s *suite) checks() {
	type check struct {
		what       string
		name, base string
		factor     float64 // name ≥ factor × base (base "" : name ≥ factor, or ≤ with negative)
	}
	cs := []check{
		{"group commit beats Pebble's own", "journal.append_c64.events_per_sec", "limit.pebble_sync_c64.events_per_sec", 1.5},
		{"batch appends", "journal.append_batch1000.events_per_sec", "limit.pebble_sync_batch1000.events_per_sec", 0.5},
		{"scan decode vs raw scan", "journal.scan_decode.events_per_sec", "limit.pebble_scan.events_per_sec", 0.5},
		{"scan decode absolute", "journal.scan_decode.events_per_sec", "", 1_000_000},
		{"read by config", "journal.read_by_config.events_per_sec", "limit.pebble_scan.events_per_sec", 0.3},
		{"append p99 ≤ 5 ms", "journal.append_c64.p99_ms", "", -5},
		{"peak RSS ≤ 150 MB", "journal.rss_mb", "", -150},
		{"rebuild absolute", "replay.rebuild.events_per_sec", "", 1_000_000},
		{"rebuild vs scan decode", "replay.rebuild.events_per_sec", "journal.scan_decode.events_per_sec", 0.5},
		{"enforcement overhead", "sequencer.enforce_overhead", "", 0.8},
		{"policies overhead", "sequencer.policies_overhead", "", 0.8},
		{"appends with a dashboard open", "http.page_open.ingest_ratio", "", 0.8},
		{"daemon CPU per event with a dashboard open", "http.page_open.daemon_cpu_ratio", "", -1.2},
		{"restart from checkpoint", "restart.checkpoint_ms", "", -500},
		{"replay lost ≤ 5 s", "replay.lost.seconds", "", -5},
		{"replay lost RSS ≤ 200 MB", "replay.lost.rss_mb", "", -200},
		{"replay rebuild ≤ 3 s", "replay.rebuild_cli.seconds", "", -3},
		{"replay rebuild RSS ≤ 200 MB", "replay.rebuild_cli.rss_mb", "", -200},
		{"http NDJSON ingest", "http.ingest_ndjson.events_per_sec", "", 100_000},
		{"http NDJSON vs batch appends", "http.ingest_ndjson.events_per_sec", "journal.append_batch1000.events_per_sec", 0.5},
		{"http NDJSON vs batch appends (issue 15)", "http.ingest_ndjson.events_per_sec", "journal.append_batch1000.events_per_sec", 0.8},
		{"http single, 64 clients", "http.ingest_single_c64.events_per_sec", "", 15_000},
		{"http single vs journal c64 (issue 15)", "http.ingest_single_c64.events_per_sec", "journal.append_c64.events_per_sec", 0.5},
		{"http single p99 ≤ 20 ms", "http.ingest_single_c64.p99_ms", "", -20},
		{"stream fan-out p99 ≤ 50 ms", "http.stream_fanout.p99_ms", "", -50},
		{"stream: no event missed (0)", "http.stream_fanout.missing", "", -0.5},
		{"cluster vs one node's journal", "cluster.append_c64.events_per_sec", "journal.append_c64.events_per_sec", 0.5},
		{"cluster vs raw JetStream R3", "cluster.append_c64.events_per_sec", "limit.jetstream_r3_c64.events_per_sec", 1},
		{"failover < 10 s", "cluster.failover_ms", "", -10000},
	}
	fmt.Fprintln(s.log, "targets:")
	for _, c := range cs {
		v, ok := s.figures[c.name]
		if !ok {
			continue
		}
		var pass bool
		var desc string
		switch {
		case c.base != "":
			b, ok := s.figures[c.base]
			if !ok {
				continue
			}
			pass = v >= c.factor*b
			desc = fmt.Sprintf("%s = %.0f ≥ %.1f × %s (%.0f): ratio %.2f", c.name, v, c.factor, c.base, b, v/b)
		case c.factor < 0:
			pass = v <= -c.factor
			desc = fmt.Sprintf("%s = %.3g ≤ %.3g", c.name, v, -c.factor)
		default:
			pass = v >= c.factor
			desc = fmt.Sprintf("%s = %.3g ≥ %.3g", c.name, v, c.factor)
		}
		verdict := "ok  "
		if !pass {
			verdict = "MISS"
		}
		fmt.Fprintf(s.log, "  %s %-28s %s\n", verdict, c.what, desc)
	}
}

func envInt(getenv func(string) string, key string, def int) int {
	if v, err := strconv.Atoi(getenv(key)); err == nil {
		return v
	}
	return def
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// concurrently runs writers goroutines that each call op each times (w is the
// writer, k its op's global index) and returns the wall time of the whole run.
func concurrently(writers, each int, op func(w, k int) error) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := op(w, w*each+i); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	return d, <-errs
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

func newGames(i int) event.Event {
	return event.Event{Type: "new_games", ConfigKey: configs[i%len(configs)], Source: "SelfplayRunner",
		NodeID: fmt.Sprintf("gpu-%02d", i%32), Payload: json.RawMessage(payload(i))}
}

func (s *suite) journalAppend() error {
	if s.want("journal.append_c64") {
		var p99s []float64
		var idx indexFigures
		if _, err := s.median("journal.append_c64.events_per_sec", func() (float64, error) {
			j, err := journal.Open(s.tempDir(), journal.Options{})
			if err != nil {
				return 0, err
			}
			defer j.Close()
			const writers, each = 64, 800
			lat := make([]time.Duration, writers*each)
			d, err := concurrently(writers, each, func(_, k int) error {
				t := time.Now()
				if _, err := j.Append(s.ctx, []event.Event{newGames(k)}, journal.AppendOptions{}); err != nil {
					return err
				}
				lat[k] = time.Since(t)
				return nil
			})
			if err != nil {
				return 0, err
			}
			sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
			p99s = append(p99s, float64(lat[len(lat)*99/100])/float64(time.Millisecond))
			if err := idx.add(s, j, writers*each, d); err != nil {
				return 0, err
			}
			return rate(writers*each, d), nil
		}); err != nil {
			return err
		}
		sort.Float64s(p99s)
		s.report("journal.append_c64.p99_ms", p99s[len(p99s)/2])
		idx.report(s, "journal.append_c64")
	}
	if s.want("journal.append_batch1000") {
		var idx indexFigures
		if _, err := s.median("journal.append_batch1000.events_per_sec", func() (float64, error) {
			j, err := journal.Open(s.tempDir(), journal.Options{})
			if err != nil {
				return 0, err
			}
			defer j.Close()
			const batches = 200
			evs := make([]event.Event, 1000)
			start := time.Now()
			for b := 0; b < batches; b++ {
				for i := range evs {
					evs[i] = newGames(b*1000 + i)
				}
				if _, err := j.Append(s.ctx, evs, journal.AppendOptions{}); err != nil {
					return 0, err
				}
			}
			d := time.Since(start)
			if err := idx.add(s, j, batches*1000, d); err != nil {
				return 0, err
			}
			return rate(batches*1000, d), nil
		}); err != nil {
			return err
		}
		idx.report(s, "journal.append_batch1000")
	}
	return nil
}

// indexFigures are what an append figure leaves to the indexer (the
// secondary indexes are built behind the log): the index lag when the
// appends are done, and the rate counting the wait until every event is
// indexed as well, so that no work is hidden after the timed part.
type indexFigures struct{ lags, rates []float64 }

// add records one run of n events appended in d, which just ended.
func (f *indexFigures) add(s *suite, j *journal.Journal, n int, d time.Duration) error {
	lag := j.IndexLag()
	start := time.Now()
	if err := j.WaitIndexed(s.ctx, j.Durable()); err != nil {
		return err
	}
	f.lags = append(f.lags, float64(lag))
	f.rates = append(f.rates, rate(n, d+time.Since(start)))
	return nil
}

func (f *indexFigures) report(s *suite, name string) {
	med := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	s.report(name+".index_lag_at_end", med(f.lags))
	s.report(name+".indexed_events_per_sec", med(f.rates))
}

// fillJournal appends n generated events in batches of 1,000.
func fillJournal(ctx context.Context, j *journal.Journal, n int) error {
	evs := make([]event.Event, 0, 1000)
	for b := 0; b < n; b += 1000 {
		evs = evs[:0]
		for i := b; i < min(b+1000, n); i++ {
			evs = append(evs, newGames(i))
		}
		if _, err := j.Append(ctx, evs, journal.AppendOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (s *suite) journalRead() error {
	if !s.want("journal.scan_decode") && !s.want("journal.read_by_config") {
		return nil
	}
	j, err := journal.Open(s.tempDir(), journal.Options{})
	if err != nil {
		return err
	}
	defer j.Close()
	fmt.Fprintf(s.log, "appending %d events for the read figures\n", s.scanEvents)
	if err := fillJournal(s.ctx, j, s.scanEvents); err != nil {
		return err
	}
	s.settle(j)
	if s.want("journal.scan_decode") {
		if _, err := s.median("journal.scan_decode.events_per_sec", func() (float64, error) {
			n := 0
			start := time.Now()
			err := j.Scan(1, journal.Filter{}, func(e *event.Event) error { n++; return nil })
			if err != nil {
				return 0, err
			}
			if n != s.scanEvents {
				return 0, fmt.Errorf("scanned %d events, want %d", n, s.scanEvents)
			}
			return rate(n, time.Since(start)), nil
		}); err != nil {
			return err
		}
	}
	if s.want("journal.read_by_config") {
		if _, err := s.median("journal.read_by_config.events_per_sec", func() (float64, error) {
			n := 0
			start := time.Now()
			err := j.Scan(1, journal.Filter{ConfigKey: "square19_3p"}, func(e *event.Event) error { n++; return nil })
			if err != nil {
				return 0, err
			}
			if want := s.scanEvents / len(configs); n < want {
				return 0, fmt.Errorf("read %d events of square19_3p, want about %d", n, want)
			}
			return rate(n, time.Since(start)), nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// journalRSS appends scanEvents events in a child process and reports its
// peak RSS, so that nothing else this process measured counts.
func (s *suite) journalRSS() error {
	if !s.want("journal.rss_mb") {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(s.ctx, exe, "-rss-child", s.tempDir(), "-scan-events", strconv.Itoa(s.scanEvents))
	cmd.Stderr = s.log
	var out bytes.Buffer
	cmd.Stdout = &out
	mb, err := peakRSS(cmd)
	if err != nil {
		return fmt.Errorf("rss child: %w", err)
	}
	if !strings.HasPrefix(out.String(), "done") {
		return fmt.Errorf("rss child: unexpected output %q", out.String())
	}
	s.report("journal.rss_mb", mb)
	return nil
}

func rssChildMain(ctx context.Context, dir string, n int, stdout interface{ Write([]byte) (int, error) }) error {
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		return err
	}
	if err := fillJournal(ctx, j, n); err != nil {
		return err
	}
	if err := j.Scan(1, journal.Filter{}, func(*event.Event) error { return nil }); err != nil {
		return err
	}
	if err := j.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, "done")
	return err
}

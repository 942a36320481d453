package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// load posts 1,000 events/s (a batch of 50 every 50 ms, paced, from 4
// connections) for d and returns each POST's latency and the last seq.
func load(t *testing.T, base string, d time.Duration) ([]time.Duration, uint64) {
	t.Helper()
	const perBatch, every = 50, 50 * time.Millisecond
	var (
		mu   sync.Mutex
		lat  []time.Duration
		last uint64
		wg   sync.WaitGroup
		fail error
	)
	work := make(chan string, 64)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				start := time.Now()
				resp, err := http.Post(base+"/v1/events?atomic=false", "application/x-ndjson", strings.NewReader(body))
				took := time.Since(start)
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("POST: %s", resp.Status)
				}
				if resp != nil {
					resp.Body.Close()
				}
				mu.Lock()
				lat = append(lat, took)
				if err != nil && fail == nil {
					fail = err
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for b := 0; time.Since(start) < d; b++ {
		if wait := time.Until(start.Add(time.Duration(b) * every)); wait > 0 {
			time.Sleep(wait)
		}
		var sb strings.Builder
		for i := 0; i < perBatch; i++ {
			fmt.Fprintf(&sb, `{"type":"new_games","config_key":"hex8_2p","node_id":"load-%d","payload":{"games":1}}`+"\n", i%24)
		}
		work <- sb.String()
	}
	close(work)
	wg.Wait()
	require.NoError(t, fail)
	var ready struct {
		Seq uint64 `json:"seq"`
	}
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	require.NoError(t, jsonDecode(resp, &ready))
	last = ready.Seq
	return lat, last
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(10 * time.Microsecond)
}

// TestDashboardUnderLoad: with 1,000 events/s arriving, the open page keeps
// up with the stream (its head reaches the last seq), its list stays
// bounded, and it logs no error. It logs what it measured — the page's
// frames per second and long tasks during the load, and the append latency
// with and without the page open — as figures, not as limits.
func TestDashboardUnderLoad(t *testing.T) {
	bctx := newBrowser(t)
	d := startDaemon(t, "--policies", "none")
	const dur = 4 * time.Second

	without, _ := load(t, d.base, dur)

	// the daemon's side of one stream client, without a browser: a Go
	// reader of /v1/stream
	sctx, stopStream := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(sctx, "GET", d.base+"/v1/stream", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	read := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, resp.Body)
		read <- n
	}()
	withReader, _ := load(t, d.base, dur)
	stopStream()
	resp.Body.Close()
	streamed := <-read

	b := newTab(t, bctx)
	b.do(t, chromedp.Navigate(d.base+"/#events"))
	b.waitFor(t, `document.getElementById('conn').dataset.state === 'live'`, 10*time.Second)
	eval[bool](t, b, `(() => { window.__frames = 0; window.__long = 0;
	  (function f() { window.__frames++; requestAnimationFrame(f); })();
	  new PerformanceObserver((l) => { window.__long += l.getEntries().length; }).observe({ type: "longtask", buffered: false });
	  return true; })()`)
	time.Sleep(time.Second)
	idle := eval[float64](t, b, `window.__frames`)
	eval[bool](t, b, `(() => { window.__frames = 0; window.__long = 0; return true; })()`)
	start := time.Now()
	with, last := load(t, d.base, dur)
	frames := eval[float64](t, b, `window.__frames`)
	loadFor := time.Since(start)
	b.waitFor(t, fmt.Sprintf(`document.getElementById('head').textContent === 'seq %d'`, last), 30*time.Second)
	caughtUp := time.Since(start) - loadFor
	longTasks := eval[int](t, b, `window.__long`)
	rows := eval[int](t, b, `document.querySelectorAll('#event-list tbody tr').length`)
	assert.LessOrEqual(t, rows, 250, "the list is bounded")
	assert.Equal(t, 250, rows, "and full")
	t.Logf("page open, idle: %.0f frames/s; %d events at 1,000/s over %v: %.0f frames/s, %d long tasks (>50 ms), caught up %v after the load, %d rows",
		idle, len(with)*50, loadFor.Round(time.Millisecond), frames/loadFor.Seconds(), longTasks, caughtUp.Round(time.Millisecond), rows)
	t.Logf("append latency (batch of 50): no reader p50 %v p99 %v; one Go stream reader (%d KiB read) p50 %v p99 %v; the page open p50 %v p99 %v",
		quantile(without, 0.5), quantile(without, 0.99), streamed>>10, quantile(withReader, 0.5), quantile(withReader, 0.99),
		quantile(with, 0.5), quantile(with, 0.99))
	b.noProblems(t, nil)
}

package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The browser tests drive the dashboard in headless Chromium (Debian's
// chromium package; .ci/run installs it) against a real ringriftd binary fed
// by its simulator. Without Chromium they fail: set RINGRIFT_NO_BROWSER=1 to
// skip them explicitly on a machine that cannot have one.

// chromiumPath finds Chromium or fails the test loudly.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("RINGRIFT_NO_BROWSER") == "1" {
		t.Skip("RINGRIFT_NO_BROWSER=1: the dashboard's browser tests are skipped")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the dashboard's browser tests need Chromium: apt-get install -y chromium (or set RINGRIFT_NO_BROWSER=1 to skip them)")
	return ""
}

// binDir holds the daemon built for the tests; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildDaemon builds cmd/ringriftd once per test binary.
var buildDaemon = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ringriftd-web")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "ringriftd")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/ringriftd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// daemon is a running ringriftd binary.
type daemon struct {
	bin, base string
	mu        sync.Mutex
	log       strings.Builder
}

func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

var listenRe = regexp.MustCompile(`addr=http://(\S+)`)

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	bin, err := buildDaemon()
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	d := &daemon{bin: bin}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case a := <-addr:
		d.base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("ringriftd did not say where it listens:\n%s", d.logs())
	}
	// a start may take seconds on a loaded machine
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get(d.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("ringriftd never ready")
	return nil
}

// simulate runs `ringriftd simulate` to the end: n events at 1 min of
// simulated time each, starting at start.
func (d *daemon) simulate(t *testing.T, n int, start time.Time, extra ...string) {
	t.Helper()
	args := append([]string{"simulate", "--url", d.base, "--seed", "7", "--step", "1m", "--start", start.UTC().Format(time.RFC3339),
		"--events", fmt.Sprint(n), "--rate", "0", "--every", "0"}, extra...)
	out, err := exec.Command(d.bin, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("simulate: %s", strings.TrimSpace(string(out)))
}

// getJSON reads a /v1 path into v (with the token when given).
func (d *daemon) getJSON(t *testing.T, path string, v any, token string) {
	t.Helper()
	req, err := http.NewRequest("GET", d.base+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "GET %s: %s", path, b)
	require.NoError(t, json.Unmarshal(b, v), "GET %s", path)
}

// post appends NDJSON and returns the seq of the last event.
func (d *daemon) post(t *testing.T, body string) uint64 {
	t.Helper()
	resp, err := http.Post(d.base+"/v1/events?atomic=false", "application/x-ndjson", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Seq uint64 `json:"seq"`
		} `json:"results"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, 200, resp.StatusCode)
	require.NotEmpty(t, out.Results)
	return out.Results[len(out.Results)-1].Seq
}

// browser is a headless Chromium tab that records what the page logs and
// requests.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string // console errors, exceptions, browser log errors
	requests []*network.Request
	shots    string
}

// newBrowser starts Chromium with the flags that work as root in a
// container, and a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1600),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(bctx), "start Chromium")
	return bctx
}

// newTab opens a tab (its own sessionStorage) in the browser and records
// its console and requests.
func newTab(t *testing.T, bctx context.Context) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx))
	b := &browser{ctx: ctx, shots: t.TempDir()}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.problems = append(b.problems, "console."+string(e.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.problems = append(b.problems, "exception: "+msg)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				b.problems = append(b.problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, e.Request)
		}
	}))
	return b
}

func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// eval evaluates a JavaScript expression into v.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// waitFor polls a JavaScript predicate until it is true or the timeout.
func (b *browser) waitFor(t *testing.T, expr string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond)))
	require.NoError(t, err, "waiting for %s", expr)
}

// screenshot saves the page to the test's temporary directory (and to
// RINGRIFT_SCREENSHOT_DIR when set, to update docs/dashboard.png).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	require.NoError(t, err)
	for _, dir := range []string{b.shots, os.Getenv("RINGRIFT_SCREENSHOT_DIR")} {
		if dir != "" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
		}
	}
}

// noProblems requires that the page logged no error, except those ok allows.
func (b *browser) noProblems(t *testing.T, ok func(string) bool) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var bad []string
	for _, p := range b.problems {
		if ok == nil || !ok(p) {
			bad = append(bad, p)
		}
	}
	assert.Empty(t, bad, "console errors and exceptions of the page")
}

func (b *browser) requested() []*network.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests)
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

package deploy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const (
	rulesFile     = "prometheus/ringriftd-alerts.yml"
	rulesTests    = "prometheus/ringriftd-alerts.test.yml"
	dashboardFile = "grafana/ringriftd.json"
)

// promtool finds promtool (Debian's prometheus package) or fails loudly.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("checking the alerting rules needs promtool: apt-get install -y prometheus")
	}
	return p
}

// TestRulesCheck: promtool accepts the rules and their unit tests pass
// (each alert fires on the series it is about, with its annotations).
func TestRulesCheck(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTests}} {
		out, err := exec.Command(tool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
}

// exprs returns every PromQL expression of the rules and of the dashboard
// (panel targets and template queries).
func exprs(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	b, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(b, &rules))
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out[rulesFile] = append(out[rulesFile], r.Expr)
		}
	}
	b, err = os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(b, &dash), "the Grafana dashboard is JSON")
	require.Equal(t, "ringriftd", dash.Title)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q has an empty query", p.Title)
			out[dashboardFile] = append(out[dashboardFile], tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			out[dashboardFile] = append(out[dashboardFile], v.Definition)
		}
	}
	require.Greater(t, len(out[dashboardFile]), 20, "the dashboard has its panels")
	return out
}

var metricRe = regexp.MustCompile(`\b((?:ringriftd|go|process)_[a-z0-9_]+)\b`)

// TestReferencedMetricsAreExported: every metric the rules and the
// dashboard name is in the /metrics of a daemon that a simulated cluster
// has driven (its clock in the past, so some configs are stuck).
func TestReferencedMetricsAreExported(t *testing.T) {
	exported := scrape(t)
	for file, es := range exprs(t) {
		for _, e := range es {
			for _, m := range metricRe.FindAllString(e, -1) {
				assert.True(t, exported[m], "%s: %s is not a metric the daemon exports (in %s)", file, m, e)
			}
		}
	}
	for _, want := range []string{"ringriftd_pipeline_stuck_seconds", "ringriftd_subscription_dead_letters_total",
		"ringriftd_subscription_lag", "ringriftd_refusals_total", "ringriftd_ready"} {
		found := false
		for _, e := range exprs(t)[rulesFile] {
			found = found || strings.Contains(e, want)
		}
		assert.True(t, found, "an alert watches %s", want)
	}
}

// scrape builds and starts ringriftd, drives it with the simulator and
// returns the metric names of its /metrics (histograms with their _bucket,
// _sum and _count series).
func scrape(t *testing.T) map[string]bool {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ringriftd")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/ringriftd").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	cmd := exec.Command(bin, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`addr=http://(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("ringriftd did not say where it listens")
	}
	start := time.Now().Add(-100 * time.Hour).UTC().Format(time.RFC3339)
	out, err = exec.Command(bin, "simulate", "--url", base, "--seed", "3", "--step", "1m", "--start", start,
		"--events", "3000", "--rate", "0", "--every", "0").CombinedOutput()
	require.NoError(t, err, "simulate: %s", out)
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	names := map[string]bool{}
	typeRe := regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`)
	for _, m := range typeRe.FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
		if m[2] == "histogram" || m[2] == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+s] = true
			}
		}
	}
	list := make([]string, 0, len(names))
	for n := range names {
		if strings.HasPrefix(n, "ringriftd_") {
			list = append(list, n)
		}
	}
	sort.Strings(list)
	t.Logf("%d ringriftd metrics exported: %s", len(list), strings.Join(list, " "))
	return names
}

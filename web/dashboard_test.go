package web_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// card is what a pipeline card says about its config.
type card struct {
	Config    string `json:"config"`
	State     string `json:"state"`
	Iteration int    `json:"iteration"`
	Stuck     bool   `json:"stuck"`
	Champion  string `json:"champion"`
}

const readCards = `[...document.querySelectorAll('#pipeline-cards .card')].map(c => ({config: c.dataset.config,
  state: c.dataset.state, iteration: +c.dataset.iteration, stuck: c.dataset.stuck === 'true'}))`

// TestDashboard drives the page against a daemon fed by the simulator whose
// clock ended 33 h ago, so that the configs not collecting are stuck by the
// wall clock.
func TestDashboard(t *testing.T) {
	bctx := newBrowser(t)
	d := startDaemon(t)
	d.simulate(t, 4000, time.Now().Add(-100*time.Hour))
	b := newTab(t, bctx)
	b.do(t, chromedp.Navigate(d.base+"/"))

	t.Run("cards match /v1/pipelines", func(t *testing.T) {
		var api map[string]struct {
			State     string `json:"state"`
			Iteration int    `json:"iteration"`
			Stuck     bool   `json:"stuck"`
		}
		d.getJSON(t, "/v1/pipelines", &api, "")
		var want []card
		stuck := 0
		for k, p := range api {
			want = append(want, card{Config: k, State: p.State, Iteration: p.Iteration, Stuck: p.Stuck})
			if p.Stuck {
				stuck++
			}
		}
		sort.Slice(want, func(i, j int) bool { return want[i].Config < want[j].Config })
		require.Greater(t, stuck, 0, "the simulated clock ended 33 h ago: some config is stuck")
		b.waitFor(t, `document.querySelectorAll('#pipeline-cards .card').length === 12`, 10*time.Second)
		got := eval[[]card](t, b, readCards)
		assert.Equal(t, want, got)
		// a stuck config is marked: its card says so, with how long
		for _, c := range want {
			if !c.Stuck {
				continue
			}
			note := eval[string](t, b, fmt.Sprintf(`document.querySelector('.card[data-config=%q] .stuck-note')?.textContent || ''`, c.Config))
			assert.Contains(t, note, "stuck for", c.Config)
			assert.Equal(t, true, eval[bool](t, b, fmt.Sprintf(`document.querySelector('.card[data-config=%q]').classList.contains('stuck')`, c.Config)))
		}
		b.screenshot(t, "pipelines")
	})

	t.Run("a posted event is listed within 2 s", func(t *testing.T) {
		b.do(t, chromedp.Navigate(d.base+"/#events"))
		b.waitFor(t, `document.getElementById('conn').dataset.state === 'live'`, 10*time.Second)
		seq := d.post(t, `{"type":"new_games","config_key":"hex8_2p","node_id":"browser-probe","payload":{"games":1}}`)
		start := time.Now()
		b.waitFor(t, fmt.Sprintf(`!!document.querySelector('#event-list tr[data-seq="%d"]')`, seq), 2*time.Second)
		t.Logf("event #%d listed %v after its POST answered", seq, time.Since(start).Round(time.Millisecond))
		// filtering by node keeps it and hides the rest
		b.do(t, chromedp.SendKeys("#f-node", "browser-probe"))
		b.waitFor(t, `document.querySelectorAll('#event-list tbody tr').length === 1`, 10*time.Second)
		// a click shows the envelope and the decisions taken on it
		b.do(t, chromedp.Click(fmt.Sprintf(`#event-list tr[data-seq="%d"]`, seq)))
		b.waitFor(t, `!document.getElementById('event-detail').hidden && document.getElementById('detail-json').textContent.includes('browser-probe')`, 5*time.Second)
		b.screenshot(t, "events")
	})

	t.Run("a burst is sampled, and the filters go to the stream", func(t *testing.T) {
		// The page reads a sample of the stream (?max_rate=): a burst of
		// 3,000 events in one append sends it the newest ones and a count
		// of the rest. A filter narrows the stream on the daemon, so a
		// matching event in the middle of a burst is still listed.
		setNode := func(v string) {
			eval[bool](t, b, fmt.Sprintf(`(() => { const i = document.getElementById('f-node'); i.value = %q;
			  i.dispatchEvent(new Event('input')); return true; })()`, v))
		}
		streamAsked := func(part string, not bool) {
			deadline := time.Now().Add(15 * time.Second)
			for {
				var last string
				for _, r := range b.requested() {
					if strings.Contains(r.URL, "/v1/stream?") {
						last = r.URL
					}
				}
				if strings.Contains(last, part) != not {
					assert.Contains(t, last, "max_rate=", "the page asks for a sample")
					return
				}
				require.True(t, time.Now().Before(deadline), "the page's stream is %s; want it with%s %s", last, map[bool]string{true: "out"}[not], part)
				time.Sleep(20 * time.Millisecond)
			}
		}
		burst := func(probeAt int) string {
			var sb strings.Builder
			for i := 0; i < 3000; i++ {
				node := fmt.Sprintf("burst-%d", i%7)
				if i == probeAt {
					node = "burst-probe"
				}
				fmt.Fprintf(&sb, `{"type":"new_games","config_key":"hex8_2p","node_id":%q,"payload":{"games":1}}`+"\n", node)
			}
			return sb.String()
		}
		setNode("burst-probe")
		streamAsked("node=burst-probe", false)
		last := d.post(t, burst(1500))
		probe := last - 1499
		b.waitFor(t, fmt.Sprintf(`!!document.querySelector('#event-list tr[data-seq="%d"]')`, probe), 10*time.Second)
		assert.Equal(t, 1, eval[int](t, b, `document.querySelectorAll('#event-list tbody tr').length`), "only the matching event")

		setNode("")
		streamAsked("node=", true)
		last = d.post(t, burst(-1))
		b.waitFor(t, fmt.Sprintf(`document.querySelector('#event-list tbody tr')?.dataset.seq === '%d'`, last), 10*time.Second)
		b.waitFor(t, `document.getElementById('shown').textContent.includes('too fast to list')`, 10*time.Second)
		listed := eval[int](t, b, `document.querySelectorAll('#event-list tbody tr').length`)
		assert.LessOrEqual(t, listed, 250)
		t.Logf("after a burst of 3,000: %d rows, %q", listed, eval[string](t, b, `document.getElementById('shown').textContent`))
	})

	t.Run("EventSource receives named events", func(t *testing.T) {
		// what the README says: event: is the type, so a listener of the
		// type gets the message, onmessage does not
		eval[bool](t, b, `(() => { window.__es = {named: null, unnamed: 0};
		  const es = new EventSource("/v1/stream?type=new_games");
		  es.onmessage = () => { window.__es.unnamed++; };
		  es.addEventListener("new_games", (m) => { window.__es.named = {id: m.lastEventId, data: JSON.parse(m.data)}; es.close(); });
		  es.onopen = () => { window.__es.open = true; };
		  return true; })()`)
		b.waitFor(t, `window.__es.open === true`, 5*time.Second)
		seq := d.post(t, `{"type":"new_games","config_key":"hex8_2p","node_id":"es-probe","payload":{"games":2}}`)
		b.waitFor(t, `window.__es.named !== null`, 5*time.Second)
		got := eval[map[string]any](t, b, `window.__es.named`)
		assert.Equal(t, fmt.Sprint(seq), got["id"])
		assert.Equal(t, "es-probe", got["data"].(map[string]any)["node_id"])
		assert.Equal(t, 0, eval[int](t, b, `window.__es.unnamed`), "onmessage sees no named event")
	})

	t.Run("the Elo chart has the history's points", func(t *testing.T) {
		b.do(t, chromedp.Navigate(d.base+"/#elo"))
		b.waitFor(t, `document.getElementById('elo-config').value !== '' && document.getElementById('elo-chart').dataset.points !== undefined`, 10*time.Second)
		config := eval[string](t, b, `document.getElementById('elo-config').value`)
		var h struct {
			History []struct {
				Seq uint64  `json:"seq"`
				Elo float64 `json:"elo"`
			} `json:"history"`
			Trend string `json:"trend"`
		}
		d.getJSON(t, "/v1/elo/"+config+"/history", &h, "")
		require.NotEmpty(t, h.History, "the simulator rated models of %s", config)
		b.waitFor(t, fmt.Sprintf(`document.getElementById('elo-chart').dataset.points === '%d'`, len(h.History)), 5*time.Second)
		plotted := eval[[][2]float64](t, b, `document.getElementById('elo-chart').plotted`)
		want := make([][2]float64, len(h.History))
		for i, p := range h.History {
			want[i] = [2]float64{float64(p.Seq), p.Elo}
		}
		sort.Slice(plotted, func(i, j int) bool { return plotted[i][0] < plotted[j][0] })
		assert.Equal(t, want, plotted)
		assert.Contains(t, eval[string](t, b, `document.getElementById('elo-summary').textContent`), "trend "+h.Trend)
		assert.Equal(t, 1, eval[int](t, b, `document.querySelectorAll('#elo-chart .uplot').length`), "uPlot drew the chart")
		b.screenshot(t, "elo")
	})

	t.Run("the other sections draw", func(t *testing.T) {
		for _, s := range []struct{ tab, ready string }{
			{"curriculum", `document.querySelectorAll('#curriculum-table tbody tr').length === 12 && document.getElementById('rebalance').textContent.includes('trigger')`},
			{"cluster", `document.querySelectorAll('#node-grid .node').length > 0 && document.getElementById('cluster-status').textContent !== ''`},
			{"refusals", `document.querySelectorAll('#refusal-table tbody tr').length > 0 && document.querySelectorAll('#lost-summary .chip').length > 0`},
			{"flows", `document.querySelectorAll('#flow-pipeline g.state').length === 9 && document.querySelectorAll('#flow-recovery g.state').length === 7`},
		} {
			b.do(t, chromedp.Navigate(d.base+"/#"+s.tab))
			b.waitFor(t, s.ready, 15*time.Second)
			b.screenshot(t, s.tab)
		}
		var counted int
		for _, n := range eval[[]int](t, b, `[...document.querySelectorAll('#flow-pipeline g.state')].map(g => +g.dataset.count)`) {
			counted += n
		}
		assert.Equal(t, 12, counted, "every config sits in one pipeline state")
	})

	t.Run("phone width", func(t *testing.T) {
		b.do(t, chromedp.EmulateViewport(390, 844), chromedp.Navigate(d.base+"/#pipelines"))
		b.waitFor(t, `document.querySelectorAll('#pipeline-cards .card').length === 12`, 10*time.Second)
		overflow := eval[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
		assert.False(t, overflow, "no horizontal scrolling of the page at 390 px")
		b.screenshot(t, "phone")
		b.do(t, chromedp.EmulateViewport(1280, 1600))
	})

	b.noProblems(t, nil)
}

// TestDashboardToken: with --token the page asks once, keeps the token for
// the tab, sends it as a header on every /v1 call and the stream, and the
// token appears in no URL, no page source and no daemon log.
func TestDashboardToken(t *testing.T) {
	const token = "tok-8f3a1c-dashboard-secret"
	bctx := newBrowser(t)
	d := startDaemon(t, "--token", token)
	b := newTab(t, bctx)
	b.do(t, chromedp.Navigate(d.base+"/"))
	b.waitFor(t, `!document.getElementById('token-dialog').hidden`, 10*time.Second)
	b.screenshot(t, "token")
	b.do(t, chromedp.SendKeys("#token-input", token), chromedp.Click("#token-ok"))
	b.waitFor(t, `document.querySelectorAll('#pipeline-cards .card').length === 12`, 10*time.Second)
	b.waitFor(t, `document.getElementById('conn').dataset.state === 'live'`, 10*time.Second)

	// every section and a reload: never asked again
	for _, tab := range []string{"elo", "curriculum", "cluster", "events", "refusals", "flows", "pipelines"} {
		b.do(t, chromedp.Navigate(d.base+"/#"+tab))
		time.Sleep(300 * time.Millisecond)
		assert.True(t, eval[bool](t, b, `document.getElementById('token-dialog').hidden`), "asked again on %s", tab)
	}
	b.do(t, chromedp.Reload())
	b.waitFor(t, `document.querySelectorAll('#pipeline-cards .card').length === 12`, 10*time.Second)
	assert.True(t, eval[bool](t, b, `document.getElementById('token-dialog').hidden`), "the tab keeps the token across a reload")

	source := eval[string](t, b, `document.documentElement.outerHTML`)
	assert.NotContains(t, source, token, "the token is not in the page")
	assert.NotContains(t, d.logs(), token, "the daemon never logs the token")
	withHeader, stream := 0, false
	for _, r := range b.requested() {
		assert.NotContains(t, r.URL, token, "a URL carries the token")
		if !strings.Contains(r.URL, "/v1/") {
			continue
		}
		auth, _ := r.Headers["Authorization"].(string)
		if auth == "Bearer "+token {
			withHeader++
			stream = stream || strings.Contains(r.URL, "/v1/stream")
		}
	}
	assert.Greater(t, withHeader, 5, "the /v1 calls carry the token as a header")
	assert.True(t, stream, "the stream is read with the header (fetch, not EventSource)")
	// the only errors are the 401s that made the page ask
	b.noProblems(t, func(p string) bool { return strings.Contains(p, "401") })
}

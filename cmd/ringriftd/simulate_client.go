package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// errSimFatal is wrapped by the errors that end the simulation at once: no
// daemon at the URL, a missing or wrong token.
var errSimFatal = errors.New("simulate")

// simClient talks to the daemon's HTTP API.
type simClient struct {
	base, token string
	hc          *http.Client
}

func newSimClient(o simOptions) *simClient {
	return &simClient{base: o.URL, token: o.Token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// do sends one request. Requests are not cancelled by ctx (an append cut
// short would leave its fate unknown); the client's timeout bounds them.
// A 401 is fatal.
func (c *simClient) do(ctx context.Context, method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errSimFatal, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		what := "wants a bearer token: set --token or RINGRIFT_TOKEN"
		if c.token != "" {
			what = "refused the token (--token / RINGRIFT_TOKEN)"
		}
		return resp.StatusCode, b, fmt.Errorf("%w: the daemon at %s %s", errSimFatal, c.base, what)
	}
	return resp.StatusCode, b, nil
}

// getJSON reads a GET endpoint into v.
func (c *simClient) getJSON(ctx context.Context, path string, v any) error {
	code, b, err := c.do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, code, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// waitReady waits until /readyz answers 200: up to 5 s for a daemon that
// is not listening yet, up to a minute for one catching up with its
// journal.
func (c *simClient) waitReady(ctx context.Context) error {
	start := time.Now()
	for {
		code, _, err := c.do(ctx, http.MethodGet, "/readyz", "", nil)
		switch {
		case err == nil && code == http.StatusOK:
			return nil
		case err != nil && time.Since(start) > 5*time.Second:
			return fmt.Errorf("%w: no daemon at %s (start one with `go run ./cmd/ringriftd`, or set --url): %w", errSimFatal, c.base, err)
		case err == nil && time.Since(start) > time.Minute:
			return fmt.Errorf("%w: the daemon at %s is not ready after a minute (GET /readyz answers %d)", errSimFatal, c.base, code)
		}
		if !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

// appendAnswer is the answer of POST /v1/events (daemon.md).
type appendAnswer struct {
	Results   []appendResult `json:"results"`
	Decisions []simDecision  `json:"decisions"`
	Error     *simError      `json:"error"`
}

type appendResult struct {
	Index  int       `json:"index"`
	Status string    `json:"status"`
	Seq    uint64    `json:"seq"`
	ID     string    `json:"id"`
	Error  *simError `json:"error"`
}

type simDecision struct {
	Seq         uint64 `json:"seq"`
	ID          string `json:"id"`
	Type        string `json:"type"`
	CausationID string `json:"causation_id"`
}

type simError struct {
	Code    string `json:"code"`
	Index   int    `json:"index"`
	Message string `json:"message"`
}

// append posts a batch: one JSON object when it holds one event (atomic,
// a refusal is a 4xx), else NDJSON with ?atomic=false (a result per
// event). A transport error or a 503 is retried with the same body — the
// events carry their ids, so a retry of an append that landed answers
// duplicate. The answer always has one result per event.
func (c *simClient) append(ctx context.Context, batch []simEvent, st *simStats) (*appendAnswer, error) {
	path, ctype := "/v1/events", "application/json"
	var body []byte
	if len(batch) == 1 {
		body = batch[0].body
	} else {
		path, ctype = "/v1/events?atomic=false", "application/x-ndjson"
		for _, e := range batch {
			body = append(append(body, e.body...), '\n')
		}
	}
	var (
		code int
		b    []byte
		err  error
	)
	for attempt := 0; ; attempt++ {
		st.Requests++
		code, b, err = c.do(ctx, http.MethodPost, path, ctype, body)
		if errors.Is(err, errSimFatal) || (err == nil && code != http.StatusServiceUnavailable) || attempt == 3 || ctx.Err() != nil {
			break
		}
		st.Retries++
		sleepUntil(ctx, time.Now().Add(time.Duration(200<<attempt)*time.Millisecond))
	}
	if err != nil {
		return nil, err
	}
	var ans appendAnswer
	if jerr := json.Unmarshal(b, &ans); jerr != nil {
		return nil, fmt.Errorf("POST %s: %d, undecodable answer: %w", path, code, jerr)
	}
	if code == http.StatusOK && len(ans.Results) == len(batch) {
		return &ans, nil
	}
	if ans.Error == nil {
		return nil, fmt.Errorf("POST %s: %d %s", path, code, bytes.TrimSpace(b))
	}
	if ans.Error.Code == "unavailable" {
		return nil, fmt.Errorf("POST %s: the daemon is unavailable: %s", path, ans.Error.Message)
	}
	// the request was refused as a whole: every event with its code
	ans.Results = make([]appendResult, len(batch))
	for i := range ans.Results {
		ans.Results[i] = appendResult{Index: i, Status: "refused", Error: ans.Error}
	}
	return &ans, nil
}

// The projections the simulator reads (daemon.md, projections.md).
type (
	pipelineView struct {
		State               string   `json:"state"`
		Iteration           int      `json:"iteration"`
		Model               string   `json:"model"`
		Champion            string   `json:"champion"`
		Paused              []string `json:"paused"`
		GamesSinceTraining  int64    `json:"games_since_training"`
		SyncedSinceTraining bool     `json:"synced_since_training"`
	}
	healthView struct {
		Cluster      string              `json:"cluster"`
		Leader       string              `json:"leader"`
		Nodes        map[string]nodeView `json:"nodes"`
		Backpressure struct {
			levelsView
			Configs map[string]levelsView `json:"configs"`
		} `json:"backpressure"`
	}
	levelsView struct {
		Queue    string `json:"queue"`
		Resource string `json:"resource"`
	}
	eloView struct {
		Configs map[string]struct {
			Champion    string   `json:"champion"`
			ChampionElo *float64 `json:"champion_elo"`
		} `json:"configs"`
	}
	nodeView struct {
		State      string `json:"state"`
		Attempts   int    `json:"attempts"`
		LastAction string `json:"last_action"`
	}
	curriculumView struct {
		Shares map[string]float64 `json:"shares"`
	}
)

package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ringrift/ringriftd/event"
)

// Client talks to the daemon's HTTP API.
type Client struct {
	base, token string
	hc          *http.Client
}

// NewClient returns a client of the daemon at c.URL with c.Token.
func NewClient(c Config) *Client {
	return &Client{base: c.URL, token: c.Token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// do sends one request. Requests are not cancelled by ctx (an append cut
// short would leave its fate unknown); the client's timeout bounds them.
// A 401 is fatal.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrFatal, err)
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
		return resp.StatusCode, b, fmt.Errorf("%w: the daemon at %s %s", ErrFatal, c.base, what)
	}
	return resp.StatusCode, b, nil
}

// getJSON reads a GET endpoint into v.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
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
func (c *Client) waitReady(ctx context.Context) error {
	start := time.Now()
	for {
		code, _, err := c.do(ctx, http.MethodGet, "/readyz", "", nil)
		switch {
		case err == nil && code == http.StatusOK:
			return nil
		case err != nil && time.Since(start) > 5*time.Second:
			return fmt.Errorf("%w: no daemon at %s (start one with `go run ./cmd/ringriftd`, or set --url): %w", ErrFatal, c.base, err)
		case err == nil && time.Since(start) > time.Minute:
			return fmt.Errorf("%w: the daemon at %s is not ready after a minute (GET /readyz answers %d)", ErrFatal, c.base, code)
		}
		if !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

// answer is the append answer, or the error of a request refused as a
// whole ({"error": …}).
type answer struct {
	event.AppendAnswer
	Error *event.Error `json:"error"`
}

// append posts a batch: one JSON object when it holds one event (atomic,
// a refusal is a 4xx), else NDJSON with ?atomic=false (a result per
// event). A transport error or a 503 is retried with the same body — the
// events carry their ids, so a retry of an append that landed answers
// duplicate. The answer always has one result per event.
func (c *Client) append(ctx context.Context, batch []outEvent, st *Stats) (*event.AppendAnswer, error) {
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
		if errors.Is(err, ErrFatal) || (err == nil && code != http.StatusServiceUnavailable) || attempt == 3 || ctx.Err() != nil {
			break
		}
		st.Retries++
		sleepUntil(ctx, time.Now().Add(time.Duration(200<<attempt)*time.Millisecond))
	}
	if err != nil {
		return nil, err
	}
	var ans answer
	if jerr := json.Unmarshal(b, &ans); jerr != nil {
		return nil, fmt.Errorf("POST %s: %d, undecodable answer: %w", path, code, jerr)
	}
	if code == http.StatusOK && len(ans.Results) == len(batch) {
		return &ans.AppendAnswer, nil
	}
	if ans.Error == nil {
		return nil, fmt.Errorf("POST %s: %d %s", path, code, bytes.TrimSpace(b))
	}
	if ans.Error.Code == event.CodeUnavailable {
		return nil, fmt.Errorf("POST %s: the daemon is unavailable: %s", path, ans.Error.Message)
	}
	// the request was refused as a whole: every event with its code
	ans.Results = make([]event.AppendResult, len(batch))
	for i := range ans.Results {
		ans.Results[i] = event.AppendResult{Index: i, Status: "refused", Error: ans.Error}
	}
	return &ans.AppendAnswer, nil
}

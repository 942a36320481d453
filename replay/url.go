package replay

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// OpenURL reads a running daemon's journal through GET /v1/export?after=N
// (daemon.md), as NDJSON. token, when set, is sent as a bearer token. A
// stream that breaks is reopened after the last seq read (three times at
// most).
func OpenURL(base, token string, client *http.Client, opts ...SourceOption) (Source, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want http://host:port", base)
	}
	if client == nil {
		client = http.DefaultClient
	}
	open := func(ctx context.Context, after uint64) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+"/v1/export?after="+strconv.FormatUint(after, 10), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/x-ndjson")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u.Redacted(), err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			hint := ""
			if resp.StatusCode == http.StatusUnauthorized {
				hint = " (set RINGRIFT_TOKEN)"
			}
			return nil, fmt.Errorf("GET %s/v1/export: %s%s: %s", u.Redacted(), resp.Status, hint, strings.TrimSpace(string(body)))
		}
		return resp.Body, nil
	}
	s := &readerSource{name: "daemon " + u.Redacted(), open: open, resumable: true}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

package web_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/web"
)

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	web.New().Register(mux)
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func fetch(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// TestPageAndAssets: / is the page, every script and style sheet it names is
// served from /static with its type, the CSP allows only the daemon's own
// origin, and an unchanged asset revalidates to 304.
func TestPageAndAssets(t *testing.T) {
	s := serve(t)
	resp, page := fetch(t, s.URL+"/")
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, web.CSP, resp.Header.Get("Content-Security-Policy"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.NotContains(t, web.CSP, "unsafe-inline")

	refs := regexp.MustCompile(`(?:src|href)="([^"#:]+)"`).FindAllStringSubmatch(page, -1)
	require.NotEmpty(t, refs)
	for _, m := range refs {
		ref := m[1]
		require.True(t, strings.HasPrefix(ref, "/static/"), "the page loads only its own assets, not %s", ref)
		r, _ := fetch(t, s.URL+ref)
		assert.Equal(t, 200, r.StatusCode, ref)
	}
	// module imports of the scripts resolve to embedded files too
	for _, js := range []string{"app.js", "api.js", "live.js", "views.js", "elo.js", "flows.js", "dom.js"} {
		r, body := fetch(t, s.URL+"/static/js/"+js)
		require.Equal(t, 200, r.StatusCode, js)
		assert.Contains(t, r.Header.Get("Content-Type"), "javascript", js)
		for _, m := range regexp.MustCompile(`from "\./([^"]+)"`).FindAllStringSubmatch(body, -1) {
			r, _ := fetch(t, s.URL+"/static/js/"+m[1])
			assert.Equal(t, 200, r.StatusCode, "%s imports %s", js, m[1])
		}
		assert.NotRegexp(t, `https?://(?:[a-z0-9-]+\.)+[a-z]{2,}/(?:[^"]*\.(?:js|css|woff2?))`, body, "%s loads nothing from elsewhere", js)
	}

	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	r, _ := fetch(t, s.URL+"/", "If-None-Match", etag)
	assert.Equal(t, 304, r.StatusCode)

	r, body := fetch(t, s.URL+"/static/nope.js")
	assert.Equal(t, 404, r.StatusCode)
	assert.Contains(t, body, "the dashboard is at /")
	r, _ = fetch(t, s.URL+"/static/")
	assert.Equal(t, 404, r.StatusCode, "no directory listing")
}

// TestVendoredHashes: the vendored files are the ones VENDORED.md names.
func TestVendoredHashes(t *testing.T) {
	dir := filepath.Join("static", "vendor")
	doc, err := os.ReadFile(filepath.Join(dir, "VENDORED.md"))
	require.NoError(t, err)
	lines := regexp.MustCompile(`(?m)^([0-9a-f]{64})  (\S+)$`).FindAllStringSubmatch(string(doc), -1)
	require.NotEmpty(t, lines)
	for _, m := range lines {
		b, err := os.ReadFile(filepath.Join(dir, m[2]))
		require.NoError(t, err, m[2])
		sum := sha256.Sum256(b)
		assert.Equal(t, m[1], hex.EncodeToString(sum[:]), "%s differs from VENDORED.md", m[2])
	}
}

// Package web is the dashboard ringriftd serves at /: one page, its script
// and style sheet, and the vendored chart library (static/vendor, see
// VENDORED.md), embedded in the binary so that it works offline and needs
// no build step beyond go build.
//
// The assets hold no data: the page reads everything from the daemon's /v1
// API with the operator's bearer token (kept in sessionStorage, sent as a
// header, never in a URL), so they are served without auth. Every response
// carries a Content-Security-Policy that allows only the daemon's own
// origin: no inline script, no CDN.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// CSP is the Content-Security-Policy of every dashboard response.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	etag  string
	ctype string
}

// Assets serves the embedded files: / is static/index.html, /static/P is
// static/P. Build one with New.
type Assets struct {
	byPath map[string]*asset
}

// New reads the embedded files once (their ETags are content hashes).
func New() *Assets {
	a := &Assets{byPath: map[string]*asset{}}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = http.DetectContentType(b)
		}
		a.byPath["/"+p] = &asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		panic("web: reading the embedded assets: " + err.Error()) // a build defect
	}
	a.byPath["/"] = a.byPath["/static/index.html"]
	return a
}

// Register adds the dashboard's routes to mux: GET / and GET /static/.
func (a *Assets) Register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", a)
	mux.Handle("GET /static/", a)
}

// ServeHTTP serves one asset, or a 404 naming the page.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	f, ok := a.byPath[r.URL.Path]
	if !ok || strings.HasSuffix(r.URL.Path, "/") && r.URL.Path != "/" {
		http.Error(w, "no dashboard asset "+r.URL.Path+"; the dashboard is at /", http.StatusNotFound)
		return
	}
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache") // revalidate: a new binary may bring new assets
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

// request sends a bodiless request and reads the whole answer.
func request(t *testing.T, method, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// do is request with the answer decoded as a JSON object (nil if not one).
func do(t *testing.T, method, url string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	resp, b := request(t, method, url, header...)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp, out
}

// errorObject returns the "error" object of a body, failing without one.
func errorObject(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	require.True(t, ok, "no error object in %v", body)
	return e
}

// TestHTTPErrors: the answers operators tripped over (issue 14).
func TestHTTPErrors(t *testing.T) {
	base, _ := testDaemon(t, func(c *Config) { c.Token = "s3cret" })
	auth := []string{"Authorization", "Bearer s3cret"}

	t.Run("wrong method is 405 with Allow", func(t *testing.T) {
		for _, tc := range []struct{ method, path, allow string }{
			{"DELETE", "/v1/events", "GET, HEAD, POST"},
			{"PUT", "/v1/events/12", "GET, HEAD"},
			{"GET", "/v1/subscriptions/x/redeliver", "POST"},
			{"POST", "/v1/catalog", "GET, HEAD"},
		} {
			resp, body := do(t, tc.method, base+tc.path, auth...)
			assert.Equal(t, 405, resp.StatusCode, "%s %s", tc.method, tc.path)
			assert.Equal(t, tc.allow, resp.Header.Get("Allow"), "%s %s", tc.method, tc.path)
			assert.Equal(t, "method_not_allowed", errorObject(t, body)["code"])
		}
		resp, body := do(t, "GET", base+"/v1/nothing", auth...)
		assert.Equal(t, 404, resp.StatusCode, "an unknown path stays 404")
		assert.Equal(t, "not_found", errorObject(t, body)["code"])
	})
	t.Run("bearer scheme in any case", func(t *testing.T) {
		for _, h := range []string{"bearer s3cret", "BEARER s3cret", "Bearer  s3cret"} {
			resp, _ := do(t, "GET", base+"/v1/pipelines", "Authorization", h)
			assert.Equal(t, 200, resp.StatusCode, "%q", h)
		}
		for _, h := range []string{"bearer wrong", "Basic s3cret", "s3cret", ""} {
			resp, body := do(t, "GET", base+"/v1/pipelines", "Authorization", h)
			assert.Equal(t, 401, resp.StatusCode, "%q", h)
			_, hasIndex := errorObject(t, body)["index"]
			assert.False(t, hasIndex, "a refusal of the request names no event index")
		}
	})
	t.Run("errors that name no event carry no index", func(t *testing.T) {
		resp, body := do(t, "GET", base+"/v1/events/999", auth...)
		assert.Equal(t, 404, resp.StatusCode)
		e := errorObject(t, body)
		assert.NotContains(t, e, "index")
		assert.NotContains(t, e, "field", "no field is at fault")
	})
	t.Run("a bad path segment is called one", func(t *testing.T) {
		resp, body := do(t, "GET", base+"/v1/events/not-a-seq", auth...)
		assert.Equal(t, 400, resp.StatusCode)
		e := errorObject(t, body)
		assert.Equal(t, "key", e["field"])
		assert.Contains(t, e["message"], "path segment")
		assert.NotContains(t, e["message"], "query parameter")
		resp, body = do(t, "GET", base+"/v1/pipelines/hex9_2p", auth...)
		assert.Equal(t, 400, resp.StatusCode)
		assert.Contains(t, errorObject(t, body)["message"], "path segment {config}")
	})
	t.Run("limit=0 is refused", func(t *testing.T) {
		for _, path := range []string{"/v1/events?limit=0", "/v1/rejected?limit=0"} {
			resp, body := do(t, "GET", base+path, auth...)
			assert.Equal(t, 400, resp.StatusCode, path)
			e := errorObject(t, body)
			assert.Equal(t, "limit", e["field"])
			assert.Contains(t, e["hint"], "1–10000")
		}
		resp, body := do(t, "GET", base+"/v1/events?limit=1", auth...)
		assert.Equal(t, 200, resp.StatusCode)
		assert.NotNil(t, body["events"])
	})
	t.Run("hints name no Go function", func(t *testing.T) {
		code, body := post(t, base+"/v1/events", "application/json", `{"type":"zzzz_qqqq"}`, auth...)
		assert.Equal(t, 400, code)
		hint := errorObject(t, body)["hint"].(string)
		assert.NotContains(t, hint, "()")
		assert.True(t, strings.Contains(hint, "GET /v1/catalog"), hint)
	})
}

// TestCatchingUpNamesNoEvent: before the daemon has caught up, an append
// and a dashboard read are refused as whole requests (503 unavailable, no
// index: no event of the request is at fault).
func TestCatchingUpNamesNoEvent(t *testing.T) {
	d := &daemon{} // not ready
	for name, answer := range map[string]func(w http.ResponseWriter){
		"append": func(w http.ResponseWriter) {
			r := httptest.NewRequest("POST", "/v1/events", strings.NewReader(`{"type":"sync_started"}`))
			_, ok := d.decodeAppend(w, r)
			assert.False(t, ok)
		},
		"dashboard read": func(w http.ResponseWriter) {
			assert.True(t, (&dashAPI{d: d}).notReady(w))
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			answer(w)
			require.Equal(t, http.StatusServiceUnavailable, w.Code)
			var body struct{ Error map[string]any }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
			assert.Equal(t, "unavailable", body.Error["code"])
			assert.NotContains(t, body.Error, "index")
			assert.Contains(t, body.Error["hint"], "/readyz")
		})
	}
}

// TestUnknownQueryParameter: a filter the reads do not know (config_key
// for config) is refused naming it and the parameters that exist, not
// ignored — ignored, the answer would hold every event as if filtered.
func TestUnknownQueryParameter(t *testing.T) {
	base, _ := testDaemon(t, nil)
	postAll(t, base,
		`{"type":"new_games","config_key":"hex8_2p","payload":{"games":1}}`,
		`{"type":"new_games","config_key":"square8_2p","payload":{"games":1}}`)
	for _, u := range []string{"/v1/events?config_key=hex8_2p", "/v1/stream?after=0&config_key=hex8_2p"} {
		code, b := get(t, base+u)
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", u, b)
		var e struct {
			Error struct{ Code, Field, Message, Hint string }
		}
		require.NoError(t, json.Unmarshal(b, &e), "%s", b)
		assert.Equal(t, "config_key", e.Error.Field, u)
		assert.Contains(t, e.Error.Message, "unknown query parameter config_key", u)
		assert.Contains(t, e.Error.Hint, "config", u)
	}
	code, b := get(t, base+"/v1/events?config=hex8_2p&after=0&limit=10")
	require.Equal(t, http.StatusOK, code, "%s", b)
	var got struct{ Events []event.Event }
	require.NoError(t, json.Unmarshal(b, &got))
	require.Len(t, got.Events, 1, "the known filter filters")
}

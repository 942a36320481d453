package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/ringrift/ringriftd/event"
)

// apiError is the body of an error that is not the refusal of an event (not
// found, a bad parameter, unauthorized, unavailable): events.md's error
// object without index, and without field when no field is at fault.
// Refusals of events are *event.Error, whose index names the event.
type apiError struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// writeError answers an error that is not a refusal of events.
func writeError(w http.ResponseWriter, status int, code, field, msg, hint string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Field: field, Message: msg, Hint: hint}})
}

// writeRequestRefusal answers a refusal of the whole request that names no
// event (unauthorized, unavailable), with the status of its code.
func writeRequestRefusal(w http.ResponseWriter, e *event.Error) {
	writeError(w, statusOf(e.Code), string(e.Code), e.Field, e.Message, e.Hint)
}

// catchingUp is the refusal of a request that needs the projections before
// the daemon has caught up with its journal.
func catchingUp() *event.Error {
	return event.Errorf(event.CodeUnavailable, "", "retry when GET /readyz answers 200",
		"ringriftd is catching up with its journal")
}

// badPath answers a path segment that is not valid (GET /v1/events/{key}).
func badPath(w http.ResponseWriter, name, value, want string) {
	writeError(w, http.StatusBadRequest, string(event.CodeInvalidField), name,
		fmt.Sprintf("path segment {%s} = %q is not valid", name, value), want)
}

// probeMethods are the methods tried to tell a wrong method (405) from an
// unknown path (404).
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// fallback answers what no route took: 405 with Allow when the path has
// routes for other methods, else 404. catchAll is the fallback's own
// pattern, which matches every path under it. (Without a catch-all the
// mux answers 405 itself; /v1/ has one so that unknown paths get a JSON
// 404.)
func fallback(mux *http.ServeMux, catchAll string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range probeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != catchAll && m != r.Method {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "",
				fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path), "use "+strings.Join(allow, " or "))
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "", fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path),
			"see daemon.md: POST /v1/events, GET /v1/events, /v1/stream, /v1/pipelines …")
	}
}

// bearer returns the token of an Authorization header whose scheme is
// Bearer, in any case (RFC 9110 §11.1: schemes are case-insensitive).
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

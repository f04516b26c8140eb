package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/servicegraph/servicegraph/api"
)

// TestErrorShape: every error answer but Jaeger's, 4xx and 5xx, is
// {"error": "..."} (plus "parameter" for a bad parameter) in JSON, with
// the headers its status calls for.
func TestErrorShape(t *testing.T) {
	st, c := fixture(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	authed, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.Auth.BearerTokenFile = tokens })
	loading, _ := newServer(t, c, api.Sources{Graph: st, Ready: func() api.Readiness {
		return api.Readiness{Loading: true, Reason: api.ReasonLoading}
	}}, nil)
	tests := []struct {
		name         string
		h            http.Handler
		method, path string
		status       int
		body         string
		header       map[string]string
	}{
		{"bad parameter", open.Handler(), http.MethodGet, "/api/graph/data?depth=x", 400,
			`{"error":"depth must be a whole number from 0 to 10, got \"x\"","parameter":"depth"}`, nil},
		{"bad rankdir", open.Handler(), http.MethodGet, "/graph.svg?rankdir=up", 400,
			`{"error":"rankdir must be LR, TB, RL or BT, got \"up\"","parameter":"rankdir"}`, nil},
		{"no token", authed.Handler(), http.MethodGet, "/api/graph/data", 401,
			`{"error":"missing or invalid bearer token"}`, map[string]string{"WWW-Authenticate": "Bearer"}},
		{"not found", open.Handler(), http.MethodGet, "/nowhere", 404, `{"error":"not found"}`, nil},
		{"read-only", open.Handler(), http.MethodPost, "/api/graph/data", 405,
			`{"error":"method not allowed: the API is read-only (GET, HEAD)"}`, map[string]string{"Allow": "GET, HEAD"}},
		{"loading", loading.Handler(), http.MethodGet, "/api/graph/data", 503,
			`{"error":"loading state"}`, map[string]string{"Retry-After": "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status || rec.Body.String() != tt.body+"\n" {
				t.Errorf("%d %s\nwant %d %s", rec.Code, rec.Body, tt.status, tt.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			for k, v := range tt.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s %q, want %q", k, got, v)
				}
			}
		})
	}
}

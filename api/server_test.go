package api_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/internal/tlsconfig/tlstest"
)

func TestConfigValidate(t *testing.T) {
	if err := api.NewDefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := api.Config{Addr: "nope", MaxDepth: -1}
	bad.TLS.KeyFile = "key.pem"
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"addr", "read_header_timeout", "request_timeout", "max_depth", "page_refresh", "key_file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	st, c := fixture(t)
	if _, err := api.New(bad, api.Settings{}, api.Sources{Graph: st}); err == nil {
		t.Error("New accepted a bad config")
	}
	if _, err := api.New(api.NewDefaultConfig(), api.Settings{Now: c.Now}, api.Sources{}); err == nil {
		t.Error("New accepted no graph")
	}
}

func TestMethodsAndHeaders(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, nil)
	tests := []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/", http.StatusOK},
		{http.MethodHead, "/api/graph/data", http.StatusOK},
		{http.MethodGet, "/api/graph/data?depth=x", http.StatusBadRequest},
		{http.MethodPost, "/api/graph/data", http.StatusMethodNotAllowed},
		{http.MethodPut, "/graph.svg", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/", http.StatusMethodNotAllowed},
		{http.MethodPost, "/nowhere", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nowhere", http.StatusNotFound},
		{http.MethodGet, "/metrics", http.StatusNotFound}, // no Sources.Metrics
		{http.MethodGet, "/api/health", http.StatusOK},
		{http.MethodGet, "/-/healthy", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if tt.want == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
			h := rec.Header()
			if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("security headers missing: %v", h)
			}
		})
	}
}

func TestProbesAndMetrics(t *testing.T) {
	st, c := fixture(t)
	ready := false
	s, reg := newServer(t, c, api.Sources{Graph: st, Ready: func() api.Readiness { return api.Readiness{Ready: ready, Reason: "starting"} }}, nil)
	if rec := get(s.Handler(), "/-/healthy"); rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("healthy: %d %q", rec.Code, rec.Body)
	}
	if rec := get(s.Handler(), "/-/ready"); rec.Code != http.StatusServiceUnavailable || rec.Body.String() != `{"status":"not ready","reason":"starting"}`+"\n" {
		t.Errorf("ready while not ready: %d %q", rec.Code, rec.Body)
	}
	ready = true
	if rec := get(s.Handler(), "/-/ready"); rec.Code != http.StatusOK || rec.Body.String() != `{"status":"ready","warning":"starting"}`+"\n" {
		t.Errorf("ready: %d %q", rec.Code, rec.Body)
	}
	get(s.Handler(), "/api/graph/data")
	get(s.Handler(), "/api/graph/data?kinds=x")
	get(s.Handler(), "/no/such/page")
	for _, tt := range []struct {
		handler, code string
		want          float64
	}{{"graph_data", "200", 1}, {"graph_data", "400", 1}, {"ready", "503", 1}, {"ready", "200", 1}, {"not_found", "404", 1}} {
		m, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := 0.0
		for _, mf := range m {
			if mf.GetName() != "servicegraph_http_requests_total" {
				continue
			}
			for _, metric := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range metric.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["handler"] == tt.handler && labels["code"] == tt.code {
					got = metric.GetCounter().GetValue()
				}
			}
		}
		if got != tt.want {
			t.Errorf("requests_total{handler=%q,code=%q} = %v, want %v", tt.handler, tt.code, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "servicegraph_http_request_duration_seconds"); n != 4 {
		t.Errorf("%d duration series, want 4 (healthy, ready, graph_data, not_found)", n)
	}

	// /metrics delegates to Sources.Metrics.
	s2, reg2 := newServer(t, c, api.Sources{Graph: st}, nil)
	s3, _ := newServer(t, c, api.Sources{Graph: st, Metrics: promhttp.HandlerFor(reg2, promhttp.HandlerOpts{})}, nil)
	get(s2.Handler(), "/api/health")
	if rec := get(s3.Handler(), "/metrics"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `servicegraph_http_requests_total{code="200",handler="health"} 1`) {
		t.Errorf("/metrics: %d\n%s", rec.Code, rec.Body)
	}
}

// TestLifecycle: Shutdown without Start and twice; Start, Shutdown, Start
// again on the same Server and then on the same port with a new Server.
func TestLifecycle(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	ctx := t.Context()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
	if s.Addr() != nil {
		t.Fatalf("Addr before Start = %v", s.Addr())
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	probe := func(addr net.Addr) {
		t.Helper()
		resp, err := client.Get("http://" + addr.String() + "/-/healthy")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Fatalf("healthy: %d %q", resp.StatusCode, body)
		}
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	probe(addr)
	if err := s.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	for range 2 {
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
	if s.Addr() != nil {
		t.Errorf("Addr after Shutdown = %v", s.Addr())
	}
	if err := s.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	probe(s.Addr())
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	same, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.Addr = addr.String() })
	if err := same.Start(ctx); err != nil {
		t.Fatalf("start on the same port %s: %v", addr, err)
	}
	probe(same.Addr())
	if err := same.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestTLSAndAuth serves HTTPS with a bearer token: probes are open, the
// rest needs the token.
func TestTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	files := tlstest.Write(t, dir)
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) {
		cfg.TLS.CertFile, cfg.TLS.KeyFile = files.ServerCert, files.ServerKey
		cfg.Auth.BearerTokenFile = tokenFile
	})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + s.Addr().String()
	tests := []struct {
		path, token string
		want        int
	}{
		{"/-/healthy", "", http.StatusOK},
		{"/-/ready", "", http.StatusOK},
		{"/api/graph/data", "", http.StatusUnauthorized},
		{"/api/graph/data", "wrong", http.StatusUnauthorized},
		{"/api/graph/data", "s3cret", http.StatusOK},
		{"/", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, base+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s with token %q: %d, want %d", tt.path, tt.token, resp.StatusCode, tt.want)
		}
	}
}

package api_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/servicegraph/servicegraph/api"
)

// TestReadinessOverSocket serves a real listener through the service's
// phases: while the graph loads, the probes answer (healthy 200, ready
// 503 "loading state") and everything else is 503 "loading state" with
// Retry-After; once running, everything is served; a degraded but ready
// service says so with 200.
func TestReadinessOverSocket(t *testing.T) {
	st, c := fixture(t)
	var now atomic.Pointer[api.Readiness]
	now.Store(&api.Readiness{Loading: true, Reason: api.ReasonLoading})
	s, _ := newServer(t, c, api.Sources{Graph: st, Ready: func() api.Readiness { return *now.Load() },
		Metrics: promhttp.Handler()}, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + s.Addr().String()
	type answer struct {
		code       int
		body       string
		retryAfter string
	}
	fetch := func(path string) answer {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return answer{resp.StatusCode, string(b), resp.Header.Get("Retry-After")}
	}
	loading := answer{503, `{"error":"loading state"}` + "\n", "5"}
	phases := []struct {
		name  string
		ready api.Readiness
		want  map[string]answer
	}{
		{"loading", api.Readiness{Loading: true, Reason: api.ReasonLoading}, map[string]answer{
			"/-/healthy":        {200, "ok", ""},
			"/-/ready":          {503, `{"status":"not ready","reason":"loading state"}` + "\n", "5"},
			"/api/graph/data":   loading,
			"/api/dependencies": {503, `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":503,"msg":"loading state"}]}` + "\n", "5"}, // Jaeger's envelope
			"/metrics":          loading,
			"/":                 loading,
		}},
		{"running", api.Readiness{Ready: true}, map[string]answer{
			"/-/healthy": {200, "ok", ""},
			"/-/ready":   {200, `{"status":"ready"}` + "\n", ""},
		}},
		{"degraded", api.Readiness{Ready: true, Reason: "saving state failed"}, map[string]answer{
			"/-/ready": {200, `{"status":"ready","warning":"saving state failed"}` + "\n", ""},
		}},
		{"stopping", api.Readiness{Reason: "shutting down"}, map[string]answer{
			"/-/ready": {503, `{"status":"not ready","reason":"shutting down"}` + "\n", ""},
		}},
	}
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			now.Store(&ph.ready)
			for path, want := range ph.want {
				if got := fetch(path); got != want {
					t.Errorf("GET %s = %+v, want %+v", path, got, want)
				}
			}
		})
	}
	now.Store(&api.Readiness{Ready: true})
	if got := fetch("/api/graph/data"); got.code != 200 {
		t.Errorf("graph data when running: %+v", got)
	}
}

package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// TestPrometheusExemplars sends one request traced with the OpenTelemetry
// SDK (web → api, over both OTLP transports) to a service run with
// --exemplars, has a real Prometheus (exemplar storage on) scrape it, and
// finds the request's trace and span ids among the exemplars Prometheus
// stored for the request counter and the server duration histogram.
func TestPrometheusExemplars(t *testing.T) {
	// Parallel: waits on a real Prometheus (scrapes, rule evaluations) with
	// little CPU; parallel tests run together once every other test is done.
	t.Parallel()
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not installed (apt-get install prometheus); .ci/run installs it")
		}
		t.Skip("prometheus not installed: apt-get install prometheus")
	}
	dir := t.TempDir()
	s := start(t, filepath.Join(dir, "data"), "--exemplars")
	a := newApp(t, s, []string{"web"}, []string{"api"})
	_, call := a.span("web", "GET /orders", trace.SpanKindClient, trace.SpanContext{})
	_, srv := a.span("api", "GET /orders", trace.SpanKindServer, call.SpanContext())
	srv.End()
	call.End()
	a.flush()
	wantTrace, wantSpan := call.SpanContext().TraceID().String(), call.SpanContext().SpanID().String()
	eventually(t, 20*time.Second, "the web → api edge", func() bool {
		_, ok := value(s.metrics(t), "traces_service_graph_request_total", edgeLabels("web", "api", "")...)
		return ok
	})

	promAddr := startScraper(t, promBin, dir, s.api, "--enable-feature=exemplar-storage")

	for _, q := range []string{
		`traces_service_graph_request_total{client="web",server="api"}`,
		`traces_service_graph_request_server_seconds_bucket{client="web",server="api"}`,
	} {
		var got []map[string]string
		eventually(t, 60*time.Second, "Prometheus to store the exemplar of "+q, func() bool {
			got = exemplars(t, promAddr, q)
			return len(got) > 0
		})
		for _, l := range got {
			if l["trace_id"] != wantTrace || l["span_id"] != wantSpan {
				t.Fatalf("%s: exemplar labels %v, want trace_id=%s span_id=%s", q, l, wantTrace, wantSpan)
			}
		}
	}
}

// exemplars returns the labels of every exemplar Prometheus holds for q
// over the last hour.
func exemplars(t *testing.T, addr, q string) []map[string]string {
	now := time.Now()
	var r struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	path := fmt.Sprintf("/api/v1/query_exemplars?query=%s&start=%d&end=%d", url.QueryEscape(q), now.Add(-time.Hour).Unix(), now.Add(time.Minute).Unix())
	if !promGet(t, addr, path, &r) {
		return nil
	}
	var out []map[string]string
	for _, d := range r.Data {
		for _, e := range d.Exemplars {
			out = append(out, e.Labels)
		}
	}
	return out
}

package e2e

import (
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// TestPrometheusNativeHistograms sends a request whose server span lasts
// 300 ms (OpenTelemetry SDK) to a service run with --native-histograms, has
// a real Prometheus with native histograms on scrape it (protobuf), and
// finds histogram_quantile over the native histogram within the bucket
// of 0.3 s at schema 3: (2^(-14/8), 2^(-13/8)].
func TestPrometheusNativeHistograms(t *testing.T) {
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
	s := start(t, filepath.Join(dir, "data"), "--native-histograms")
	a := newApp(t, s, []string{"web"}, []string{"api"})
	t0 := time.Now().Add(-time.Second)
	_, call := a.span("web", "GET /orders", trace.SpanKindClient, trace.SpanContext{}, trace.WithTimestamp(t0))
	_, srv := a.span("api", "GET /orders", trace.SpanKindServer, call.SpanContext(), trace.WithTimestamp(t0.Add(10*time.Millisecond)))
	srv.End(trace.WithTimestamp(t0.Add(310 * time.Millisecond)))
	call.End(trace.WithTimestamp(t0.Add(320 * time.Millisecond)))
	a.flush()
	eventually(t, 20*time.Second, "the web → api edge", func() bool {
		_, ok := value(s.metrics(t), "traces_service_graph_request_total", edgeLabels("web", "api", "")...)
		return ok
	})

	promAddr := startScraper(t, promBin, dir, s.api, "--enable-feature=native-histograms")
	q := `histogram_quantile(0.5, traces_service_graph_request_server_seconds{client="web",server="api"})`
	var got float64
	eventually(t, 60*time.Second, "Prometheus to answer "+q, func() bool {
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if !promGet(t, promAddr, "/api/v1/query?query="+url.QueryEscape(q), &r) || len(r.Data.Result) != 1 {
			return false
		}
		str, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		got = v
		return err == nil && !math.IsNaN(v)
	})
	if lo, hi := math.Exp2(-14.0/8), math.Exp2(-13.0/8); got <= lo || got > hi {
		t.Fatalf("native p50 %g, want within (%g, %g]", got, lo, hi)
	}
	// The native histogram's count, as Prometheus read it.
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	cq := `histogram_count(traces_service_graph_request_server_seconds{client="web",server="api"})`
	if !promGet(t, promAddr, "/api/v1/query?query="+url.QueryEscape(cq), &r) || len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "1" {
		t.Fatalf("%s: %+v", cq, r)
	}
}

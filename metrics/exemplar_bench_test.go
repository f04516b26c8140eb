package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// BenchmarkScrapeFormats is a scrape of a graph of 10,000 traced edges
// (every kind) in each format: the streamed text (the default), and
// OpenMetrics with exemplars through promhttp and the registry
// (Config.Exemplars).
func BenchmarkScrapeFormats(b *testing.B) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, g)
	if err != nil {
		b.Fatal(err)
	}
	var obs []graph.Observation
	for i := range 100 {
		cl := g.Node(fmt.Sprintf("client-%03d", i), graph.ServiceNode)
		for j := range 100 {
			sv := g.Node(fmt.Sprintf("server-%03d", j), graph.ServiceNode)
			obs = append(obs, graph.Observation{Client: cl, Server: sv, Kind: graph.Kind(j % 5), Seconds: [2]float64{0.05 * float64(j%7), 0.1},
				AsyncSeconds: [2]float64{0.1, 0.2}, AsyncTimed: true, Trace: [16]byte{1, byte(i), byte(j)}, Span: [8]byte{2}})
		}
	}
	g.Observe(obs, nil)
	reg := prometheus.NewRegistry()
	cfg := metrics.NewDefaultConfig()
	cfg.Exemplars = true
	h, err := metrics.NewHandler(cfg, metrics.Settings{Registerer: reg, Gatherer: reg}, g, p)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, accept string }{
		{"text", ""},
		{"openmetrics", "application/openmetrics-text;version=1.0.0"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discard{h: http.Header{}}
			for b.Loop() {
				w.n = 0
				clear(w.h)
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(w.n), "bytes")
		})
	}
}

package metrics_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// discard is a ResponseWriter that counts and drops the body.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

// BenchmarkScrape100k is a /metrics scrape at the default edge cap in
// steady state: 100,000 edges between 400 clients and 250 servers, every
// kind, each seen every minute of the last 16. unchanged: the snapshot is
// the cached one; changed: 1,000 observations on random edges arrive
// before each scrape (not timed, their allocations not counted), so every
// scrape takes a new snapshot (counted); gzip: changed, compressed as
// Prometheus asks. B/op is the garbage of a scrape.
func BenchmarkScrape100k(b *testing.B) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	cfg := graph.NewDefaultConfig()
	g := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, g)
	if err != nil {
		b.Fatal(err)
	}
	obs := make([]graph.Observation, 0, cfg.MaxEdges)
	for i := range 400 {
		cl := g.Node(fmt.Sprintf("client-%03d", i), graph.ServiceNode)
		for j := range 250 {
			sv := g.Node(fmt.Sprintf("server-%03d", j), graph.ServiceNode)
			obs = append(obs, graph.Observation{Client: cl, Server: sv, Kind: graph.Kind(j % 5), Failed: j%17 == 0,
				Seconds: [2]float64{0.05 * float64(j%7), 0.1}})
		}
	}
	for range 16 {
		for i := 0; i < len(obs); i += 1000 {
			g.Observe(obs[i:i+1000], nil)
		}
		now = now.Add(time.Minute)
	}
	reg := prometheus.NewRegistry()
	h, err := metrics.NewHandler(metrics.NewDefaultConfig(), metrics.Settings{Registerer: reg, Gatherer: reg}, g, p)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req)
	rng := rand.New(rand.NewPCG(3, 4))
	batch := make([]graph.Observation, 1000)
	gz := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	gz.Header.Set("Accept-Encoding", "gzip")
	for _, tc := range []struct {
		name    string
		changed bool
		req     *http.Request
	}{{"unchanged", false, req}, {"changed", true, req}, {"gzip", true, gz}} {
		changed := tc.changed
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if changed {
					b.StopTimer()
					for i := range batch {
						batch[i] = obs[rng.IntN(len(obs))]
					}
					g.Observe(batch, nil)
					b.StartTimer()
				}
				w.n = 0
				clear(w.h)
				h.ServeHTTP(w, tc.req)
			}
			b.ReportMetric(float64(w.n), "bytes")
		})
	}
}

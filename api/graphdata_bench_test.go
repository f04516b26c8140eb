package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

// BenchmarkGraphData100k is GET /api/graph/data (the whole graph, the last
// hour) at the default edge cap in steady state: 100,000 edges between
// 400 clients and 250 servers, each seen every minute of the last 16.
// changed: 1,000 observations on random edges arrive before each request
// (not timed), so every request takes a new snapshot; unchanged: the
// snapshot is the cached one. ms/request is one whole request.
func BenchmarkGraphData100k(b *testing.B) {
	c := &clock{t: t0.Add(-16 * time.Minute)}
	cfg := graph.NewDefaultConfig()
	st := graph.MustNew(cfg, graph.Settings{Now: c.Now})
	obs := make([]graph.Observation, 0, cfg.MaxEdges)
	for i := range 400 {
		cl := st.Node(fmt.Sprintf("client-%03d", i), graph.ServiceNode)
		for j := range 250 {
			sv := st.Node(fmt.Sprintf("server-%03d", j), graph.ServiceNode)
			obs = append(obs, graph.Observation{Client: cl, Server: sv, Kind: graph.Kind(j % 5), Failed: j%17 == 0,
				Seconds: [2]float64{0.05 * float64(j%7), 0.1}})
		}
	}
	for m := 16; m >= 0; m-- {
		c.Set(t0.Add(-time.Duration(m) * time.Minute))
		for i := 0; i < len(obs); i += 1000 {
			st.Observe(obs[i:i+1000], nil)
		}
	}
	s, _ := newServer(b, c, api.Sources{Graph: st}, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	batch := make([]graph.Observation, 1000)
	for _, changed := range []bool{true, false} {
		b.Run(map[bool]string{true: "changed", false: "unchanged"}[changed], func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				if changed {
					b.StopTimer()
					for i := range batch {
						batch[i] = obs[rng.IntN(len(obs))]
					}
					st.Observe(batch, nil)
					b.StartTimer()
				}
				rec := get(s.Handler(), "/api/graph/data")
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/request")
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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
// snapshot is the cached one. ms/request is one whole request; the answer
// is counted and dropped, so B/op is the server's garbage.
func BenchmarkGraphData100k(b *testing.B) {
	c := &clock{t: t0.Add(-16 * time.Minute)}
	cfg := graph.NewDefaultConfig()
	st := graph.MustNew(cfg, graph.Settings{Now: c.Now})
	obs := make([]graph.Observation, 0, cfg.MaxEdges)
	for i := range 400 {
		cl := st.Node(fmt.Sprintf("client-%03d", i), graph.ServiceNode)
		for j := range 250 {
			sv := st.Node(fmt.Sprintf("server-%03d", j), graph.ServiceNode)
			// Traced, as observations made from spans are: every edge
			// carries a sample trace (its rows and its nodes' show it).
			k := uint64(i*250 + j + 1)
			obs = append(obs, graph.Observation{Client: cl, Server: sv, Kind: graph.Kind(j % 5), Failed: j%17 == 0,
				Seconds: [2]float64{0.05 * float64(j%7), 0.1},
				Trace:   [16]byte{0: 0x5a, 8: byte(k >> 16), 9: byte(k >> 8), 10: byte(k)}, Span: [8]byte{5: byte(k >> 16), 6: byte(k >> 8), 7: byte(k)}})
		}
	}
	for m := 16; m >= 0; m-- {
		c.Set(t0.Add(-time.Duration(m) * time.Minute))
		for i := 0; i < len(obs); i += 1000 {
			st.Observe(obs[i:i+1000], nil)
		}
	}
	// Requests half a minute later: the samples are in the window, which
	// ends before now.
	c.Set(t0.Add(30 * time.Second))
	// The read cache off: every request encodes (the cache would answer
	// the repeated requests of a fixed clock from one encoding).
	s, _ := newServer(b, c, api.Sources{Graph: st}, func(c *api.Config) { c.ReadMaxStaleness = 0 })
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/graph/data", nil)
	w := &discardWriter{h: http.Header{}}
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
				w.code, w.n = 0, 0
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
				size = w.n
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/request")
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

// discardWriter is a ResponseWriter that counts the body and drops it.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	d.n += len(b)
	return len(b), nil
}

package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
)

// layeredStore fills a store with n services in layers (user → entry →
// three layers of calls → databases, plus messaging and span-link edges),
// each edge seen every minute of the hour before t0: a full hour of
// history, as a long-running service holds. Seeded.
func layeredStore(b testing.TB, n int) (*graph.Store, *clock, [][2]graph.NodeID) {
	b.Helper()
	c := &clock{t: t0}
	st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.Now})
	rng := rand.New(rand.NewPCG(20251130, uint64(n)))
	entry := max(1, n/10)
	sizes := []int{entry, (n - entry) / 3, (n - entry) / 3, n - entry - 2*((n-entry)/3)}
	layers := make([][]graph.NodeID, len(sizes))
	for l, size := range sizes {
		for i := range size {
			layers[l] = append(layers[l], st.Node(fmt.Sprintf("l%d-svc-%03d", l, i), graph.ServiceNode))
		}
	}
	var dbs []graph.NodeID
	for i := range max(2, n/20) {
		dbs = append(dbs, st.Node(fmt.Sprintf("db-%02d", i), graph.DatabaseNode))
	}
	type key struct {
		c, s graph.NodeID
		k    graph.Kind
	}
	seen := map[key]bool{}
	var edges []key
	add := func(c, s graph.NodeID, k graph.Kind) {
		if !seen[key{c, s, k}] {
			seen[key{c, s, k}] = true
			edges = append(edges, key{c, s, k})
		}
	}
	pick := func(ids []graph.NodeID) graph.NodeID { return ids[rng.IntN(len(ids))] }
	for _, e := range layers[0] {
		add(st.User(), e, graph.Virtual)
	}
	for l := 1; l < len(layers); l++ {
		for _, s := range layers[l] {
			add(pick(layers[l-1]), s, graph.Call)
		}
		for _, c := range layers[l-1] {
			for range 1 + rng.IntN(2) {
				add(c, pick(layers[l]), graph.Call)
			}
		}
	}
	for _, c := range layers[3] {
		add(c, pick(dbs), graph.Database)
	}
	for range max(2, n/15) {
		add(pick(layers[1]), pick(layers[3]), graph.Messaging)
	}
	for range max(1, n/30) {
		add(pick(layers[2]), pick(layers[3]), graph.SpanLink)
	}
	var calls [][2]graph.NodeID
	for _, e := range edges {
		if e.k == graph.Call {
			calls = append(calls, [2]graph.NodeID{e.c, e.s})
		}
	}
	obs := make([]graph.Observation, 0, len(edges))
	for m := 60; m >= 0; m-- {
		c.Set(t0.Add(-time.Duration(m) * time.Minute))
		obs = obs[:0]
		for _, e := range edges {
			o := graph.Observation{Client: e.c, Server: e.s, Kind: e.k, Failed: rng.IntN(50) == 0, Seconds: [2]float64{rng.Float64(), -1}}
			if e.k.Async() {
				o.Seconds[0] = 1 + rng.Float64()
			}
			obs = append(obs, o)
		}
		st.Observe(obs, nil)
	}
	c.Set(t0)
	return st, c, calls
}

// BenchmarkPageRefresh is the built-in page refreshing /graph.svg over a
// 300-service graph with an hour of history, in steady state: spans keep
// arriving on the edges it shows between refreshes (one request of 100
// observations per refresh), all within one history bucket. cached: the
// picture was drawn once (the first view of the bucket); uncached: every
// refresh draws (the cache off), the cost the cache saves. In-process
// layout, the default caps (300 services are 316 nodes);
// ms/refresh is the time of one whole request.
func BenchmarkPageRefresh(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache bool
	}{{"cached", true}, {"uncached", false}} {
		b.Run(bc.name, func(b *testing.B) {
			st, c, calls := layeredStore(b, 300)
			reg := prometheus.NewRegistry()
			rr := newRealRenderer(b, reg, func(cfg *render.Config) {
				if !bc.cache {
					cfg.CacheEntries = 0
				}
			})
			s, _ := newServer(b, c, api.Sources{Graph: st, Renderer: rr}, nil)
			target := pageTarget(t0)
			if rec := get(s.Handler(), target); rec.Code != http.StatusOK {
				b.Fatalf("first view: %d %s", rec.Code, rec.Body)
			}
			obs := make([]graph.Observation, 100)
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				for i := range obs {
					e := calls[rng.IntN(len(calls))]
					obs[i] = graph.Observation{Client: e[0], Server: e[1], Kind: graph.Call, Seconds: [2]float64{0.01, -1}}
				}
				st.Observe(obs, nil)
				b.StartTimer()
				if rec := get(s.Handler(), target); rec.Code != http.StatusOK {
					b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
				}
			}
			snap := st.Snapshot()
			b.ReportMetric(float64(len(snap.Nodes)), "nodes")
			b.ReportMetric(float64(len(snap.Edges)), "edges")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/refresh")
			if bc.cache {
				if got := renderTotal(b, reg, "ok"); got != 1 {
					b.Fatalf("%v layouts while refreshing within one bucket, want 1", got)
				}
			}
		})
	}
}

package graph_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// BenchmarkDimSeriesMemory measures the heap one sub-series of dimension
// values holds: 1,000 call edges and 1,000 messaging edges, each with 10
// sub-series (5 client × 2 server values of service.namespace), against
// the same graph without dimensions; reported per sub-series and per
// edge with 10 of them, after a snapshot (its copies counted too, as a
// scrape holds one).
func BenchmarkDimSeriesMemory(b *testing.B) {
	for range b.N {
		heap := func(dims []string) (uint64, *graph.Store, *graph.Snapshot) {
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cfg := graph.NewDefaultConfig()
			cfg.Dimensions = dims
			g := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return time.Unix(1e9, 0) }})
			var tuples []uint32
			for i := range 5 {
				tuples = append(tuples, g.DimTuple([]string{fmt.Sprintf("ns-%d", i)}))
			}
			var obs []graph.Observation
			for e := range 1000 {
				c, s := g.Node(fmt.Sprintf("c%d", e), graph.ServiceNode), g.Node(fmt.Sprintf("s%d", e), graph.ServiceNode)
				for _, k := range []graph.Kind{graph.Call, graph.Messaging} {
					for ci := range 5 {
						for si := range 2 {
							obs = append(obs, graph.Observation{Client: c, Server: s, Kind: k, ClientDims: tuples[ci], ServerDims: tuples[si],
								Seconds: [2]float64{0.1, 0.2}, AsyncSeconds: [2]float64{0.1, 0.2}, AsyncTimed: k.Async()})
						}
					}
				}
			}
			g.Observe(obs, nil)
			obs = nil
			snap := g.Snapshot()
			runtime.GC()
			runtime.ReadMemStats(&m1)
			return m1.HeapAlloc - m0.HeapAlloc, g, snap
		}
		off, g0, s0 := heap(nil)
		on, g1, s1 := heap([]string{"service.namespace"})
		runtime.KeepAlive(g0)
		runtime.KeepAlive(s0)
		runtime.KeepAlive(g1)
		runtime.KeepAlive(s1)
		n := float64(g1.Stats().Dims.Series)
		b.ReportMetric(float64(on-off)/n, "B/sub-series")
		b.ReportMetric(float64(on-off)/2000, "B/edge-with-10")
	}
}

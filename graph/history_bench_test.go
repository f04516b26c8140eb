package graph_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// BenchmarkHistoryMemory fills 24 h of 1-minute buckets on 100 edges and
// reports the memory held per edge, and the cost of one observation.
func BenchmarkHistoryMemory(b *testing.B) {
	const edges = 100
	b.ReportAllocs()
	var perEdge float64
	for b.Loop() {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := graph.New(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
		obs := make([]graph.Observation, edges)
		for i := range obs {
			obs[i] = graph.Observation{Client: s.Node(string(rune('a'+i%26))+"-client", graph.ServiceNode),
				Server: s.Node(string(rune('a'+i/26))+"-server", graph.ServiceNode), Kind: graph.Kind(i % 5),
				Seconds: [2]float64{0.1, 0.2}}
		}
		for range 24 * 60 {
			s.Observe(obs, nil)
			now = now.Add(time.Minute)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st := s.Stats(); st.Edges != edges || st.HistoryBuckets != edges*24*60 {
			b.Fatalf("stats %+v", st)
		}
		perEdge = float64(after.HeapAlloc-before.HeapAlloc) / edges
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perEdge, "B/edge-24h")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*edges*24*60), "ns/observation")
}

package graph_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// BenchmarkHistoryMemory reports the memory held by the history of busy
// edges in steady state: edges observed every minute for 48 h with the
// default 24 h retention of one-minute buckets, a snapshot (a scrape) every
// 5 minutes trimming what fell out of retention. Heap in use is measured
// after a GC (everything the store holds: edges, nodes, history), beside
// the store's own account of its history (Stats.HistoryBytes).
//
//   - full: 100 edges, room for all their history.
//   - capped: 1,000 edges under max_history_bytes = 16 MiB, about a third
//     of what a day of theirs needs: the oldest buckets go first, and the
//     heap stays within the cap plus the edges themselves.
func BenchmarkHistoryMemory(b *testing.B) {
	for _, bc := range []struct {
		name  string
		edges int
		cap   int64
	}{{"full", 100, 512 << 20}, {"capped", 1000, 16 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var heap, perBucket, accounted float64
			var st graph.Stats
			for b.Loop() {
				now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cfg := graph.NewDefaultConfig()
				cfg.MaxHistoryBytes = bc.cap
				cfg.MaxEdges = bc.edges // the cap's floor is per edge of max_edges
				s := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
				obs := make([]graph.Observation, bc.edges)
				for i := range obs {
					obs[i] = graph.Observation{Client: s.Node(fmt.Sprintf("client-%d", i%50), graph.ServiceNode),
						Server: s.Node(fmt.Sprintf("server-%d", i/50), graph.ServiceNode), Kind: graph.Kind(i % 5),
						Seconds: [2]float64{0.1, 0.2}}
				}
				for m := range 48 * 60 {
					s.Observe(obs, nil)
					if m%5 == 0 {
						s.Snapshot()
					}
					if st := s.Stats(); st.HistoryBytes > bc.cap {
						b.Fatalf("minute %d: history holds %d B, above the cap %d", m, st.HistoryBytes, bc.cap)
					}
					now = now.Add(time.Minute)
				}
				now = now.Add(-time.Minute)
				s.Snapshot()
				runtime.GC()
				runtime.ReadMemStats(&after)
				st = s.Stats()
				if st.Edges != bc.edges {
					b.Fatalf("stats %+v", st)
				}
				heap = float64(after.HeapAlloc - before.HeapAlloc)
				perBucket = float64(st.HistoryBytes) / float64(st.HistoryBuckets)
				accounted = float64(st.HistoryBytes)
				runtime.KeepAlive(s)
			}
			b.ReportMetric(heap/float64(bc.edges), "heap-B/edge")
			b.ReportMetric(heap/(1<<20), "heap-MiB")
			b.ReportMetric(accounted/(1<<20), "history-MiB")
			b.ReportMetric(perBucket, "history-B/bucket")
			b.ReportMetric(float64(st.HistoryBuckets)/float64(bc.edges), "buckets/edge")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.edges*48*60), "ns/observation")
		})
	}
}

package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/cputime"
)

// BenchmarkObserve is Store.Observe's cost per observation on the bench
// workload's shape (../shared/bench gen -services 30: 142 edges, 47 calls,
// 27 database, 48 span links, 9 messaging and 11 virtual), every
// occurrence traced, in batches of 2,000 (a request's observations) on
// random edges (seeded), the clock advancing 12 ms per batch (the
// workload's pace) so that history buckets roll over. plain: the default
// configuration; native: with native histograms. cpu-ns/observation
// (user + system time) is less disturbed by other processes than ns.
func BenchmarkObserve(b *testing.B) {
	for _, native := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "native"}[native], func(b *testing.B) {
			c := newSteadyClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			cfg := graph.NewDefaultConfig()
			cfg.NativeHistograms = native
			s := graph.MustNew(cfg, graph.Settings{Now: c.now})
			rng := rand.New(rand.NewPCG(1, 2))
			var edges []graph.Observation
			for _, k := range []struct {
				kind graph.Kind
				n    int
			}{{graph.Call, 47}, {graph.Database, 27}, {graph.SpanLink, 48}, {graph.Messaging, 9}, {graph.Virtual, 11}} {
				for i := range k.n {
					o := graph.Observation{Kind: k.kind,
						Client: s.Node(fmt.Sprintf("svc-%02d", i%30), graph.ServiceNode),
						Server: s.Node(fmt.Sprintf("%s-%02d", k.kind, i), graph.ServiceNode)}
					edges = append(edges, o)
				}
			}
			const batch = 2000
			bs := make([][]graph.Observation, 64)
			for i := range bs {
				bs[i] = make([]graph.Observation, batch)
				for j := range bs[i] {
					o := edges[rng.IntN(len(edges))]
					d := rng.ExpFloat64() * 0.08
					switch o.Kind {
					case graph.Call:
						o.Seconds = [2]float64{d, d + 0.002}
					case graph.Database:
						o.Seconds = [2]float64{-1, d}
					case graph.Virtual:
						o.Seconds = [2]float64{d, -1}
					default:
						o.Seconds = [2]float64{d * 3, -1}
						o.AsyncSeconds = [2]float64{d, d / 2}
						o.AsyncTimed = true
					}
					o.Failed = rng.IntN(50) == 0
					o.Trace = [16]byte{1, byte(i), byte(j), byte(j >> 8)}
					o.Span = [8]byte{2, byte(j)}
					bs[i][j] = o
				}
			}
			b.ReportAllocs()
			i := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				s.Observe(bs[i%len(bs)], nil)
				c.add(12 * time.Millisecond)
				i++
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/observation")
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/n, "cpu-ns/observation")
		})
	}
}

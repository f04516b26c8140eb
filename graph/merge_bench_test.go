package graph_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// benchPart is a store of edges edges (1,000 services, each edge seen in
// each of the last 60 minutes), queried over the last hour.
func benchPart(b *testing.B, edges int) (*graph.Snapshot, time.Time, time.Time) {
	b.Helper()
	cfg := graph.NewDefaultConfig()
	c := &clock{t: t0}
	s := graph.MustNew(cfg, graph.Settings{Now: c.now})
	for m := range 60 {
		c.t = t0.Add(time.Duration(m) * time.Minute)
		obs := make([]graph.Observation, 0, edges)
		for i := range edges {
			obs = append(obs, graph.Observation{Client: s.Node(fmt.Sprintf("service-%03d", i%1000), graph.ServiceNode),
				Server: s.Node(fmt.Sprintf("service-%03d", (i/1000+i%1000+1)%1000), graph.ServiceNode), Kind: graph.Kind(i / 1000 % 4),
				Seconds: [2]float64{0.01, 0.02}})
		}
		s.Observe(obs, nil)
	}
	return s.Snapshot(), t0, t0.Add(time.Hour)
}

// BenchmarkPeerGraph is what a peer pays to answer one fanned-out request
// at 10k edges (window, encode), and the size of its answer per edge.
func BenchmarkPeerGraph(b *testing.B) {
	snap, from, to := benchPart(b, 10000)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := graph.WriteSnapshot(&buf, snap.Windowed(from, to)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/float64(len(snap.Edges)), "B/edge")
}

// BenchmarkMergeThree is what the asking instance pays at 10k edges:
// read two peers' answers and merge three windows.
func BenchmarkMergeThree(b *testing.B) {
	snap, from, to := benchPart(b, 10000)
	var buf bytes.Buffer
	if err := graph.WriteSnapshot(&buf, snap.Windowed(from, to)); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	lim := graph.MergeLimits{MaxNodes: 10000, MaxEdges: 100000}
	b.ReportAllocs()
	for b.Loop() {
		p1, err := graph.ReadSnapshot(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		p2, err := graph.ReadSnapshot(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := graph.Merge(lim, snap.Windowed(from, to), p1, p2); err != nil {
			b.Fatal(err)
		}
	}
}

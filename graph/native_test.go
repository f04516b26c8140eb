package graph_test

import (
	"slices"
	"testing"

	"github.com/servicegraph/servicegraph/graph"
)

// A store with native histograms exports them beside the classic
// buckets, bounded by NativeMaxBuckets, and counts the halvings.
func TestStoreNativeHistograms(t *testing.T) {
	c := &clock{t: t0}
	cfg := graph.NewDefaultConfig()
	cfg.NativeHistograms, cfg.NativeMaxBuckets = true, 5
	s := graph.MustNew(cfg, graph.Settings{Now: c.now})
	a, b := s.Node("a", graph.ServiceNode), s.Node("b", graph.ServiceNode)
	var obs []graph.Observation
	for _, v := range []float64{0.5, 1, 2, 0} {
		obs = append(obs, graph.Observation{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{v, -1}})
	}
	s.Observe(obs, nil)
	e := s.Snapshot().Edges[0]
	n := e.Hist[0].Native
	if n == nil || n.Schema != 1 || n.ZeroCount != 1 || n.Offset != -2 || !slices.Equal(n.Counts, []uint64{1, 0, 1, 0, 1}) {
		t.Fatalf("native %+v", n)
	}
	if e.Hist[1].Native != nil {
		t.Fatalf("client histogram without observations has a native one: %+v", e.Hist[1].Native)
	}
	if got := s.Stats().NativeReductions; got != 2 {
		t.Fatalf("NativeReductions = %d, want 2", got)
	}
	cfg.NativeMaxBuckets = 1
	if err := cfg.Validate(); err == nil || err.Error() != "native_max_buckets must be from 2 to 10000, got 1" {
		t.Fatalf("Validate: %v", err)
	}
}

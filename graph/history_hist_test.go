package graph_test

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// histStore is a store with 10 s buckets and the default bounds (0.1, 0.2,
// 0.4, 0.8, 1.6, 3.2, 6.4, 12.8), whose a→b edge has, from t0:
//
//	[t0, +10s)      8 at 50 ms, 2 at 300 ms
//	[+10s, +20s)    10 at 1 s (one observation of weight 10)
//	[+20s, +30s)    nothing
//	[+30s, +40s)    20,000,000 at 150 ms (weight: past a 24-bit entry), 5 at 5 s
//	[+40s, +50s)    4 at 20 s (+Inf)
//	[+50s, +60s)    6 at 700 ms, client side only (the open bucket)
//
// Stores in parts share them out: part i gets the bucket's observations
// when i == bucket % len(parts).
func histStore(t *testing.T, parts int) (whole *graph.Store, split []*graph.Store, t0 time.Time) {
	t.Helper()
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	cfg := graph.NewDefaultConfig()
	cfg.BucketWidth = 10 * time.Second
	clock := func() time.Time { return now }
	whole = graph.MustNew(cfg, graph.Settings{Now: clock})
	for range parts {
		split = append(split, graph.MustNew(cfg, graph.Settings{Now: clock}))
	}
	obs := func(bucket, times int, weight uint32, server, client float64) {
		now = t0.Add(time.Duration(bucket)*10*time.Second + time.Second)
		for _, s := range []*graph.Store{whole, split[bucket%parts]} {
			for range times {
				s.Observe([]graph.Observation{{Client: s.Node("a", graph.ServiceNode), Server: s.Node("b", graph.ServiceNode),
					Kind: graph.Call, Weight: weight, Seconds: [2]float64{server, client}}}, nil)
			}
		}
	}
	obs(0, 8, 0, 0.05, -1)
	obs(0, 2, 0, 0.3, -1)
	obs(1, 1, 10, 1, -1)
	obs(3, 1, 20_000_000, 0.15, -1)
	obs(3, 5, 0, 5, -1)
	obs(4, 4, 0, 20, -1)
	obs(5, 6, 0, -1, 0.7)
	return whole, split, t0
}

// histWindows are the windows histStore is checked over, with the counts
// their buckets hold.
func histWindows(t0 time.Time) []struct {
	from, to time.Time
	counts   []uint64
} {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return []struct {
		from, to time.Time
		counts   []uint64
	}{
		{at(0), at(20), []uint64{8, 0, 2, 0, 10, 0, 0, 0, 0}},
		{at(15), at(25), []uint64{0, 0, 0, 0, 10, 0, 0, 0, 0}}, // buckets overlapping the window, as Window
		{at(20), at(30), nil},
		{at(30), at(40), []uint64{0, 20_000_000, 0, 0, 0, 0, 5, 0, 0}},
		{at(40), at(60), []uint64{0, 0, 0, 6, 0, 0, 0, 0, 4}},
		{at(0), at(60), []uint64{8, 20_000_000, 2, 6, 10, 0, 5, 0, 4}},
	}
}

// A window's histogram is the sum of its buckets' (the main measure of
// each occurrence: server side, else client side), and its percentiles
// are histogram_quantile's on those counts, whatever part of the edge's
// life the window holds.
func TestWindowPercentiles(t *testing.T) {
	s, _, t0 := histStore(t, 1)
	snap := s.Snapshot()
	e := snap.Edges[0]
	for _, w := range histWindows(t0) {
		got, ok := e.WindowHist(w.from, w.to, snap.BucketWidth)
		if !ok || !reflect.DeepEqual(got, w.counts) {
			t.Fatalf("[%s, %s): %v %v, want %v", w.from.Sub(t0), w.to.Sub(t0), got, ok, w.counts)
		}
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, c := range []struct {
		from, to time.Time
		p50, p95 float64
	}{
		// 20: rank 10 is the 2nd of 2 in (0.2, 0.4]; rank 19 the 9th of 10 in (0.8, 1.6].
		{at(0), at(20), 0.4, 0.8 + 0.8*9/10},
		// 20,000,005: both ranks in (0.1, 0.2].
		{at(30), at(40), 0.1 + 0.1*10_000_002.5/20_000_000, 0.1 + 0.1*19_000_004.75/20_000_000},
		// 10: rank 5 is the 5th of 6 in (0.4, 0.8]; rank 9.5 in +Inf: the highest bound.
		{at(40), at(60), 0.4 + 0.4*5/6, 12.8},
	} {
		v, err := snap.Query(graph.Query{From: c.from, To: c.to, Depth: graph.DefaultDepth, Kinds: graph.AllKinds})
		if err != nil {
			t.Fatal(err)
		}
		side := func(smp graph.Sample) *graph.EdgeSide {
			d, err := graph.Compare(smp, smp, graph.DefaultThresholds)
			if err != nil || len(d.Edges) != 1 {
				t.Fatalf("compare: %v %+v", err, d)
			}
			return d.Edges[0].New
		}(graph.NewSample(snap, v))
		if !side.Percentiles || math.Abs(side.P50-c.p50) > 1e-12 || math.Abs(side.P95-c.p95) > 1e-12 {
			t.Errorf("[%s, %s): p50 %v p95 %v (known %v), want %v %v", c.from.Sub(t0), c.to.Sub(t0), side.P50, side.P95, side.Percentiles, c.p50, c.p95)
		}
	}
	// A snapshot's histograms never change after it is taken.
	before, _ := e.WindowHist(t0, at(60), snap.BucketWidth)
	s.Observe([]graph.Observation{{Client: s.Node("a", graph.ServiceNode), Server: s.Node("b", graph.ServiceNode), Kind: graph.Call,
		Seconds: [2]float64{0.05, -1}}}, nil)
	if after, _ := e.WindowHist(t0, at(60), snap.BucketWidth); !reflect.DeepEqual(after, before) {
		t.Fatalf("snapshot's window histogram changed: %v, was %v", after, before)
	}
}

// Window histograms survive the state file, and merge exactly: the
// merge of stores that each saw some buckets, and of their windows sent
// in the peer wire form (Windowed, WriteSnapshot, ReadSnapshot), give
// the one store's counts for every window.
func TestWindowHistStateAndMerge(t *testing.T) {
	whole, parts, t0 := histStore(t, 3)
	var buf bytes.Buffer
	if err := whole.WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	cfg := graph.NewDefaultConfig()
	cfg.BucketWidth = 10 * time.Second
	restored := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return t0.Add(time.Minute) }})
	if err := restored.ReadState(&buf); err != nil {
		t.Fatal(err)
	}
	lim := graph.MergeLimits{MaxNodes: 100, MaxEdges: 100}
	merged, _, err := graph.Merge(lim, parts[0].Snapshot(), parts[1].Snapshot(), parts[2].Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range histWindows(t0) {
		var wire []*graph.Snapshot
		for _, p := range parts {
			var b bytes.Buffer
			if err := graph.WriteSnapshot(&b, p.Snapshot().Windowed(w.from, w.to)); err != nil {
				t.Fatal(err)
			}
			got, err := graph.ReadSnapshot(&b)
			if err != nil {
				t.Fatal(err)
			}
			wire = append(wire, got)
		}
		fanout, _, err := graph.Merge(lim, wire...)
		if err != nil {
			t.Fatal(err)
		}
		for name, snap := range map[string]*graph.Snapshot{"restored": restored.Snapshot(), "merged": merged, "wire": fanout} {
			if len(snap.Edges) != 1 {
				t.Fatalf("%s: %d edges", name, len(snap.Edges))
			}
			got, ok := snap.Edges[0].WindowHist(w.from, w.to, snap.BucketWidth)
			if !ok || !reflect.DeepEqual(got, w.counts) {
				t.Errorf("%s [%s, %s): %v %v, want %v", name, w.from.Sub(t0), w.to.Sub(t0), got, ok, w.counts)
			}
		}
	}
}

// The checked-in v2 state file loads into exactly the graph that wrote
// it, buckets' histograms included.
func TestStateV2Fixture(t *testing.T) {
	b, err := os.ReadFile("testdata/state-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := stateFixture(t).Snapshot()
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return fixtureTime }})
	if err := s.ReadState(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	got := s.Snapshot()
	if len(got.Edges) != len(want.Edges) || len(got.Edges) != 7 {
		t.Fatalf("%d edges, want %d (7)", len(got.Edges), len(want.Edges))
	}
	known := 0
	for i := range got.Edges {
		g, w := got.Edges[i], want.Edges[i]
		if !reflect.DeepEqual(append(g.History.Buckets(), g.Open), append(w.History.Buckets(), w.Open)) {
			t.Fatalf("edge %s>%s history differs", g.Client, g.Server)
		}
		gh, gok := g.WindowHist(fixtureTime.Add(-4*time.Hour), fixtureTime, time.Minute)
		wh, wok := w.WindowHist(fixtureTime.Add(-4*time.Hour), fixtureTime, time.Minute)
		if !gok || !wok || !reflect.DeepEqual(gh, wh) {
			t.Fatalf("edge %s>%s window histogram %v, want %v", g.Client, g.Server, gh, wh)
		}
		if gh != nil {
			known++
		}
	}
	if known != 7 {
		t.Fatalf("%d edges with a window histogram, want 7", known)
	}
}

// Validate refuses more latency bounds than history histograms index.
func TestLatencyBoundsLimit(t *testing.T) {
	cfg := graph.NewDefaultConfig()
	cfg.LatencyBuckets = nil
	for i := range graph.MaxLatencyBounds + 1 {
		cfg.LatencyBuckets = append(cfg.LatencyBuckets, float64(i+1))
	}
	if err := cfg.Validate(); err == nil {
		t.Fatal("256 bounds accepted")
	}
	cfg.LatencyBuckets = cfg.LatencyBuckets[:graph.MaxLatencyBounds]
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

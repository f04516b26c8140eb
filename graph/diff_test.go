package graph_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// diffStore is a store with 10 s history buckets, fed two minutes of
// traffic: the baseline minute [t0, t0+1m) and the new one [t0+1m, t0+2m).
//
//	a→b call       10 at 62.5 ms, then 10 at 250 ms  changed: latency
//	a→c call       10, then 30                       changed: rate
//	a→d call       10, then none                     removed (d too)
//	a→e messaging  none, then 10 with 125 ms delay   added (e too)
//	a→f call       5 at 100 ms, then 5 at 100 ms     same
//	b→db database  100, then 100 with 2 failed       changed: errors
func diffStore(t *testing.T) (s *graph.Store, t0 time.Time) {
	t.Helper()
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	cfg := graph.NewDefaultConfig()
	cfg.BucketWidth = 10 * time.Second
	s = graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	n := func(name string, k graph.NodeKind) graph.NodeID { return s.Node(name, k) }
	a, b, c, d, e, f := n("a", graph.ServiceNode), n("b", graph.ServiceNode), n("c", graph.ServiceNode),
		n("d", graph.ServiceNode), n("e", graph.ServiceNode), n("f", graph.ServiceNode)
	db := n("db", graph.DatabaseNode)
	obs := func(times int, client, server graph.NodeID, kind graph.Kind, failed int, secs float64) {
		for i := range times {
			s.Observe([]graph.Observation{{Client: client, Server: server, Kind: kind, Failed: i < failed, Seconds: [2]float64{secs, -1}}}, nil)
		}
	}
	now = t0.Add(5 * time.Second)
	obs(10, a, b, graph.Call, 0, 0.0625)
	obs(10, a, c, graph.Call, 0, 0.05)
	obs(10, a, d, graph.Call, 0, 0.05)
	obs(5, a, f, graph.Call, 0, 0.1)
	obs(100, b, db, graph.Database, 0, 0.01)
	now = t0.Add(65 * time.Second)
	obs(10, a, b, graph.Call, 0, 0.25)
	obs(30, a, c, graph.Call, 0, 0.05)
	obs(10, a, e, graph.Messaging, 0, 0.125)
	obs(5, a, f, graph.Call, 0, 0.1)
	obs(100, b, db, graph.Database, 2, 0.01)
	return s, t0
}

func sampleOf(t *testing.T, snap *graph.Snapshot, from, to time.Time) graph.Sample {
	t.Helper()
	v, err := snap.Query(graph.Query{From: from, To: to, Depth: graph.DefaultDepth, Kinds: graph.AllKinds})
	if err != nil {
		t.Fatal(err)
	}
	return graph.NewSample(snap, v)
}

func TestCompare(t *testing.T) {
	s, t0 := diffStore(t)
	snap := s.Snapshot()
	old := sampleOf(t, snap, t0, t0.Add(time.Minute))
	cur := sampleOf(t, snap, t0.Add(time.Minute), t0.Add(2*time.Minute))
	d, err := graph.Compare(old, cur, graph.DefaultThresholds)
	if err != nil {
		t.Fatal(err)
	}
	type edge struct {
		name    string
		status  string
		reasons string
	}
	var got []edge
	for _, e := range d.Edges {
		got = append(got, edge{e.Client + ">" + e.Server + ":" + e.Kind.String(), e.Status.String(), strings.Join(e.Reasons, ",")})
	}
	want := []edge{
		{"a>b:call", "changed", "latency"},
		{"a>c:call", "changed", "rate"},
		{"a>d:call", "removed", ""},
		{"a>e:messaging_system", "added", ""},
		{"a>f:call", "same", ""},
		{"b>db:database", "changed", "errors"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("edges:\n got %v\nwant %v", got, want)
	}
	var nodes []edge
	for _, n := range d.Nodes {
		nodes = append(nodes, edge{n.Name + ":" + n.Kind.String(), n.Status.String(), strings.Join(n.Reasons, ",")})
	}
	wantNodes := []edge{
		// a sums its outgoing edges: 35 then 55 requests (+57%).
		{"a:service", "changed", "rate"},
		{"b:service", "same", ""},
		{"c:service", "changed", "rate"},
		{"d:service", "removed", ""},
		{"db:database", "changed", "errors"},
		{"e:service", "added", ""},
		{"f:service", "same", ""},
	}
	if !reflect.DeepEqual(nodes, wantNodes) {
		t.Fatalf("nodes:\n got %v\nwant %v", nodes, wantNodes)
	}
	nc, ec := d.Counts()
	if nc != [4]int{2, 1, 1, 3} || ec != [4]int{1, 1, 1, 3} {
		t.Fatalf("counts: nodes %v edges %v", nc, ec)
	}

	// Exact numbers of each side.
	ab := d.Edges[0]
	// Each window holds 10 of the edge's 20 occurrences: the percentiles
	// are the window's own, from its history buckets' histograms (ten of
	// 62.5 ms in (0, 0.1]: p50 0.05, p95 0.095; ten of 250 ms in
	// (0.2, 0.4]: p50 0.3, p95 0.39), as histogram_quantile interpolates.
	if *ab.Old != (graph.EdgeSide{Count: 10, Rate: 10.0 / 60, MeanSeconds: 0.0625, P50: 0.05, P95: 0.095, Percentiles: true,
		FirstSeen: ab.Old.FirstSeen, LastSeen: ab.Old.LastSeen}) {
		t.Errorf("a>b old: %+v", *ab.Old)
	}
	if ab.New.Count != 10 || ab.New.MeanSeconds != 0.25 || !ab.New.Percentiles ||
		math.Abs(ab.New.P50-0.3) > 1e-12 || math.Abs(ab.New.P95-0.39) > 1e-12 {
		t.Errorf("a>b new: %+v", *ab.New)
	}
	if got := ab.Old.FirstSeen; !got.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("a>b first seen %s", got)
	}
	ae := d.Edges[3]
	if ae.Old != nil || ae.New.Count != 10 || ae.New.Rate != 10.0/60 || !ae.New.Percentiles {
		t.Fatalf("a>e: %+v", ae.New)
	}
	// Ten delays of 125 ms in the (0.1, 0.2] bucket: p50 0.15, p95 0.195
	// (interpolated within the bucket); the mean is exact.
	if math.Abs(ae.New.P50-0.15) > 1e-12 || math.Abs(ae.New.P95-0.195) > 1e-12 || ae.New.MeanSeconds != 0.125 {
		t.Errorf("a>e delay: p50 %v p95 %v mean %v", ae.New.P50, ae.New.P95, ae.New.MeanSeconds)
	}
	dbe := d.Edges[5]
	if dbe.Old.ErrorPercent != 0 || dbe.New.ErrorPercent != 2 || dbe.New.Failed != 2 {
		t.Errorf("b>db: old %+v new %+v", *dbe.Old, *dbe.New)
	}
	ad := d.Edges[2]
	if ad.New != nil || ad.Old.Count != 10 {
		t.Errorf("a>d: %+v %+v", ad.Old, ad.New)
	}
	if d.Old != (graph.Window{From: t0, To: t0.Add(time.Minute)}) || d.New != (graph.Window{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)}) {
		t.Errorf("windows: %+v %+v", d.Old, d.New)
	}

	// The union view: 7 nodes, 6 edges; removed ones with their old numbers.
	v := d.View()
	if len(v.Nodes) != 7 || len(v.Edges) != 6 || v.Edges[2].Count != 10 || v.Edges[1].Count != 30 {
		t.Errorf("view: %+v", v)
	}
}

// Thresholds move what counts as changed; a crossing exactly at the
// threshold counts.
func TestCompareThresholds(t *testing.T) {
	s, t0 := diffStore(t)
	snap := s.Snapshot()
	old := sampleOf(t, snap, t0, t0.Add(time.Minute))
	cur := sampleOf(t, snap, t0.Add(time.Minute), t0.Add(2*time.Minute))
	for _, tc := range []struct {
		name string
		th   graph.Thresholds
		want map[string]string // edge → status
	}{
		{"loose", graph.Thresholds{Rate: 2.5, ErrorPoints: 5, Latency: 3.5}, map[string]string{"a>b": "same", "a>c": "same", "b>db": "same"}},
		// a→c tripled: +200% exactly.
		{"rate at threshold", graph.Thresholds{Rate: 2, ErrorPoints: 5, Latency: 10}, map[string]string{"a>b": "same", "a>c": "changed", "b>db": "same"}},
		{"errors at threshold", graph.Thresholds{Rate: 3, ErrorPoints: 2, Latency: 10}, map[string]string{"a>b": "same", "a>c": "same", "b>db": "changed"}},
		// 62.5 ms → 250 ms: +300%.
		{"latency at threshold", graph.Thresholds{Rate: 3, ErrorPoints: 5, Latency: 3}, map[string]string{"a>b": "changed", "a>c": "same", "b>db": "same"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := graph.Compare(old, cur, tc.th)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, e := range d.Edges {
				if k := e.Client + ">" + e.Server; tc.want[k] != "" {
					got[k] = e.Status.String()
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	_, err := graph.Compare(old, cur, graph.Thresholds{Rate: 0, ErrorPoints: 101, Latency: math.Inf(1)})
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Fatalf("bad thresholds: %v", err)
	}
}

func TestQuantile(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.4}
	for _, tc := range []struct {
		name   string
		counts []uint64
		q      float64
		want   float64
		ok     bool
	}{
		{"first bucket starts at 0", []uint64{4, 0, 0, 0}, 0.5, 0.05, true},
		{"interpolated", []uint64{0, 0, 10, 0}, 0.95, 0.39, true},
		{"across buckets", []uint64{5, 5, 0, 0}, 0.75, 0.15, true},
		{"+Inf bucket: highest bound", []uint64{1, 0, 0, 9}, 0.95, 0.4, true},
		{"empty", []uint64{0, 0, 0, 0}, 0.5, 0, false},
		{"malformed", []uint64{1, 2}, 0.5, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := graph.Quantile(tc.q, bounds, &graph.Histogram{Counts: tc.counts})
			if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("Quantile(%v) = %v, %v; want %v, %v", tc.q, got, ok, tc.want, tc.ok)
			}
		})
	}
}

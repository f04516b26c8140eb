package graph_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// flatEdge is an edge in plain values, times in Unix ns, every bucket
// (the open one last): what merged and single-store snapshots compare by.
type flatEdge struct {
	Client, Server string
	Kind           graph.Kind
	Count, Failed  uint64
	First, Last    int64
	Hist           [2]graph.Histogram
	AsyncHist      [2]graph.Histogram
	Buckets        []graph.Bucket
}

type flatGraph struct {
	Nodes []graph.Node
	Edges []flatEdge
}

func flatten(s *graph.Snapshot) flatGraph {
	var g flatGraph
	g.Nodes = append(g.Nodes, s.Nodes...)
	for _, e := range s.Edges {
		f := flatEdge{Client: e.Client, Server: e.Server, Kind: e.Kind, Count: e.Count, Failed: e.Failed,
			First: e.FirstSeen.UnixNano(), Last: e.LastSeen.UnixNano(), Hist: e.Hist, AsyncHist: e.AsyncHist}
		f.Buckets = append(e.History.Buckets(), e.Open)
		g.Edges = append(g.Edges, f)
	}
	return g
}

// clock is a settable store clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// observe records n occurrences of client→server (kind), failed or not,
// with main seconds sec, at the clock's time.
func observe(s *graph.Store, client, server string, kind graph.Kind, n int, failed bool, sec float64) {
	obs := make([]graph.Observation, n)
	for i := range obs {
		obs[i] = graph.Observation{Client: s.Node(client, graph.ServiceNode), Server: s.Node(server, graph.ServiceNode),
			Kind: kind, Failed: failed, Seconds: [2]float64{sec, -1}, AsyncSeconds: [2]float64{sec / 2, sec / 4}, AsyncTimed: kind.Async()}
	}
	s.Observe(obs, nil)
}

// The merge of three stores that each saw part of the traffic equals,
// value for value (counts, failures, histograms, every history bucket,
// first and last seen, link tallies), the store that saw all of it.
func TestMergeEqualsOneStore(t *testing.T) {
	cfg := graph.NewDefaultConfig()
	c := &clock{t: t0}
	whole := graph.MustNew(cfg, graph.Settings{Now: c.now})
	parts := []*graph.Store{
		graph.MustNew(cfg, graph.Settings{Now: c.now}),
		graph.MustNew(cfg, graph.Settings{Now: c.now}),
		graph.MustNew(cfg, graph.Settings{Now: c.now}),
	}
	type step struct {
		minute         int
		part           int
		client, server string
		kind           graph.Kind
		n              int
		failed         bool
		sec            float64
	}
	steps := []step{
		{0, 0, "a", "b", graph.Call, 3, false, 0.25},
		{0, 1, "a", "b", graph.Call, 2, true, 0.5},
		{1, 2, "a", "b", graph.Call, 1, false, 3},
		{1, 1, "p", "c", graph.Messaging, 4, false, 1.5},
		{2, 0, "p", "c", graph.Messaging, 1, true, 0.125},
		{2, 2, "b", "db", graph.Database, 7, false, 0.0625},
		{5, 0, "a", "b", graph.Call, 1, false, 12},
		{5, 2, "job", "job", graph.SpanLink, 2, false, 20},
	}
	for _, st := range steps {
		c.t = t0.Add(time.Duration(st.minute)*time.Minute + 10*time.Second)
		observe(whole, st.client, st.server, st.kind, st.n, st.failed, st.sec)
		observe(parts[st.part], st.client, st.server, st.kind, st.n, st.failed, st.sec)
	}
	linker := func(s *graph.Store, r graph.LinkResult, n uint64) {
		s.Observe(nil, []graph.LinkTally{{Service: s.Node("c", graph.ServiceNode), Result: r, N: n}})
	}
	linker(whole, graph.LinkResolved, 5)
	linker(whole, graph.LinkUnresolved, 2)
	linker(parts[1], graph.LinkResolved, 5)
	linker(parts[2], graph.LinkUnresolved, 2)

	lim := graph.MergeLimits{MaxNodes: cfg.MaxNodes, MaxEdges: cfg.MaxEdges}
	merged, st, err := graph.Merge(lim, parts[0].Snapshot(), nil, parts[1].Snapshot(), parts[2].Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if st != (graph.MergeStats{}) {
		t.Fatalf("stats %+v, want none cut", st)
	}
	if got, want := flatten(merged), flatten(whole.Snapshot()); !reflect.DeepEqual(got, want) {
		t.Fatalf("merged:\n%+v\nwant (one store):\n%+v", got, want)
	}
	// Spot checks of the sums, spelled out.
	ab := flatten(merged).Edges[0]
	if ab.Client != "a" || ab.Server != "b" || ab.Count != 7 || ab.Failed != 2 ||
		ab.First != t0.Add(10*time.Second).UnixNano() || ab.Last != t0.Add(5*time.Minute+10*time.Second).UnixNano() {
		t.Fatalf("a→b %+v", ab)
	}
	wantBuckets := []graph.Bucket{
		{Start: t0.UnixNano(), Count: 5, Failed: 2, Sum: 1.75, N: 5, Hist: []uint64{0, 0, 3, 2, 0, 0, 0, 0, 0}},
		{Start: t0.Add(time.Minute).UnixNano(), Count: 1, Sum: 3, N: 1, Hist: []uint64{0, 0, 0, 0, 0, 1, 0, 0, 0}},
		{Start: t0.Add(5 * time.Minute).UnixNano(), Count: 1, Sum: 12, N: 1, Hist: []uint64{0, 0, 0, 0, 0, 0, 0, 1, 0}},
	}
	if !reflect.DeepEqual(ab.Buckets, wantBuckets) {
		t.Fatalf("a→b buckets %+v, want %+v", ab.Buckets, wantBuckets)
	}
	// server histogram: 0.25 ×3, 0.5 ×2, 3, 12 over Tempo's bounds.
	if want := []uint64{0, 0, 3, 2, 0, 1, 0, 1, 0}; !reflect.DeepEqual(ab.Hist[0].Counts, want) || ab.Hist[0].Count != 7 || ab.Hist[0].Sum != 16.75 {
		t.Fatalf("a→b histogram %+v, want counts %v, count 7, sum 16.75", ab.Hist[0], want)
	}
	// Merging in another order gives the same graph.
	again, _, err := graph.Merge(lim, parts[2].Snapshot(), parts[0].Snapshot(), parts[1].Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(flatten(again), flatten(merged)) {
		t.Fatal("merge depends on the order of its inputs")
	}

	// Through the wire form of a window, every query over that window
	// answers what the one store answers.
	c.t = t0.Add(6 * time.Minute)
	for _, win := range []struct{ from, to time.Time }{
		{t0, t0.Add(6 * time.Minute)},
		{t0.Add(30 * time.Second), t0.Add(90 * time.Second)}, // minutes 0 and 1, partly
		{t0.Add(2 * time.Minute), t0.Add(3 * time.Minute)},
		{t0.Add(3 * time.Minute), t0.Add(4 * time.Minute)}, // nothing
	} {
		var snaps []*graph.Snapshot
		for _, p := range parts {
			var buf bytes.Buffer
			if err := graph.WriteSnapshot(&buf, p.Snapshot().Windowed(win.from, win.to)); err != nil {
				t.Fatal(err)
			}
			s, err := graph.ReadSnapshot(&buf)
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, s)
		}
		m, _, err := graph.Merge(lim, snaps...)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []graph.Query{
			{From: win.from, To: win.to, Kinds: graph.AllKinds},
			{From: win.from, To: win.to, Kinds: graph.AllKinds, Service: "b", Depth: 1},
			{From: win.from, To: win.to, Kinds: graph.KindSet(1 << graph.Messaging)},
		} {
			got, err := m.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := whole.Snapshot().Query(q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Nodes, want.Nodes) || !reflect.DeepEqual(viewEdges(got), viewEdges(want)) {
				t.Fatalf("window %s..%s query %+v:\nmerged %+v %+v\nwant   %+v %+v", win.from, win.to, q, got.Nodes, viewEdges(got), want.Nodes, viewEdges(want))
			}
		}
	}
}

// viewEdges are a view's edges (nil when none, as a view's may be empty).
func viewEdges(v *graph.View) []graph.ViewEdge {
	return append([]graph.ViewEdge(nil), v.Edges...)
}

func edgeData(client, server string, kind graph.Kind, count uint64, buckets ...graph.Bucket) graph.Edge {
	d := &graph.EdgeData{Client: client, Server: server, Kind: kind, Count: count,
		FirstSeen: t0, LastSeen: t0.Add(time.Duration(count) * time.Second)}
	if len(buckets) > 0 {
		d.Open = buckets[len(buckets)-1]
	}
	return graph.Edge{EdgeData: d}
}

func snapOf(nodes []string, edges ...graph.Edge) *graph.Snapshot {
	s := &graph.Snapshot{BucketWidth: time.Minute, Bounds: []float64{1}}
	for _, n := range nodes {
		s.Nodes = append(s.Nodes, graph.Node{Name: n, Kind: graph.ServiceNode})
	}
	s.Edges = edges
	return s
}

// Past MaxNodes the least busy names fold into the overflow node, their
// edges summed; past MaxEdges the least busy edges are left out, counted.
func TestMergeLimits(t *testing.T) {
	b := func(count uint64) graph.Bucket { return graph.Bucket{Start: t0.UnixNano(), Count: count} }
	one := snapOf([]string{"a", "b", "c"}, edgeData("a", "b", graph.Call, 10, b(10)), edgeData("a", "c", graph.Call, 2, b(2)))
	two := snapOf([]string{"a", "d", "e"}, edgeData("a", "d", graph.Call, 3, b(3)), edgeData("a", "e", graph.Call, 1, b(1)))

	t.Run("nodes", func(t *testing.T) {
		m, st, err := graph.Merge(graph.MergeLimits{MaxNodes: 4, MaxEdges: 10}, one, two)
		if err != nil {
			t.Fatal(err)
		}
		// a (16), b (10), d (3) stay; c (2) and e (1) fold.
		var names []string
		for _, n := range m.Nodes {
			names = append(names, n.Name)
		}
		if want := []string{"__overflow__", "a", "b", "d"}; !reflect.DeepEqual(names, want) {
			t.Fatalf("nodes %v, want %v", names, want)
		}
		var edges []string
		var counts []uint64
		for _, e := range m.Edges {
			edges = append(edges, e.Client+">"+e.Server)
			counts = append(counts, e.Count)
		}
		if want := []string{"a>__overflow__", "a>b", "a>d"}; !reflect.DeepEqual(edges, want) {
			t.Fatalf("edges %v, want %v", edges, want)
		}
		if want := []uint64{3, 10, 3}; !reflect.DeepEqual(counts, want) {
			t.Fatalf("counts %v, want %v", counts, want)
		}
		if m.Edges[0].Open.Count != 3 {
			t.Fatalf("folded bucket %+v, want count 3", m.Edges[0].Open)
		}
		if want := (graph.MergeStats{NodesFolded: 2, EdgesFolded: 1}); st != want {
			t.Fatalf("stats %+v, want %+v", st, want)
		}
	})
	t.Run("edges", func(t *testing.T) {
		m, st, err := graph.Merge(graph.MergeLimits{MaxNodes: 100, MaxEdges: 2}, one, two)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Edges) != 2 || m.Edges[0].Server != "b" || m.Edges[1].Server != "d" {
			t.Fatalf("edges %+v, want a→b and a→d", m.Edges)
		}
		if want := (graph.MergeStats{EdgesDropped: 2, CountDropped: 3}); st != want {
			t.Fatalf("stats %+v, want %+v", st, want)
		}
	})
}

// The busiest edges are those of the history held (of a window's
// snapshot: the window), not of all time.
func TestMergeLimitsBusyInWindow(t *testing.T) {
	b := func(count uint64) graph.Bucket { return graph.Bucket{Start: t0.UnixNano(), Count: count} }
	old := edgeData("a", "old", graph.Call, 1000, b(1))
	busy := edgeData("a", "busy", graph.Call, 5, b(5))
	m, st, err := graph.Merge(graph.MergeLimits{MaxNodes: 10, MaxEdges: 1}, snapOf([]string{"a", "old", "busy"}, old, busy))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Edges) != 1 || m.Edges[0].Server != "busy" {
		t.Fatalf("edges %+v, want a→busy only", m.Edges)
	}
	if want := (graph.MergeStats{EdgesDropped: 1, CountDropped: 1000}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestMergeErrors(t *testing.T) {
	a := snapOf([]string{"a"})
	b := snapOf([]string{"a"})
	b.BucketWidth = time.Second
	if _, _, err := graph.Merge(graph.MergeLimits{MaxNodes: 10, MaxEdges: 10}, a, b); !errors.Is(err, graph.ErrIncompatible) {
		t.Fatalf("bucket widths 1m and 1s: err %v, want ErrIncompatible", err)
	}
	c := snapOf([]string{"a"})
	c.Bounds = []float64{2}
	if _, _, err := graph.Merge(graph.MergeLimits{MaxNodes: 10, MaxEdges: 10}, a, c); !errors.Is(err, graph.ErrIncompatible) {
		t.Fatalf("other bounds: err %v, want ErrIncompatible", err)
	}
	if _, _, err := graph.Merge(graph.MergeLimits{MaxNodes: 10, MaxEdges: 10}, nil); err == nil {
		t.Fatal("no snapshot: no error")
	}
	if _, _, err := graph.Merge(graph.MergeLimits{MaxNodes: 1, MaxEdges: 10}, a); err == nil {
		t.Fatal("max_nodes 1: no error")
	}
	var buf bytes.Buffer
	if err := graph.WriteSnapshot(&buf, snapOf([]string{"a", "b"}, edgeData("a", "b", graph.Call, 1))); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	for name, in := range map[string][]byte{
		"empty":     nil,
		"truncated": raw[:len(raw)-3],
		"flipped":   append(append([]byte{}, raw[:len(raw)-1]...), raw[len(raw)-1]^1),
		"not ours":  []byte("HTTP/1.1 200 OK\r\n\r\nhello world, this is no graph"),
	} {
		if _, err := graph.ReadSnapshot(bytes.NewReader(in)); !errors.Is(err, graph.ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
	newer := append([]byte{}, raw...)
	newer[11] = 99 // format version, big-endian after the 8-byte magic
	if _, err := graph.ReadSnapshot(bytes.NewReader(newer)); !errors.Is(err, graph.ErrNewerFormat) {
		t.Errorf("newer: err %v, want ErrNewerFormat", err)
	}
}

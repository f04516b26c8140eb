package graph_test

import (
	"slices"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// TestQueryDirectionAndCycles: a graph with a cycle b→c→d→b (d→b a span
// link), a self-loop on e, a caller a of b and a leaf f of d. Downstream
// of b is what b's calls and links reach, upstream what reaches b (each
// with the edges among the nodes reached), and
// cycles keeps only the edges on a cycle (with their nodes).
func TestQueryDirectionAndCycles(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, &now)
	id := func(n string) graph.NodeID { return s.Node(n, graph.ServiceNode) }
	a, b, c, d, e, f := id("a"), id("b"), id("c"), id("d"), id("e"), id("f")
	s.Observe([]graph.Observation{
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{-1, -1}},
		{Client: b, Server: c, Kind: graph.Call, Seconds: [2]float64{-1, -1}},
		{Client: c, Server: d, Kind: graph.Call, Seconds: [2]float64{-1, -1}},
		{Client: d, Server: b, Kind: graph.SpanLink, Seconds: [2]float64{1, -1}},
		{Client: d, Server: f, Kind: graph.Call, Seconds: [2]float64{-1, -1}},
		{Client: e, Server: e, Kind: graph.SpanLink, Seconds: [2]float64{1, -1}},
		{Client: a, Server: e, Kind: graph.Call, Seconds: [2]float64{-1, -1}},
	}, nil)
	snap := s.Snapshot()
	tests := []struct {
		name         string
		service      string
		depth        int
		dir          graph.Direction
		cycles       bool
		kinds        graph.KindSet
		edges, nodes []string
	}{
		{name: "b both depth 1", service: "b", depth: 1, dir: graph.Both,
			edges: []string{"a>b:call", "b>c:call", "c>d:call", "d>b:span_link"}, nodes: []string{"a", "b", "c", "d"}},
		{name: "b downstream depth 1", service: "b", depth: 1, dir: graph.Downstream,
			edges: []string{"b>c:call"}, nodes: []string{"b", "c"}},
		{name: "b downstream depth 3", service: "b", depth: 3, dir: graph.Downstream,
			edges: []string{"b>c:call", "c>d:call", "d>b:span_link", "d>f:call"}, nodes: []string{"b", "c", "d", "f"}},
		{name: "b upstream depth 1", service: "b", depth: 1, dir: graph.Upstream,
			edges: []string{"a>b:call", "d>b:span_link"}, nodes: []string{"a", "b", "d"}},
		{name: "f upstream depth 10", service: "f", depth: 10, dir: graph.Upstream,
			edges: []string{"a>b:call", "b>c:call", "c>d:call", "d>b:span_link", "d>f:call"}, nodes: []string{"a", "b", "c", "d", "f"}},
		{name: "f downstream", service: "f", depth: 10, dir: graph.Downstream,
			nodes: []string{"f"}},
		{name: "cycles", cycles: true,
			edges: []string{"b>c:call", "c>d:call", "d>b:span_link", "e>e:span_link"}, nodes: []string{"b", "c", "d", "e"}},
		{name: "cycles of calls only", cycles: true, kinds: graph.KindSet(0).With(graph.Call)},
		{name: "cycles downstream of a", service: "a", depth: 10, dir: graph.Downstream, cycles: true,
			edges: []string{"b>c:call", "c>d:call", "d>b:span_link", "e>e:span_link"}, nodes: []string{"b", "c", "d", "e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := graph.NewQuery(now)
			q.Service, q.Depth, q.Direction, q.Cycles = tc.service, tc.depth, tc.dir, tc.cycles
			if tc.kinds != 0 {
				q.Kinds = tc.kinds
			}
			v, err := snap.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			var edges, nodes []string
			for _, e := range v.Edges {
				edges = append(edges, e.Client+">"+e.Server+":"+e.Kind.String())
			}
			for _, n := range v.Nodes {
				nodes = append(nodes, n.Name)
			}
			if !slices.Equal(edges, tc.edges) || !slices.Equal(nodes, tc.nodes) {
				t.Fatalf("edges = %v, nodes = %v; want %v, %v", edges, nodes, tc.edges, tc.nodes)
			}
		})
	}
	q := graph.NewQuery(now)
	q.Direction = graph.Upstream + 1
	if _, err := snap.Query(q); err == nil {
		t.Fatal("unknown direction accepted")
	}
	for _, d := range graph.Directions {
		if got, err := graph.ParseDirection(d.String()); err != nil || got != d {
			t.Errorf("ParseDirection(%q) = %v, %v", d, got, err)
		}
	}
	if _, err := graph.ParseDirection("sideways"); err == nil {
		t.Error("ParseDirection(sideways) accepted")
	}
}

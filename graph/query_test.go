package graph_test

import (
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

func newStore(t *testing.T, now *time.Time) *graph.Store {
	t.Helper()
	cfg := graph.NewDefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return *now }})
}

func TestQueryNeighbourhoodAndWindow(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, &now)
	id := func(n string) graph.NodeID { return s.Node(n, graph.ServiceNode) }
	a, b, c, d, e := id("a"), id("b"), id("c"), id("d"), id("e")
	s.Observe([]graph.Observation{
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.5, 0.6}},
		{Client: a, Server: b, Kind: graph.SpanLink, Failed: true, Seconds: [2]float64{2, -1}},
		{Client: b, Server: c, Kind: graph.Call, Seconds: [2]float64{-1, -1}},
		{Client: c, Server: d, Kind: graph.Messaging, Seconds: [2]float64{1, -1}},
		{Client: e, Server: e, Kind: graph.SpanLink, Seconds: [2]float64{1, -1}},
	}, nil)
	now = now.Add(2 * time.Hour)
	s.Observe([]graph.Observation{{Client: d, Server: e, Kind: graph.Call, Seconds: [2]float64{-1, -1}}}, nil)
	snap := s.Snapshot()

	tests := []struct {
		name  string
		q     func(q graph.Query) graph.Query
		edges []string
	}{
		{"last hour", func(q graph.Query) graph.Query { return q }, []string{"d>e:call"}},
		{"three hours", func(q graph.Query) graph.Query { q.From = now.Add(-3 * time.Hour); return q },
			[]string{"a>b:call", "a>b:span_link", "b>c:call", "c>d:messaging_system", "d>e:call", "e>e:span_link"}},
		{"b depth 1", func(q graph.Query) graph.Query {
			q.From, q.Service, q.Depth = now.Add(-3*time.Hour), "b", 1
			return q
		}, []string{"a>b:call", "a>b:span_link", "b>c:call"}},
		{"b depth 1 links only", func(q graph.Query) graph.Query {
			q.From, q.Service, q.Depth, q.Kinds = now.Add(-3*time.Hour), "b", 1, graph.KindSet(0).With(graph.SpanLink)
			return q
		}, []string{"a>b:span_link"}},
		{"e depth 0", func(q graph.Query) graph.Query {
			q.From, q.Service, q.Depth = now.Add(-3*time.Hour), "e", 0
			return q
		}, []string{"e>e:span_link"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := snap.Query(tc.q(graph.NewQuery(now)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range v.Edges {
				got = append(got, e.Client+">"+e.Server+":"+e.Kind.String())
			}
			if len(got) != len(tc.edges) {
				t.Fatalf("edges = %v, want %v", got, tc.edges)
			}
			for i := range got {
				if got[i] != tc.edges[i] {
					t.Fatalf("edges = %v, want %v", got, tc.edges)
				}
			}
		})
	}
	if _, err := snap.Query(graph.Query{From: now, To: now, Kinds: graph.AllKinds}); err == nil {
		t.Fatal("empty window accepted")
	}
	q := graph.NewQuery(now)
	q.Service = "nope"
	if _, err := snap.Query(q); err == nil {
		t.Fatal("unknown service accepted")
	}
}

func TestNodeBounds(t *testing.T) {
	now := time.Unix(0, 0)
	cfg := graph.NewDefaultConfig()
	cfg.MaxNodes = 3
	s := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	a := s.Node("a", graph.DatabaseNode)
	if s.Node("a", graph.ServiceNode) != a {
		t.Fatal("id changed on kind raise")
	}
	s.Node("b\xff", graph.ServiceNode)
	o1 := s.Node("c", graph.ServiceNode)
	o2 := s.Node("d", graph.ServiceNode)
	if o1 != o2 || s.Name(o1) != graph.OverflowNode {
		t.Fatalf("overflow: %d %d %q", o1, o2, s.Name(o1))
	}
	names := s.Nodes()
	want := []string{"a", "b\uFFFD", graph.OverflowNode}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names = %q, want %q", names, want)
		}
	}
	if st := s.Stats(); st.NodesOverflowed != 2 {
		t.Fatalf("overflowed = %d, want 2", st.NodesOverflowed)
	}
	if n, _ := s.Snapshot().Node("a"); n.Kind != graph.ServiceNode {
		t.Fatalf("kind = %v, want service", n.Kind)
	}
}

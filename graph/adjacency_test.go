package graph

import (
	"testing"
	"time"
)

// The adjacency that queries walk is built once and shared by every query
// of a snapshot, and by the next snapshots while no node or edge is added.
func TestAdjacencyShared(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	s := MustNew(NewDefaultConfig(), Settings{Now: func() time.Time { return now }})
	a, b, c := s.Node("a", ServiceNode), s.Node("b", ServiceNode), s.Node("c", ServiceNode)
	s.Observe([]Observation{{Client: a, Server: b, Kind: Call}, {Client: b, Server: c, Kind: SpanLink}}, nil)
	q := NewQuery(now)
	q.Service = "a"
	first := s.Snapshot()
	if _, err := first.Query(q); err != nil {
		t.Fatal(err)
	}
	hops := first.adj.hops
	if hops == nil {
		t.Fatal("a centred query built no neighbour index")
	}
	if _, err := first.Query(q); err != nil || &first.adj.hops[0] != &hops[0] {
		t.Fatalf("a second query of one snapshot built another index (%v)", err)
	}
	if g := first.Graph(); g.Node(0) == nil || first.Graph() != g {
		t.Fatal("Graph is not built once")
	}
	s.Observe([]Observation{{Client: a, Server: b, Kind: Call}}, []LinkTally{{Service: b, Result: LinkResolved, N: 1}})
	second := s.Snapshot()
	if second == first || second.adj != first.adj || second.Topology != first.Topology {
		t.Fatal("a snapshot with the same nodes and edges did not share the adjacency")
	}
	s.Observe([]Observation{{Client: c, Server: a, Kind: Call}}, nil)
	third := s.Snapshot()
	v, err := third.Query(q)
	if err != nil || third.adj == first.adj || third.Topology == first.Topology || len(v.Edges) != 3 {
		t.Fatalf("after a new edge: shared %v, %d edges, %v", third.adj == first.adj, len(v.Edges), err)
	}
}

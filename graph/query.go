package graph

import (
	"errors"
	"fmt"
	"time"

	gonum "gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/multi"
	"gonum.org/v1/gonum/graph/traverse"
)

// Query selects part of a snapshot. The zero Query selects nothing useful:
// start from NewQuery.
type Query struct {
	From, To time.Time // window; edges with no occurrence in it are left out
	Service  string    // centre of a neighbourhood; "" for the whole graph
	Depth    int       // hops from Service, both directions; 0 = the service alone
	Kinds    KindSet   // edge kinds to keep
}

// DefaultDepth is the neighbourhood depth when none is given.
const DefaultDepth = 2

// NewQuery returns the default query: the last hour before now, every kind,
// the whole graph.
func NewQuery(now time.Time) Query {
	return Query{From: now.Add(-time.Hour), To: now, Depth: DefaultDepth, Kinds: AllKinds}
}

// ErrUnknownService is returned by Query when Service names no node.
var ErrUnknownService = errors.New("unknown service")

// View is the result of a query: the nodes and edges in the window, with
// counts over the window only.
type View struct {
	From, To time.Time
	Nodes    []ViewNode // sorted by name
	Edges    []ViewEdge // sorted by client, server, kind
}

// ViewNode is a node of a view. Count and Failed sum its incoming edges in
// the window; a node with none (a root such as user) sums its outgoing ones.
type ViewNode struct {
	Name          string
	Kind          NodeKind
	Count, Failed uint64
	Rate          float64 // Count per second of the window
}

// ViewEdge is an edge of a view, with its totals over the window.
type ViewEdge struct {
	Client, Server      string
	Kind                Kind
	Count, Failed       uint64
	Rate                float64 // Count per second of the window
	MeanSeconds         float64 // mean server duration (sync) or delay (async); 0 if unknown
	FirstSeen, LastSeen time.Time
}

// ErrorRate is Failed/Count, 0 for an unused edge.
func (e *ViewEdge) ErrorRate() float64 {
	if e.Count == 0 {
		return 0
	}
	return float64(e.Failed) / float64(e.Count)
}

// ErrorRate is Failed/Count, 0 for an idle node.
func (n *ViewNode) ErrorRate() float64 {
	if n.Count == 0 {
		return 0
	}
	return float64(n.Failed) / float64(n.Count)
}

// line is a gonum multi-graph line standing for one snapshot edge.
type line struct {
	f, t gonum.Node
	id   int64 // index into the view's candidate edges
}

func (l line) From() gonum.Node         { return l.f }
func (l line) To() gonum.Node           { return l.t }
func (l line) ID() int64                { return l.id }
func (l line) ReversedLine() gonum.Line { return line{l.t, l.f, l.id} }

var _ gonum.Line = line{}

// Query returns the part of the snapshot that q selects.
func (s *Snapshot) Query(q Query) (*View, error) {
	if !q.To.After(q.From) {
		return nil, fmt.Errorf("window is empty: from %s is not before to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if q.Depth < 0 {
		return nil, fmt.Errorf("depth must not be negative, got %d", q.Depth)
	}
	secs := q.To.Sub(q.From).Seconds()
	// Candidate edges: right kind, active in the window.
	var cand []ViewEdge
	for i := range s.Edges {
		e := &s.Edges[i]
		if !q.Kinds.Has(e.Kind) {
			continue
		}
		w := e.Window(q.From, q.To, s.BucketWidth)
		if w.Count == 0 {
			continue
		}
		ve := ViewEdge{Client: e.Client, Server: e.Server, Kind: e.Kind, Count: w.Count, Failed: w.Failed,
			Rate: float64(w.Count) / secs, FirstSeen: e.FirstSeen, LastSeen: e.LastSeen}
		if w.N > 0 {
			ve.MeanSeconds = w.Sum / float64(w.N)
		}
		cand = append(cand, ve)
	}
	keep := func(string) bool { return true }
	if q.Service != "" {
		if _, ok := s.Node(q.Service); !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownService, q.Service)
		}
		near := s.neighbourhood(cand, q.Service, q.Depth)
		keep = func(n string) bool { _, ok := near[n]; return ok }
	}
	v := &View{From: q.From, To: q.To}
	seen := map[string]bool{}
	for _, e := range cand {
		if keep(e.Client) && keep(e.Server) {
			v.Edges = append(v.Edges, e)
			seen[e.Client], seen[e.Server] = true, true
		}
	}
	if q.Service != "" {
		seen[q.Service] = true // the centre is shown even when idle
	}
	type totals struct{ count, failed uint64 }
	in, out := map[string]totals{}, map[string]totals{}
	for _, e := range v.Edges {
		t := in[e.Server]
		in[e.Server] = totals{t.count + e.Count, t.failed + e.Failed}
		t = out[e.Client]
		out[e.Client] = totals{t.count + e.Count, t.failed + e.Failed}
	}
	for _, n := range s.Nodes {
		if !seen[n.Name] {
			continue
		}
		vn := ViewNode{Name: n.Name, Kind: n.Kind}
		t, ok := in[n.Name]
		if !ok {
			t = out[n.Name]
		}
		vn.Count, vn.Failed = t.count, t.failed
		vn.Rate = float64(vn.Count) / secs
		v.Nodes = append(v.Nodes, vn)
	}
	return v, nil
}

// neighbourhood returns the names within depth hops of centre, following
// edges in both directions, over a gonum multi directed graph of cand.
func (s *Snapshot) neighbourhood(cand []ViewEdge, centre string, depth int) map[string]struct{} {
	ids := map[string]int64{}
	names := []string{}
	g := multi.NewDirectedGraph()
	node := func(n string) gonum.Node {
		id, ok := ids[n]
		if !ok {
			id = int64(len(names))
			ids[n] = id
			names = append(names, n)
			g.AddNode(multi.Node(id))
		}
		return multi.Node(id)
	}
	node(centre)
	for i, e := range cand {
		g.SetLine(line{node(e.Client), node(e.Server), int64(i)})
	}
	near := map[string]struct{}{}
	bf := traverse.BreadthFirst{}
	bf.Walk(gonum.Undirect{G: g}, multi.Node(ids[centre]), func(n gonum.Node, d int) bool {
		if d > depth {
			return true
		}
		near[names[n.ID()]] = struct{}{}
		return false
	})
	return near
}

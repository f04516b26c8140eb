package graph

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	gonum "gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/multi"
	"gonum.org/v1/gonum/graph/simple"
	"gonum.org/v1/gonum/graph/topo"
)

// Query selects part of a snapshot. The zero Query selects nothing useful:
// start from NewQuery.
type Query struct {
	From, To time.Time // window; edges with no occurrence in it are left out
	Service  string    // centre of a neighbourhood; "" for the whole graph
	Depth    int       // hops from Service; 0 = the service alone
	Kinds    KindSet   // edge kinds to keep
	// Direction is the way the neighbourhood of Service is walked: Both
	// (the zero value), Downstream (what Service's calls and links reach)
	// or Upstream (what reaches Service). It changes nothing without a
	// Service.
	Direction Direction
	// Cycles keeps only the edges that lie on a cycle of the selection: a
	// self-loop, or an edge whose two ends are in the same strongly
	// connected component (Tarjan's, gonum's topo.TarjanSCC), with their
	// nodes.
	Cycles bool
}

// Direction is the way a neighbourhood is walked from its centre.
type Direction uint8

// The directions. An edge goes from its client (caller, producer, link
// source) to its server.
const (
	Both       Direction = iota // follow edges either way
	Downstream                  // follow edges from client to server: the centre's reach
	Upstream                    // follow edges from server to client: what reaches the centre
)

// Directions lists every direction in order; their String values are the
// API's and CLI's words.
var Directions = []Direction{Both, Downstream, Upstream}

// String returns the direction's word: both, downstream or upstream.
func (d Direction) String() string {
	switch d {
	case Both:
		return "both"
	case Downstream:
		return "downstream"
	case Upstream:
		return "upstream"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// ParseDirection is the inverse of Direction.String.
func ParseDirection(s string) (Direction, error) {
	for _, d := range Directions {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown direction %q (want both, downstream or upstream)", s)
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
// counts over the window only. A snapshot keeps its latest view, and
// answers the same question again (the same buckets over a window of the
// same length, centre, depth and kinds) with a copy whose Nodes and Edges
// are shared: callers must not modify them.
type View struct {
	From, To time.Time
	Nodes    []ViewNode // sorted by name
	Edges    []ViewEdge // sorted by client, server, kind

	// For callers that cache what they derive from an edge (Source,
	// Shared): per view edge, its index in the snapshot's Edges and its
	// data; the window's first and last bucket numbers.
	pos    []int32
	data   []*EdgeData
	lo, hi int64
	adj    *adjacency
}

// Source returns where the view's edge i comes from: its index in the
// snapshot's Edges (the same for every snapshot of one Topology), and its
// data, the same pointer for as long as the edge does not change. With the
// window's bucket numbers (Window) they identify the view edge's values:
// a view edge of the same position, data and window has the same counts,
// sums and names. ok is false for a view made without a snapshot.
func (v *View) Source(i int) (pos int, data *EdgeData, ok bool) {
	if i >= len(v.pos) {
		return 0, nil, false
	}
	return int(v.pos[i]), v.data[i], true
}

// Window returns the first and last bucket numbers (bucket start / bucket
// width) that the view's counts sum.
func (v *View) Window() (first, last int64) { return v.lo, v.hi }

// Shared returns the value kept under key for the topology of the view's
// snapshot, calling build to make it the first time. The value is shared
// by every caller with the same key and every view of the snapshots of the
// topology, and dropped with them: it must be safe for concurrent use.
// A view made without a snapshot returns build() each time.
func (v *View) Shared(key any, build func() any) any {
	if v.adj == nil {
		return build()
	}
	a := v.adj
	a.sharedMu.Lock()
	defer a.sharedMu.Unlock()
	if x, ok := a.shared[key]; ok {
		return x
	}
	if a.shared == nil {
		a.shared = make(map[any]any)
	}
	x := build()
	a.shared[key] = x
	return x
}

// ViewNode is a node of a view. Count and Failed sum its incoming edges in
// the window; a node with none (a root such as user) sums its outgoing ones.
type ViewNode struct {
	Name          string
	Kind          NodeKind
	Count, Failed uint64
	Rate          float64 // Count per second of the window
	Detail        string  // Node.Detail: a topic's messaging system
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

// adjacency is the structure of a snapshot's graph: each edge's nodes as
// indexes into Snapshot.Nodes, a neighbour index (for each node, its
// edges in both directions) that neighbourhood queries walk, and the gonum
// multi directed graph of Snapshot.Graph. Each part is built once, by the
// first caller that needs it, and shared by every query of the snapshot,
// and of the snapshots after it while no node or edge is added (their
// Nodes and Edges keep their positions).
type adjacency struct {
	endsOnce       sync.Once
	client, server []int32 // per edge: indexes into Snapshot.Nodes
	kind           []Kind  // per edge

	nearOnce sync.Once
	start    []int32    // node i's entries are hops[start[i]:start[i+1]]
	hops     [][2]int32 // (neighbour node, edge), out and in edges alike

	graphOnce sync.Once
	g         *multi.DirectedGraph

	windows windowMemo

	sharedMu sync.Mutex  // guards shared
	shared   map[any]any // View.Shared's values
}

// windowMemo keeps, for one window of whole buckets, each edge's sum over
// it (Edge.Window), so that a query re-sums only the edges that changed
// since the last query of the same window: an entry holds for the edge data
// it was computed from (unchanged edges share their data across
// snapshots). One window is kept: a query of another resets every entry.
// A query reads the memo's dense array rather than every edge's data.
// Memory: 96 B per edge of the topology (9.6 MB at 100k edges), allocated
// by the first query of a topology.
type windowMemo struct {
	mu     sync.Mutex // guards the fields below; held by a query while it reads the windows
	lo, hi int64      // bucket numbers, first and last, of the window
	sums   []windowSum
}

type windowSum struct {
	data        *EdgeData // what sum was computed from; nil: none
	sum         Bucket
	first, last time.Time // data's FirstSeen, LastSeen
}

// ends returns each edge's client and server as indexes into s.Nodes, and
// its kind: dense arrays, shared per topology, that a query walks without
// reading every edge's data.
func (s *Snapshot) ends() (client, server []int32, kind []Kind) {
	a := s.adjacency()
	a.endsOnce.Do(func() {
		ids := make(map[string]int32, len(s.Nodes))
		for i := range s.Nodes {
			ids[s.Nodes[i].Name] = int32(i)
		}
		a.client, a.server, a.kind = make([]int32, len(s.Edges)), make([]int32, len(s.Edges)), make([]Kind, len(s.Edges))
		for i := range s.Edges {
			a.client[i], a.server[i], a.kind[i] = ids[s.Edges[i].Client], ids[s.Edges[i].Server], s.Edges[i].Kind
		}
	})
	return a.client, a.server, a.kind
}

// neighbours returns the neighbour index: node i's (neighbour, edge) pairs
// are hops[start[i]:start[i+1]].
func (s *Snapshot) neighbours() (start []int32, hops [][2]int32) {
	client, server, _ := s.ends()
	a := s.adjacency()
	a.nearOnce.Do(func() {
		start := make([]int32, len(s.Nodes)+1)
		for i := range client {
			start[client[i]+1]++
			start[server[i]+1]++
		}
		for i := 1; i < len(start); i++ {
			start[i] += start[i-1]
		}
		hops := make([][2]int32, start[len(start)-1])
		next := slices.Clone(start[:len(start)-1])
		for i := range client {
			c, v := client[i], server[i]
			hops[next[c]] = [2]int32{v, int32(i)}
			next[c]++
			hops[next[v]] = [2]int32{c, int32(i)}
			next[v]++
		}
		a.start, a.hops = start, hops
	})
	return a.start, a.hops
}

// Graph returns the snapshot's topology as a gonum multi directed graph:
// node ids are indexes into Nodes, line ids indexes into Edges (parallel
// call and link lines between two services, self loops). It is built once
// and shared: callers must not modify it.
func (s *Snapshot) Graph() gonum.Multigraph {
	client, server, _ := s.ends()
	a := s.adjacency()
	a.graphOnce.Do(func() {
		g := multi.NewDirectedGraph()
		for i := range s.Nodes {
			g.AddNode(multi.Node(i))
		}
		for i := range s.Edges {
			g.SetLine(line{multi.Node(client[i]), multi.Node(server[i]), int64(i)})
		}
		a.g = g
	})
	return a.g
}

func (s *Snapshot) adjacency() *adjacency {
	if s.adj == nil {
		// Not made by a Store: nothing to share with.
		s.adj = new(adjacency)
	}
	return s.adj
}

// Query returns the part of the snapshot that q selects.
func (s *Snapshot) Query(q Query) (*View, error) {
	if !q.To.After(q.From) {
		return nil, fmt.Errorf("window is empty: from %s is not before to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if q.Depth < 0 {
		return nil, fmt.Errorf("depth must not be negative, got %d", q.Depth)
	}
	if q.Direction > Upstream {
		return nil, fmt.Errorf("unknown direction %d", q.Direction)
	}
	centre := -1
	if q.Service != "" {
		i, ok := slices.BinarySearchFunc(s.Nodes, q.Service, func(n Node, x string) int { return cmp.Compare(n.Name, x) })
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownService, q.Service)
		}
		centre = i
	}
	w := max(int64(s.BucketWidth), 1)
	key := viewKey{lo: floorDiv(q.From.UnixNano(), w), hi: floorDiv(q.To.UnixNano()-1, w), span: q.To.Sub(q.From),
		service: q.Service, depth: q.Depth, kinds: q.Kinds, direction: q.Direction, cycles: q.Cycles}
	if s.views != nil {
		s.views.mu.Lock()
		hit := s.views.key == key && s.views.view != nil
		out := s.views.view
		s.views.mu.Unlock()
		if hit {
			v := *out
			v.From, v.To = q.From, q.To
			return &v, nil
		}
	}
	v := s.query(q, centre, key.lo, key.hi)
	if s.views != nil {
		kept := *v
		s.views.mu.Lock()
		s.views.key, s.views.view = key, &kept
		s.views.mu.Unlock()
	}
	return v, nil
}

// viewCache keeps a snapshot's latest view (one: ~13 MB at 100k edges),
// for readers that ask the snapshot the same question: the same buckets
// over a window of the same length, the same centre, depth and kinds.
type viewCache struct {
	mu   sync.Mutex // guards the fields below
	key  viewKey
	view *View
}

type viewKey struct {
	lo, hi    int64 // bucket numbers
	span      time.Duration
	service   string
	depth     int
	kinds     KindSet
	direction Direction
	cycles    bool
}

// query computes the view of q over the buckets lo to hi.
func (s *Snapshot) query(q Query, centre int, lo, hi int64) *View {
	secs := q.To.Sub(q.From).Seconds()
	client, server, kind := s.ends()
	// Each candidate edge's sum over the window (right kind; active in the
	// window if its Count is not zero), from the memo when the edge did
	// not change since the last query of this window.
	m := &s.adjacency().windows
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sums) != len(s.Edges) || m.lo != lo || m.hi != hi {
		if len(m.sums) != len(s.Edges) {
			m.sums = make([]windowSum, len(s.Edges))
		} else {
			clear(m.sums)
		}
		m.lo, m.hi = lo, hi
	}
	win := m.sums
	ncand := 0
	for i := range s.Edges {
		if !q.Kinds.Has(kind[i]) {
			continue
		}
		if ws := &win[i]; ws.data != s.Edges[i].EdgeData {
			e := s.Edges[i].EdgeData
			*ws = windowSum{data: e, sum: e.Window(q.From, q.To, s.BucketWidth), first: e.FirstSeen, last: e.LastSeen}
		}
		if win[i].sum.Count > 0 {
			ncand++
		}
	}
	var near []bool
	if centre >= 0 {
		near = s.neighbourhood(win, kind, centre, q.Depth, q.Kinds, q.Direction)
	}
	keep := func(i int) bool {
		return q.Kinds.Has(kind[i]) && win[i].sum.Count > 0 && (near == nil || near[client[i]] && near[server[i]])
	}
	if q.Cycles {
		onCycle := s.onCycles(keep)
		selected := keep
		keep = func(i int) bool { return selected(i) && onCycle[i] }
		ncand = 0
		for i := range s.Edges {
			if keep(i) {
				ncand++
			}
		}
	}
	type totals struct {
		count, failed uint64
		in, seen      bool
	}
	nodes := make([]totals, len(s.Nodes))
	v := &View{From: q.From, To: q.To, lo: lo, hi: hi, adj: s.adjacency()}
	if ncand > 0 {
		v.Edges = make([]ViewEdge, 0, ncand)
		v.pos, v.data = make([]int32, 0, ncand), make([]*EdgeData, 0, ncand)
	}
	for i := range s.Edges {
		if !keep(i) {
			continue
		}
		ws := &win[i]
		w := ws.sum
		ve := ViewEdge{Client: s.Nodes[client[i]].Name, Server: s.Nodes[server[i]].Name, Kind: kind[i], Count: w.Count,
			Failed: w.Failed, Rate: float64(w.Count) / secs, FirstSeen: ws.first, LastSeen: ws.last}
		if w.N > 0 {
			ve.MeanSeconds = w.Sum / float64(w.N)
		}
		v.Edges = append(v.Edges, ve)
		v.pos, v.data = append(v.pos, int32(i)), append(v.data, ws.data)
		// A node sums its incoming edges; one with none, its outgoing ones.
		c, t := &nodes[client[i]], &nodes[server[i]]
		if !t.in {
			*t = totals{seen: true, in: true}
		}
		t.count, t.failed = t.count+w.Count, t.failed+w.Failed
		if !c.in {
			c.seen = true
			c.count, c.failed = c.count+w.Count, c.failed+w.Failed
		}
	}
	if centre >= 0 && !q.Cycles {
		nodes[centre].seen = true // the centre is shown even when idle
	}
	for i := range s.Nodes {
		t := &nodes[i]
		if !t.seen {
			continue
		}
		n := &s.Nodes[i]
		v.Nodes = append(v.Nodes, ViewNode{Name: n.Name, Kind: n.Kind, Count: t.count, Failed: t.failed, Rate: float64(t.count) / secs, Detail: n.Detail})
	}
	return v
}

// neighbourhood returns, by index into s.Nodes, the nodes within depth
// hops of centre, following the edges of kinds active in the window
// (win[i].sum.Count > 0) in direction dir: a breadth-first walk of the
// neighbour index.
func (s *Snapshot) neighbourhood(win []windowSum, kind []Kind, centre, depth int, kinds KindSet, dir Direction) []bool {
	start, hops := s.neighbours()
	client, server, _ := s.ends()
	near := make([]bool, len(s.Nodes))
	near[centre] = true
	frontier := []int32{int32(centre)}
	for d := 0; d < depth && len(frontier) > 0; d++ {
		var next []int32
		for _, n := range frontier {
			for _, h := range hops[start[n]:start[n+1]] {
				if near[h[0]] || !kinds.Has(kind[h[1]]) || win[h[1]].sum.Count == 0 ||
					dir == Downstream && client[h[1]] != n || dir == Upstream && server[h[1]] != n {
					continue
				}
				near[h[0]] = true
				next = append(next, h[0])
			}
		}
		frontier = next
	}
	return near
}

// onCycles reports, by index into s.Edges, which of the edges keep selects
// lie on a cycle of the selected edges: self-loops, and edges whose ends
// are in one strongly connected component of more than one node. The
// components are gonum's (topo.TarjanSCC) over the selection with parallel
// lines merged; built per query, only when cycles are asked for.
func (s *Snapshot) onCycles(keep func(int) bool) []bool {
	client, server, _ := s.ends()
	g := simple.NewDirectedGraph()
	for i := range s.Edges {
		c, v := int64(client[i]), int64(server[i])
		if !keep(i) || c == v {
			continue
		}
		if g.Node(c) == nil {
			g.AddNode(simple.Node(c))
		}
		if g.Node(v) == nil {
			g.AddNode(simple.Node(v))
		}
		if !g.HasEdgeFromTo(c, v) {
			g.SetEdge(simple.Edge{F: simple.Node(c), T: simple.Node(v)})
		}
	}
	comp := make(map[int64]int)
	for i, scc := range topo.TarjanSCC(g) {
		if len(scc) > 1 {
			for _, n := range scc {
				comp[n.ID()] = i + 1
			}
		}
	}
	on := make([]bool, len(s.Edges))
	for i := range s.Edges {
		if !keep(i) {
			continue
		}
		c, v := int64(client[i]), int64(server[i])
		on[i] = c == v || comp[c] != 0 && comp[c] == comp[v]
	}
	return on
}

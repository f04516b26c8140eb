package graph

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Merging is how several instances, each holding part of the traffic
// (issue 14's scale-out), answer as one graph: the API of any instance
// merges its snapshot with its peers'. The merge is a sum: an edge's
// count, failures, histograms (Hist and AsyncHist) and history buckets (aligned by start) add
// up, its first-seen is the earliest and its last-seen the latest; a
// node's kind is the highest and its link tallies add up. The merged
// snapshot is bounded like a store: past MergeLimits.MaxNodes the least
// busy names fold into OverflowNode (their edges summed into its edges),
// past MaxEdges the least busy edges are left out. Busy is the count in the
// history held (of a window's snapshot: in the window), then the total. The result does not
// depend on the order of the inputs (but for the last bits of float sums,
// which add in input order).

// ErrIncompatible is returned by Merge for snapshots of another bucket
// width or other histogram bounds: their history or histograms cannot be
// summed bucket for bucket.
var ErrIncompatible = errors.New("incompatible snapshots")

// MergeLimits bound a merged snapshot, as Config.MaxNodes and
// Config.MaxEdges bound a store.
type MergeLimits struct {
	MaxNodes int // at least 2
	MaxEdges int // at least 1
}

// MergeStats says what the limits cut from a merge.
type MergeStats struct {
	NodesFolded  int    // names folded into OverflowNode
	EdgesFolded  int    // edges summed into another because their nodes folded
	EdgesDropped int    // edges left out past MaxEdges
	CountDropped uint64 // the occurrences of the edges left out
}

// Merge returns the sum of snaps, a new snapshot sharing nothing with
// them (its Version and Topology are 0, its Taken the latest of theirs,
// its Base nil: it is read, never exported). Inputs may be nil. At least
// one non-nil snapshot is needed; all must have the same BucketWidth and
// Bounds (else ErrIncompatible).
func Merge(lim MergeLimits, snaps ...*Snapshot) (*Snapshot, MergeStats, error) {
	var st MergeStats
	if lim.MaxNodes < 2 || lim.MaxEdges < 1 {
		return nil, st, fmt.Errorf("merge limits: max_nodes %d (at least 2), max_edges %d (at least 1)", lim.MaxNodes, lim.MaxEdges)
	}
	var first *Snapshot
	for _, s := range snaps {
		if s == nil {
			continue
		}
		if first == nil {
			first = s
			continue
		}
		if s.BucketWidth != first.BucketWidth {
			return nil, st, fmt.Errorf("%w: bucket width %s and %s", ErrIncompatible, first.BucketWidth, s.BucketWidth)
		}
		if !slices.Equal(s.Bounds, first.Bounds) {
			return nil, st, fmt.Errorf("%w: histogram bounds %v and %v", ErrIncompatible, first.Bounds, s.Bounds)
		}
	}
	if first == nil {
		return nil, st, errors.New("merge: no snapshot")
	}
	m := merger{width: int64(first.BucketWidth), nbounds: len(first.Bounds) + 1,
		nodes: map[string]*Node{}, edges: map[edgeName]*edgeAcc{}}
	out := &Snapshot{BucketWidth: first.BucketWidth, Bounds: slices.Clone(first.Bounds)}
	for _, s := range snaps {
		if s == nil {
			continue
		}
		out.Taken = later(out.Taken, s.Taken)
		for i := range s.Nodes {
			m.addNode(s.Nodes[i])
		}
		for i := range s.Edges {
			m.addEdge(s.Edges[i].EdgeData)
		}
	}
	m.capNodes(lim.MaxNodes, &st)
	accs := m.capEdges(lim.MaxEdges, &st)
	out.Nodes = make([]Node, 0, len(m.nodes))
	for _, n := range m.nodes {
		out.Nodes = append(out.Nodes, *n)
	}
	slices.SortFunc(out.Nodes, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	out.Edges = make([]Edge, len(accs))
	for i, a := range accs {
		out.Edges[i] = Edge{a.data(m.width)}
	}
	return out, st, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// merger sums snapshots.
type merger struct {
	width   int64
	nbounds int
	nodes   map[string]*Node
	edges   map[edgeName]*edgeAcc
}

// edgeAcc is an edge being summed.
type edgeAcc struct {
	key         edgeName
	count       uint64
	failed      uint64
	first, last time.Time
	hist        [2]Histogram
	async       [2]Histogram // EdgeData.AsyncHist
	buckets     []Bucket     // sorted by start, unique
	ex          Exemplar     // the latest sample (latest wins)
}

func (m *merger) addNode(n Node) {
	if have := m.nodes[n.Name]; have != nil {
		if n.Kind.Rank() > have.Kind.Rank() {
			have.Kind = n.Kind
		}
		if have.Detail == "" {
			have.Detail = n.Detail
		}
		if have.Kind != TopicNode { // only topics have details (Store.SetDetail)
			have.Detail = ""
		}
		for r := range have.Links {
			have.Links[r] += n.Links[r]
		}
		return
	}
	m.nodes[n.Name] = &n
}

// node makes sure name is a node (an edge of a hand-made snapshot may
// name one its Nodes lack).
func (m *merger) node(name string, kind NodeKind) {
	if m.nodes[name] == nil {
		m.nodes[name] = &Node{Name: name, Kind: kind}
	}
}

func (m *merger) addEdge(e *EdgeData) {
	m.node(e.Client, VirtualNode)
	m.node(e.Server, VirtualNode)
	k := edgeName{e.Client, e.Server, e.Kind}
	a := m.edges[k]
	if a == nil {
		a = &edgeAcc{key: k}
		m.edges[k] = a
	}
	a.count += e.Count
	a.failed += e.Failed
	a.first = earliest(a.first, e.FirstSeen)
	a.last = later(a.last, e.LastSeen)
	a.ex = latest(a.ex, e.Exemplar)
	for i := range e.Hist {
		addHist(&a.hist[i], e.Hist[i], m.nbounds)
		addHist(&a.async[i], e.AsyncHist[i], m.nbounds)
	}
	for i := range e.History.Len() {
		a.addBucket(ofBounds(e.History.At(i), m.nbounds), m.width)
	}
	if !e.Open.IsZero() {
		a.addBucket(ofBounds(e.Open, m.nbounds), m.width)
	}
}

// sum adds b, another accumulator (an edge folded into this one).
func (a *edgeAcc) sum(b *edgeAcc, nbounds int) {
	a.count += b.count
	a.failed += b.failed
	a.first = earliest(a.first, b.first)
	a.last = later(a.last, b.last)
	a.ex = latest(a.ex, b.ex)
	for i := range b.hist {
		addHist(&a.hist[i], b.hist[i], nbounds)
		addHist(&a.async[i], b.async[i], nbounds)
	}
	for _, bk := range b.buckets {
		a.addBucket(bk, 0)
	}
}

// earliest is the earlier of two times, a zero time meaning "none".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// addHist adds h to dst.
func addHist(dst *Histogram, h Histogram, nbounds int) {
	if len(h.Counts) != nbounds {
		return // empty (never recorded) or of other bounds
	}
	if dst.Counts == nil {
		dst.Counts = make([]uint64, nbounds)
	}
	for j, c := range h.Counts {
		dst.Counts[j] += c
	}
	dst.Sum += h.Sum
	dst.Count += h.Count
	dst.Exemplar = latest(dst.Exemplar, h.Exemplar)
}

// addBucket sums b into the bucket of its start, aligned to width (0:
// b is aligned already). Buckets mostly come in time order: the search
// starts from the newest.
func (a *edgeAcc) addBucket(b Bucket, width int64) {
	if width > 0 {
		b.Start = floorDiv(b.Start, width) * width
	}
	i := len(a.buckets)
	for i > 0 && a.buckets[i-1].Start > b.Start {
		i--
	}
	if i > 0 && a.buckets[i-1].Start == b.Start {
		a.buckets[i-1].add(&b)
		return
	}
	b.Hist = slices.Clone(b.Hist) // summed into in place
	a.buckets = slices.Insert(a.buckets, i, b)
}

// data is the summed edge.
func (a *edgeAcc) data(width int64) *EdgeData {
	d := &EdgeData{Client: a.key.client, Server: a.key.server, Kind: a.key.kind, Count: a.count, Failed: a.failed,
		FirstSeen: a.first, LastSeen: a.last, Hist: a.hist, AsyncHist: a.async, Exemplar: a.ex}
	if len(a.buckets) > 0 {
		d.History, d.Open = historyOf(a.buckets, width)
	}
	return d
}

// busy is how busy the edge is: its count in the history held (for a
// window's snapshot, Snapshot.Windowed, its count in the window), then its
// total count.
func (a *edgeAcc) busy() [2]uint64 {
	var n uint64
	for _, b := range a.buckets {
		n += b.Count
	}
	return [2]uint64{n, a.count}
}

// traffic is how busy each node is: the sum of busy over the edges at
// either end.
func (m *merger) traffic() map[string][2]uint64 {
	t := make(map[string][2]uint64, len(m.nodes))
	add := func(name string, b [2]uint64) {
		v := t[name]
		t[name] = [2]uint64{v[0] + b[0], v[1] + b[1]}
	}
	for k, a := range m.edges {
		b := a.busy()
		add(k.client, b)
		if k.server != k.client {
			add(k.server, b)
		}
	}
	return t
}

// cmpBusy orders the busier first.
func cmpBusy(x, y [2]uint64) int { return cmp.Or(cmp.Compare(y[0], x[0]), cmp.Compare(y[1], x[1])) }

// capNodes folds the least busy names (by traffic, then name) into
// OverflowNode until at most max nodes remain, OverflowNode included.
// Synthetic nodes (user, OverflowNode) are never folded.
func (m *merger) capNodes(maxNodes int, st *MergeStats) {
	if len(m.nodes) <= maxNodes {
		return
	}
	t := m.traffic()
	names := make([]string, 0, len(m.nodes))
	for name := range m.nodes {
		if name != OverflowNode {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		// The user node first (a store never folds it once made), then
		// the busiest.
		return cmp.Or(cmpBool(b == UserNode, a == UserNode), cmpBusy(t[a], t[b]), cmp.Compare(a, b))
	})
	folded := map[string]bool{}
	over := m.nodes[OverflowNode]
	if over == nil {
		over = &Node{Name: OverflowNode, Kind: VirtualNode}
	}
	for _, name := range names[maxNodes-1:] {
		n := m.nodes[name]
		for r := range over.Links {
			over.Links[r] += n.Links[r]
		}
		delete(m.nodes, name)
		folded[name] = true
		st.NodesFolded++
	}
	m.nodes[OverflowNode] = over
	var moved []edgeName
	for k := range m.edges {
		if folded[k.client] || folded[k.server] {
			moved = append(moved, k)
		}
	}
	// In key order, so that float sums come out the same every time.
	slices.SortFunc(moved, cmpEdgeName)
	for _, k := range moved {
		a := m.edges[k]
		delete(m.edges, k)
		nk := k
		if folded[k.client] {
			nk.client = OverflowNode
		}
		if folded[k.server] {
			nk.server = OverflowNode
		}
		if have := m.edges[nk]; have != nil {
			have.sum(a, m.nbounds)
			st.EdgesFolded++
			continue
		}
		a.key = nk
		m.edges[nk] = a
	}
}

func cmpEdgeName(x, y edgeName) int {
	return cmp.Or(cmp.Compare(x.client, y.client), cmp.Compare(x.server, y.server), cmp.Compare(x.kind, y.kind))
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// capEdges returns the edges sorted by client, server and kind, at most
// maxEdges of them: the busiest (busy, then key).
func (m *merger) capEdges(maxEdges int, st *MergeStats) []*edgeAcc {
	accs := make([]*edgeAcc, 0, len(m.edges))
	for _, a := range m.edges {
		accs = append(accs, a)
	}
	byKey := func(x, y *edgeAcc) int { return cmpEdgeName(x.key, y.key) }
	if len(accs) > maxEdges {
		slices.SortFunc(accs, func(x, y *edgeAcc) int { return cmp.Or(cmpBusy(x.busy(), y.busy()), byKey(x, y)) })
		for _, a := range accs[maxEdges:] {
			st.EdgesDropped++
			st.CountDropped += a.count
		}
		accs = accs[:maxEdges]
	}
	slices.SortFunc(accs, byKey)
	return accs
}

// historyOf stores buckets bs (sorted by start, aligned to width, not
// empty) as a History of all but the last and the open bucket, the last.
// Counters saturate at math.MaxUint32 as a store's do; buckets more than
// 2^32 widths before the last are left out.
func historyOf(bs []Bucket, width int64) (History, Bucket) {
	open := bs[len(bs)-1]
	bs = bs[:len(bs)-1]
	if len(bs) == 0 || width <= 0 {
		return History{}, open
	}
	lastIdx := floorDiv(open.Start, width)
	for len(bs) > 0 && lastIdx-floorDiv(bs[0].Start, width) > math.MaxUint32 {
		bs = bs[1:]
	}
	if len(bs) == 0 {
		return History{}, open
	}
	base := floorDiv(bs[0].Start, width)
	nb := len(open.Hist)
	for i := range bs {
		nb = max(nb, len(bs[i].Hist))
	}
	return History{base: base, width: width, nb: nb, chunks: chunksOf(bs, base, width, nb), n: len(bs)}, open
}

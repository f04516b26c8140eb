package graph

import (
	"cmp"
	"slices"
	"sync"
)

// Snapshots are built incrementally. Writers put each edge they change on
// Store.dirty (once per build); a build takes that list, a copy of the
// node tables (kinds, link tallies) when they changed, and the prefix of
// Store.all under Store.mu, an O(1) critical section apart from the node
// copy, then copies the dirty edges one at a time under each edge's own
// lock into a copy of the previous snapshot's edge array, and merges the
// new edges in. An unchanged store returns the previous snapshot. When
// the retention floor moves (once per bucket width), the build also trims
// every edge's history, again one edge lock at a time.

// copyPiece is how many edges a build copies at once (about 280 KB).
const copyPiece = 1024

// builder is the state of the snapshot builds; one runs at a time.
type builder struct {
	mu        sync.Mutex // guards the fields below; writers never take it
	order     []*edge    // the edges in the order of the last snapshot's Edges
	nodeOrder []NodeID   // node ids sorted by name
	spare     []*edge    // the dirty list of the last build, for reuse
	gen       uint64     // builds so far
	topology  uint64     // topologies so far
}

// Snapshot returns an immutable view of the graph. Snapshots are cached
// until the next change, so readers may call it freely; writers wait for
// it only while it takes the list of changed edges, and for one edge while
// it copies that edge.
func (s *Store) Snapshot() *Snapshot {
	now := s.now()
	w := int64(s.cfg.BucketWidth)
	floor := floorDiv(s.bucketStart(now.Add(-s.cfg.Retention).UnixNano()), w)
	s.mu.Lock()
	if snap := s.snap; snap != nil && snap.Version == s.version && floor <= s.floor {
		s.mu.Unlock()
		return snap
	}
	s.mu.Unlock()

	b := &s.build
	b.mu.Lock()
	defer b.mu.Unlock()
	s.mu.Lock()
	prev := s.snap
	if prev != nil && prev.Version == s.version && floor <= s.floor {
		s.mu.Unlock()
		return prev // built while this call waited
	}
	trim := floor > s.floor
	if trim {
		s.floor = floor
		s.version++
	}
	dirty := s.dirty
	s.dirty = b.spare[:0]
	s.dirtyGen++
	all := s.all
	names := s.names
	var kinds []NodeKind
	var links [][NumLinkResults]uint64
	var details map[NodeID]string
	nodesDirty := s.nodesDirty || prev == nil
	if nodesDirty {
		kinds, links, details = slices.Clone(s.kinds), slices.Clone(s.links), s.cloneDetails()
		s.nodesDirty = false
	}
	version, base := s.version, s.base
	s.mu.Unlock()

	snap := &Snapshot{Version: version, Taken: now, BucketWidth: s.cfg.BucketWidth, Bounds: s.cfg.LatencyBuckets,
		Base: base, adj: new(adjacency), views: new(viewCache)}
	if nodesDirty {
		snap.Nodes = b.nodes(names, kinds, links)
		b.setDetails(snap.Nodes, details)
	} else {
		snap.Nodes = prev.Nodes
	}
	if trim {
		for _, e := range all {
			e.mu.Lock()
			n := s.trimHistory(e, floor, false)
			e.mu.Unlock()
			if n > 0 {
				dirty = append(dirty, e)
			}
		}
	}
	var edges []Edge
	if prev != nil {
		edges = make([]Edge, len(prev.Edges))
		// In pieces: one long copy cannot be preempted, and a collection
		// waiting for it to end stops the writers meanwhile.
		for i := 0; i < len(edges); i += copyPiece {
			copy(edges[i:min(i+copyPiece, len(edges))], prev.Edges[i:])
		}
	}
	b.gen++
	// Two histograms and the open history bucket's per edge.
	arena := make([]uint64, 0, len(dirty)*3*(len(s.cfg.LatencyBuckets)+1))
	var fresh []*edge
	for _, e := range dirty {
		if e.built == b.gen {
			continue
		}
		e.built = b.gen
		if e.pos < 0 {
			fresh = append(fresh, e) // copied as it is merged in
			continue
		}
		e.mu.Lock()
		edges[e.pos] = e.export(names[e.key.client], names[e.key.server], w, &arena)
		e.mu.Unlock()
	}
	if len(fresh) > 0 {
		edges = b.merge(edges, fresh, names, w, &arena)
	}
	snap.Edges = edges
	if prev != nil && len(fresh) == 0 && len(snap.Nodes) == len(prev.Nodes) {
		snap.adj, snap.Topology = prev.adj, prev.Topology // nothing moved
	} else {
		b.topology++
		snap.Topology = b.topology
	}
	clear(dirty)
	b.spare = dirty[:0]

	s.mu.Lock()
	s.snap = snap
	s.mu.Unlock()
	return snap
}

// nodes returns the node table sorted by name. It needs b.mu.
func (b *builder) nodes(names []string, kinds []NodeKind, links [][NumLinkResults]uint64) []Node {
	if len(b.nodeOrder) != len(names) {
		for id := len(b.nodeOrder); id < len(names); id++ {
			b.nodeOrder = append(b.nodeOrder, NodeID(id))
		}
		slices.SortFunc(b.nodeOrder, func(x, y NodeID) int { return cmp.Compare(names[x], names[y]) })
	}
	out := make([]Node, len(b.nodeOrder))
	for i, id := range b.nodeOrder {
		out[i] = Node{Name: names[id], Kind: kinds[id], Links: links[id]}
	}
	return out
}

// merge returns edges (in b.order's order, sorted) with the new edges
// fresh copied in at their places, and updates b.order and every edge's
// pos. It needs b.mu.
func (b *builder) merge(edges []Edge, fresh []*edge, names []string, width int64, arena *[]uint64) []Edge {
	cmpKey := func(c, s string, k Kind, e *edge) int {
		return cmp.Or(cmp.Compare(c, names[e.key.client]), cmp.Compare(s, names[e.key.server]), cmp.Compare(k, e.key.kind))
	}
	slices.SortFunc(fresh, func(x, y *edge) int { return cmpKey(names[x.key.client], names[x.key.server], x.key.kind, y) })
	out := make([]Edge, 0, len(edges)+len(fresh))
	order := make([]*edge, 0, len(edges)+len(fresh))
	i, j := 0, 0
	for i < len(edges) || j < len(fresh) {
		if j == len(fresh) || (i < len(edges) && cmpKey(edges[i].Client, edges[i].Server, edges[i].Kind, fresh[j]) < 0) {
			out, order = append(out, edges[i]), append(order, b.order[i])
			i++
			continue
		}
		e := fresh[j]
		e.mu.Lock()
		out = append(out, e.export(names[e.key.client], names[e.key.server], width, arena))
		e.mu.Unlock()
		order = append(order, e)
		j++
	}
	for p, e := range order {
		e.pos = p
	}
	b.order = order
	return out
}

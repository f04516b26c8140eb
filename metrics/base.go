package metrics

import (
	"cmp"

	"github.com/servicegraph/servicegraph/graph"
)

// After an unclean restart the exported counters count from the restored
// graph (graph.Snapshot.Base), so that Prometheus sees a reset instead of
// a decrease: every counter-typed series derived from the graph (request
// totals, failures, histogram buckets, sums and counts, span-link results)
// is its value minus the base's value of the same edge or node. Gauges
// (first and last seen) are not.

// bases matches a snapshot's edges and nodes with those of its base.
type bases struct {
	snap  *graph.Snapshot
	edges []int32 // per snap.Edges: index into snap.Base.Edges, -1: none
	nodes []int32 // per snap.Nodes: index into snap.Base.Nodes, -1: none
}

// newBases returns the match for snap, nil if snap has no base. Both are
// sorted alike, so one merge pass matches them.
func newBases(snap *graph.Snapshot) *bases {
	if snap.Base == nil {
		return nil
	}
	b := &bases{snap: snap, edges: make([]int32, len(snap.Edges)), nodes: make([]int32, len(snap.Nodes))}
	be := snap.Base.Edges
	j := 0
	for i := range snap.Edges {
		e := &snap.Edges[i]
		cmpEdge := func(x *graph.Edge) int {
			return cmp.Or(cmp.Compare(x.Client, e.Client), cmp.Compare(x.Server, e.Server), cmp.Compare(x.Kind, e.Kind))
		}
		for j < len(be) && cmpEdge(&be[j]) < 0 {
			j++
		}
		b.edges[i] = -1
		if j < len(be) && cmpEdge(&be[j]) == 0 {
			b.edges[i] = int32(j)
		}
	}
	bn := snap.Base.Nodes
	j = 0
	for i := range snap.Nodes {
		for j < len(bn) && bn[j].Name < snap.Nodes[i].Name {
			j++
		}
		b.nodes[i] = -1
		if j < len(bn) && bn[j].Name == snap.Nodes[i].Name {
			b.nodes[i] = int32(j)
		}
	}
	return b
}

// edge returns the base of snap.Edges[i], or nil.
func (b *bases) edge(i int) *graph.Edge {
	if b == nil || b.edges[i] < 0 {
		return nil
	}
	return &b.snap.Base.Edges[b.edges[i]]
}

// links returns the base link tallies of snap.Nodes[i] (zero if none).
func (b *bases) links(i int) [graph.NumLinkResults]uint64 {
	if b == nil || b.nodes[i] < 0 {
		return [graph.NumLinkResults]uint64{}
	}
	return b.snap.Base.Nodes[b.nodes[i]].Links
}

// since returns v − base, never below zero.
func since(v, base uint64) uint64 {
	if v < base {
		return 0
	}
	return v - base
}

// histSince sets dst to h minus base, reusing dst's counts.
func histSince(dst, h, base *graph.Histogram) *graph.Histogram {
	dst.Counts = append(dst.Counts[:0], h.Counts...)
	if len(base.Counts) == len(h.Counts) {
		for i, c := range base.Counts {
			dst.Counts[i] = since(dst.Counts[i], c)
		}
	}
	dst.Count = since(h.Count, base.Count)
	dst.Sum = max(h.Sum-base.Sum, 0)
	if dst.Count == 0 {
		dst.Sum = 0
	}
	return dst
}

// counts reports whether a family's values count from the base.
func counts(f *family) bool { return f.typ == "counter" || f.typ == "histogram" }

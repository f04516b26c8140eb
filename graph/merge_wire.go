package graph

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// The form in which an instance hands its graph of one window to a peer
// that merges it (the API's fan-out): the state file's format (header with
// magic, format version, length and CRC-32C, then the gob payload of
// stateV1), so that a peer of another version is told so (ErrNewerFormat)
// instead of misreading it.

// Windowed returns what a query over [from, to) reads of s: the nodes,
// and every edge with its totals, histograms and first/last-seen times
// (a view's first/last seen are the edge's, so an edge idle here but
// active on a peer still needs them), its history summed into one bucket
// starting at the window's first bucket (none when idle in the window).
// Any query over [from, to) answers the same on the result as on s, and
// results of several instances merge (Merge) bucket for bucket: a peer
// sends O(edges) whatever the window's length.
func (s *Snapshot) Windowed(from, to time.Time) *Snapshot {
	w := max(int64(s.BucketWidth), 1)
	start := floorDiv(from.UnixNano(), w) * w
	out := &Snapshot{Taken: s.Taken, BucketWidth: s.BucketWidth, Bounds: s.Bounds, Nodes: s.Nodes}
	for i := range s.Edges {
		e := s.Edges[i].EdgeData
		d := *e
		d.History, d.Open = History{}, Bucket{}
		if sum := e.Window(from, to, s.BucketWidth); !sum.IsZero() {
			sum.Start = start
			if sum.N > 0 {
				sum.Hist, _ = e.WindowHist(from, to, s.BucketWidth) // nil: unknown
			}
			d.Open = sum
		}
		out.Edges = append(out.Edges, Edge{&d})
	}
	return out
}

// WriteSnapshot writes s in the state file's format: nodes in s's order,
// every edge with its totals, histograms, first/last-seen times and
// buckets (the open one last), and its latest sample (EdgeData.Exemplar;
// the histograms' exemplars are not carried: /metrics is per instance).
// ReadSnapshot reads it back. AsyncHist is not carried: the state format
// (version 1) has no place for it, and no query reads it.
func WriteSnapshot(w io.Writer, s *Snapshot) error {
	st := &stateV1{Saved: s.Taken.UnixNano(), BucketWidth: int64(s.BucketWidth), Bounds: s.Bounds,
		Nodes: make([]stateNode, len(s.Nodes)), Edges: make([]stateEdge, len(s.Edges))}
	ids := make(map[string]uint32, len(s.Nodes))
	for i, n := range s.Nodes {
		ids[n.Name] = uint32(i)
		st.Nodes[i] = stateNode{Name: n.Name, Kind: uint8(n.Kind), Links: toStateLinks(n.Links), Detail: n.Detail}
	}
	id := func(name string) uint32 {
		if i, ok := ids[name]; ok {
			return i
		}
		ids[name] = uint32(len(st.Nodes))
		st.Nodes = append(st.Nodes, stateNode{Name: name})
		return ids[name]
	}
	for i := range s.Edges {
		e := s.Edges[i].EdgeData
		se := stateEdge{Client: id(e.Client), Server: id(e.Server), Kind: uint8(e.Kind), Count: e.Count, Failed: e.Failed,
			First: unixNano(e.FirstSeen), Last: unixNano(e.LastSeen)}
		if !e.Open.IsZero() || e.History.Len() > 0 {
			se.History, se.HistEntries = toStateBuckets(append(e.History.Buckets(), e.Open))
		}
		for j, h := range e.Hist {
			se.Hist[j] = stateHist{Counts: h.Counts, Sum: h.Sum, N: h.Count}
		}
		if e.Exemplar.Valid() {
			se.Ex = &stateExemplar{Trace: e.Exemplar.Trace, Span: e.Exemplar.Span, Value: e.Exemplar.Value, Time: e.Exemplar.Time}
		}
		st.Edges[i] = se
	}
	return encodeState(w, st)
}

// unixNano is t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// ReadSnapshot reads a snapshot written by WriteSnapshot (or a state
// file) into a new Snapshot of its own, sorted as a store's (a damaged
// answer's duplicate names or edges stay: Merge sums them): ErrCorrupt
// for what is not one, ErrNewerFormat for a newer format. Names are taken
// as they are (they were node names where they were written); the caller
// bounds r.
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	st, err := decodeState(r)
	if err != nil {
		return nil, err
	}
	if st.BucketWidth <= 0 {
		return nil, fmt.Errorf("%w: bucket width %d", ErrCorrupt, st.BucketWidth)
	}
	for _, e := range st.Edges {
		if int(e.Client) >= len(st.Nodes) || int(e.Server) >= len(st.Nodes) || Kind(e.Kind) >= numKinds {
			return nil, fmt.Errorf("%w: edge refers to a missing node or kind", ErrCorrupt)
		}
	}
	in := &Snapshot{Taken: fromUnixNano(st.Saved), BucketWidth: time.Duration(st.BucketWidth), Bounds: st.Bounds,
		Nodes: make([]Node, len(st.Nodes)), Edges: make([]Edge, len(st.Edges))}
	for i, n := range st.Nodes {
		in.Nodes[i] = Node{Name: n.Name, Kind: NodeKind(n.Kind), Links: fromStateLinks(n.Links), Detail: n.Detail}
	}
	for i, se := range st.Edges {
		d := &EdgeData{Client: st.Nodes[se.Client].Name, Server: st.Nodes[se.Server].Name, Kind: Kind(se.Kind),
			Count: se.Count, Failed: se.Failed, FirstSeen: fromUnixNano(se.First), LastSeen: fromUnixNano(se.Last)}
		for j, h := range se.Hist {
			d.Hist[j] = Histogram{Counts: h.Counts, Sum: h.Sum, Count: h.N}
		}
		if se.Ex != nil {
			d.Exemplar = Exemplar{Trace: se.Ex.Trace, Span: se.Ex.Span, Value: se.Ex.Value, Time: se.Ex.Time}
		}
		var bs []Bucket
		off := 0
		for _, b := range se.History {
			bs = append(bs, Bucket{Start: floorDiv(b.Start, st.BucketWidth) * st.BucketWidth, Count: b.Count, Failed: b.Failed, Sum: b.Sum, N: b.N,
				Hist: denseHist(takeEntries(se.HistEntries, &off, b.HistLen), len(st.Bounds)+1, b.N)})
		}
		if len(bs) > 0 {
			slices.SortStableFunc(bs, func(x, y Bucket) int { return cmp.Compare(x.Start, y.Start) })
			d.History, d.Open = historyOf(bs, st.BucketWidth)
		}
		in.Edges[i] = Edge{d}
	}
	slices.SortFunc(in.Nodes, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(in.Edges, func(a, b Edge) int {
		return cmpEdgeName(edgeName{a.Client, a.Server, a.Kind}, edgeName{b.Client, b.Server, b.Kind})
	})
	return in, nil
}

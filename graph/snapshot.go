package graph

import (
	"cmp"
	"slices"
	"time"
)

// Snapshot is an immutable view of the graph at one moment. Everything in
// it is owned by the snapshot and shared by its readers: never modify it.
type Snapshot struct {
	Version uint64 // changes whenever the graph does
	// Topology changes when a node or an edge is added: snapshots of one
	// Topology list the same nodes and edges at the same positions (only
	// their values differ), so what is derived from names and positions
	// alone (a series order, an index) can be kept across them.
	Topology    uint64
	Taken       time.Time     // store clock when taken
	BucketWidth time.Duration // history resolution
	Bounds      []float64     // histogram upper bounds, seconds
	Nodes       []Node        // sorted by name
	Edges       []Edge        // sorted by client, server, kind
	// Base, when not nil, is the graph as restored at start from a state
	// file that a clean shutdown did not write (a crash, kill -9, or a
	// file older than the mark): the saved totals may be up to a save
	// interval behind what the previous process exported, so exported
	// counters count from Base (value − Base's value of the same edge or
	// node; edges and nodes absent from Base count from zero) and restart
	// from zero, a reset Prometheus handles, instead of going backwards.
	// The API keeps the totals. Base.Base is nil.
	Base *Snapshot

	adj *adjacency // built by the first query that needs it, then shared
	// views keeps the latest view queried (Query); nil for snapshots
	// not made by a Store.
	views *viewCache
}

// Node is a service, database, topic (--broker-nodes) or virtual node.
type Node struct {
	Name string
	Kind NodeKind
	// Links counts, by LinkResult, the span links declared by this node's
	// spans (link health; zero for databases and virtual nodes).
	Links [NumLinkResults]uint64
	// Detail is shown beside the kind: a topic's messaging system
	// (Store.SetDetail); "" for none.
	Detail string
}

// Edge is one (client, server, kind) edge with its totals since first
// seen. It points to its data, which a snapshot shares with the snapshots
// before and after it in which the edge did not change: a snapshot build
// copies a pointer per unchanged edge, and allocates the data of the
// changed ones only. The fields of EdgeData read as Edge's.
type Edge struct {
	*EdgeData
}

// EdgeData is an edge's data: immutable, shared by snapshots.
type EdgeData struct {
	Client, Server string
	Kind           Kind
	Count, Failed  uint64
	// FirstSeen and LastSeen are store-clock times of the first and the
	// latest occurrence.
	FirstSeen, LastSeen time.Time
	// Hist holds, for sync edges, the server (0) and client (1) durations;
	// for async edges the delay (0). Index 1 of async edges is empty.
	Hist [2]Histogram
	// AsyncHist holds, for async edges, the server side's (0) and the
	// client side's (1) span durations (Observation.AsyncSeconds); empty
	// for sync edges. The state file does not keep them yet.
	AsyncHist [2]Histogram
	// History holds the closed buckets, oldest first, within retention;
	// Open is the newest bucket, still being filled when the snapshot was
	// taken (zero Start: no history).
	History History
	Open    Bucket
	// Exemplar is a recent traced occurrence (Value: its weight; see
	// Exemplar for which): the request counter's exemplar and the edge's
	// sample trace.
	Exemplar Exemplar
	// Dims are the edge's sub-series by dimension values (Config.Dimensions),
	// sorted by client then server values; they sum to the totals above
	// but for what a restored graph counted before the start. Nil without
	// dimensions.
	Dims []DimSeries
}

// Histogram is a cumulative-since-start histogram. Counts has one entry per
// bound of Snapshot.Bounds plus +Inf, not cumulative.
type Histogram struct {
	Counts []uint64
	Sum    float64
	Count  uint64
	// Exemplar is a recent traced observation (Value: its seconds; see
	// Exemplar for which).
	Exemplar Exemplar
	// Native is the native histogram of the same observations
	// (Config.NativeHistograms), nil when off. Neither the state file nor
	// the cluster merge carries it.
	Native *NativeHistogram
}

// ErrorRate is Failed/Count, 0 for an unused edge.
func (e *EdgeData) ErrorRate() float64 {
	if e.Count == 0 {
		return 0
	}
	return float64(e.Failed) / float64(e.Count)
}

// Window sums the counters of the history buckets that overlap [from,
// to); their histograms are WindowHist's (Hist is nil).
func (e *EdgeData) Window(from, to time.Time, width time.Duration) Bucket {
	f, t, w := from.UnixNano(), to.UnixNano(), int64(width)
	var sum Bucket
	add := func(b Bucket) {
		if b.Count > 0 || b.N > 0 {
			sum.Count += b.Count
			sum.Failed += b.Failed
			sum.Sum += b.Sum
			sum.N += b.N
		}
	}
	if o := e.Open; o.Start+w > f && o.Start < t {
		add(o)
	}
	// Buckets are in time order, and windows usually end near now: walk
	// from the newest back to the first one wholly before the window.
	h := &e.History
	for j := int(h.head) + h.n - 1; j >= int(h.head); j-- {
		hb := &h.chunks[j/chunkLen].b[j%chunkLen]
		start := (h.base + int64(hb.off)) * h.width
		if start+w <= f {
			break
		}
		if start < t {
			add(h.counts(hb))
		}
	}
	return sum
}

// Node returns the node named name.
func (s *Snapshot) Node(name string) (Node, bool) {
	i, ok := slices.BinarySearchFunc(s.Nodes, name, func(n Node, x string) int { return cmp.Compare(n.Name, x) })
	if !ok {
		return Node{}, false
	}
	return s.Nodes[i], true
}

package graph

import (
	"math"
	"sync"
	"time"
)

// edge is the writer's mutable per-edge state. Writers change it holding
// Store.mu and mu; the snapshot builder reads it (and trims its history)
// holding only mu, one edge at a time.
type edge struct {
	key   edgeKey // immutable
	exSet uint8   // exemplar slots (exCounter...) set in call exCall; guarded by mu (here: in key's padding)
	// dirtyGen is Store.dirtyGen when the edge is on Store.dirty; next is
	// the pair's next edge in Store.edges (another kind); head and tail
	// are the first and the last of the edge's observations in the batch
	// Observe is applying (head −1 outside it). Guarded by Store.mu.
	dirtyGen   uint64
	next       *edge
	head, tail int32
	// pos (index in the last snapshot's Edges, -1 before the edge is in
	// one) and built (the build that last copied the edge) are the
	// builder's; guarded by builder.mu.
	pos   int
	built uint64

	mu            sync.Mutex // guards the fields below
	count, failed uint64
	first, last   int64         // unix ns, store clock
	exCall        uint64        // the Observe call whose occurrences set the exemplars of exSet
	hist          [2]histogram  // sync: server, client seconds; async: delay, unused
	async         *[2]histogram // async only: server, client span seconds (nil for sync edges)
	history       history       // oldest first; only the last bucket is mutated
	ex            Exemplar      // a recent traced occurrence (observe; Value: its weight)
	natReduced    uint32        // native histogram halvings since Store.Observe last took them
	dims          *edgeDims     // sub-series by dimension values (dims.go); nil without dimensions
}

type histogram struct {
	counts []uint64 // per bound, plus +Inf
	sum    float64
	n      uint64
	ex     Exemplar    // a recent traced observation (edge.observe)
	nat    *nativeHist // Config.NativeHistograms: made at the first observation
}

// native records w observations of v in h's native histogram, when on,
// and returns how many times the histogram halved its resolution.
func (h *histogram) native(v float64, w uint64, cfg *Config) uint32 {
	if !cfg.NativeHistograms {
		return 0
	}
	if h.nat == nil {
		h.nat = &nativeHist{schema: NativeInitialSchema}
	}
	return h.nat.add(v, w, cfg.NativeMaxBuckets)
}

// Bucket is one time bucket of an edge's history.
type Bucket struct {
	Start  int64 // bucket start, unix ns of the store clock
	Count  uint64
	Failed uint64
	// Sum is the summed seconds of the edge's main measure: the server-side
	// duration for sync edges (client-side where only that is known), the
	// delay for async edges.
	Sum float64
	// N is how many occurrences contributed to Sum.
	N uint64
	// Hist is the histogram of those N occurrences' seconds: counts per
	// bound of Snapshot.Bounds plus +Inf (not cumulative). Nil when N is
	// 0, or when the bucket's histogram is unknown (see HistKnown).
	// EdgeData.Window leaves it nil: EdgeData.WindowHist sums it.
	Hist []uint64
}

func newEdge(k edgeKey, now int64, nbounds int) *edge {
	e := &edge{key: k, pos: -1, first: now, head: -1}
	for i := range e.hist {
		e.hist[i].counts = make([]uint64, nbounds+1)
	}
	if k.kind.Async() {
		e.async = new([2]histogram)
		for i := range e.async {
			e.async[i].counts = make([]uint64, nbounds+1)
		}
	}
	return e
}

// Exemplar slots of an edge (edge.exSet): its counter's, its histograms'.
const (
	exCounter uint8 = 1 << iota
	exHist0
	exHist1
	exAsync0
	exAsync1
)

// stamp is what every observation of one Observe call shares.
type stamp struct {
	now    int64  // unix ns, store clock
	bucket int64  // history bucket number of now
	floor  int64  // the oldest bucket number within retention
	call   uint64 // the call's number (exemplar sampling)
	cfg    *Config
}

// observe records o, standing for o.Weight occurrences (0: 1), in the
// Observe call st. The exemplars sample: each of the
// edge's (its counter's and each histogram's) is the first traced
// occurrence of the latest call that had one for it, not the latest
// occurrence: writing every occurrence's cost a third of observe, and a
// call's occurrences arrive within one request.
func (e *edge) observe(o *Observation, st *stamp) {
	now, call, cfg := st.now, st.call, st.cfg
	w := uint64(max(o.Weight, 1))
	e.count += w
	if o.Failed {
		e.failed += w
	}
	if now > e.last {
		e.last = now
	}
	sample := o.Trace != [16]byte{}
	if sample {
		if e.exCall != call {
			e.exCall, e.exSet = call, 0
		}
		if e.exSet&exCounter == 0 {
			e.exSet |= exCounter
			e.ex = Exemplar{Trace: o.Trace, Span: o.Span, Value: float64(w), Time: now}
		}
	}
	main, mainIdx := -1.0, 0
	for i, v := range o.Seconds {
		if v < 0 || math.IsNaN(v) {
			continue
		}
		bi := bucketIndex(cfg.LatencyBuckets, v)
		if main < 0 {
			main, mainIdx = v, bi
		}
		h := &e.hist[i]
		h.addN(bi, v, w)
		if slot := exHist0 << i; sample && e.exSet&slot == 0 {
			e.exSet |= slot
			h.ex = Exemplar{Trace: o.Trace, Span: o.Span, Value: v, Time: now}
		}
		if cfg.NativeHistograms {
			e.natReduced += h.native(v, w, cfg)
		}
	}
	if o.AsyncTimed && e.async != nil {
		for i, v := range o.AsyncSeconds {
			if v < 0 || math.IsNaN(v) {
				continue
			}
			h := &e.async[i]
			h.addN(bucketIndex(cfg.LatencyBuckets, v), v, w)
			if slot := exAsync0 << i; sample && e.exSet&slot == 0 {
				e.exSet |= slot
				h.ex = Exemplar{Trace: o.Trace, Span: o.Span, Value: v, Time: now}
			}
			if cfg.NativeHistograms {
				e.natReduced += h.native(v, w, cfg)
			}
		}
	}
	if e.history.n > 0 && st.bucket > e.history.lastIdx() {
		// A new bucket: what falls out of retention with it goes.
		e.history.trim(st.floor, false)
	}
	e.history.add(st.bucket, o.Failed, main, mainIdx, w)
}

func (h *histogram) addN(i int, v float64, w uint64) {
	h.counts[i] += w
	h.sum += v * float64(w)
	h.n += w
}

// bucketIndex returns the index of the first bound ≥ v (le semantics),
// len(bounds) for +Inf; v is not NaN. A plain binary search: the generic
// slices.BinarySearch orders NaNs, which costs on every observation.
func bucketIndex(bounds []float64, v float64) int {
	lo, hi := 0, len(bounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bounds[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// export copies the edge for a snapshot, taking the histograms' counts
// from arena (so that a build allocates them at once). History buckets
// before the last are never written again, so they are shared; the open
// one is copied. It needs e.mu.
func (e *edge) export(client, server string, width int64, arena *[]uint64) Edge {
	out := Edge{&EdgeData{
		Client: client, Server: server, Kind: e.key.kind,
		Count: e.count, Failed: e.failed,
		FirstSeen: time.Unix(0, e.first), LastSeen: time.Unix(0, e.last),
		Exemplar: e.ex,
	}}
	for i := range e.hist {
		out.Hist[i] = e.hist[i].export(arena)
	}
	if e.async != nil {
		for i := range e.async {
			out.AsyncHist[i] = e.async[i].export(arena)
		}
	}
	out.History, out.Open = e.history.view(width, len(e.hist[0].counts), arena)
	out.Dims = e.dims.export(arena)
	return out
}

// export copies h, its counts taken from arena.
func (h *histogram) export(arena *[]uint64) Histogram {
	a := *arena
	if cap(a)-len(a) < len(h.counts) {
		a = make([]uint64, 0, max(len(h.counts), 1024))
	}
	n := len(a)
	a = append(a, h.counts...)
	*arena = a
	return Histogram{Counts: a[n:len(a):len(a)], Sum: h.sum, Count: h.n, Exemplar: h.ex, Native: h.nat.export()}
}

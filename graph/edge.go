package graph

import (
	"math"
	"slices"
	"sync"
	"time"
)

// edge is the writer's mutable per-edge state. Writers change it holding
// Store.mu and mu; the snapshot builder reads it (and trims its history)
// holding only mu, one edge at a time.
type edge struct {
	key edgeKey // immutable
	// dirtyGen is Store.dirtyGen when the edge is on Store.dirty; guarded
	// by Store.mu.
	dirtyGen uint64
	// pos (index in the last snapshot's Edges, -1 before the edge is in
	// one) and built (the build that last copied the edge) are the
	// builder's; guarded by builder.mu.
	pos   int
	built uint64

	mu            sync.Mutex // guards the fields below
	count, failed uint64
	first, last   int64        // unix ns, store clock
	hist          [2]histogram // sync: server, client seconds; async: delay, unused
	async         [2]histogram // async only: server, client span seconds (nil counts for sync edges)
	history       history      // oldest first; only the last bucket is mutated
	ex            Exemplar     // the latest traced occurrence (Value: its weight)
	natReduced    uint32       // native histogram halvings since Store.Observe last took them
	dims          *edgeDims    // sub-series by dimension values (dims.go); nil without dimensions
}

type histogram struct {
	counts []uint64 // per bound, plus +Inf
	sum    float64
	n      uint64
	ex     Exemplar    // the latest traced observation
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
	e := &edge{key: k, pos: -1, first: now}
	for i := range e.hist {
		e.hist[i].counts = make([]uint64, nbounds+1)
	}
	if k.kind.Async() {
		for i := range e.async {
			e.async[i].counts = make([]uint64, nbounds+1)
		}
	}
	return e
}

func (e *edge) observe(o *Observation, now int64, cfg Config) {
	if o.Weight > 1 {
		e.observeWeighted(o, now, cfg)
		return
	}
	e.count++
	if o.Failed {
		e.failed++
	}
	if now > e.last {
		e.last = now
	}
	traced := o.Trace != [16]byte{}
	if traced {
		e.ex = exemplarOf(o, 1, now)
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
		h.counts[bi]++
		h.sum += v
		h.n++
		if traced {
			h.ex = exemplarOf(o, v, now)
		}
		e.natReduced += h.native(v, 1, &cfg)
	}
	if o.AsyncTimed && e.async[0].counts != nil {
		for i, v := range o.AsyncSeconds {
			if v >= 0 {
				e.async[i].add(bucketIndex(cfg.LatencyBuckets, v), v)
				if traced {
					e.async[i].ex = exemplarOf(o, v, now)
				}
				e.natReduced += e.async[i].native(v, 1, &cfg)
			}
		}
	}
	w := int64(cfg.BucketWidth)
	idx := floorDiv(now, w)
	if e.history.n > 0 && idx > e.history.lastIdx() {
		// A new bucket: what falls out of retention with it goes.
		e.history.trim(idx-int64(cfg.Retention/cfg.BucketWidth), false)
	}
	e.history.add(idx, o.Failed, main, mainIdx, 1)
}

// observeWeighted is observe of an occurrence that stands for o.Weight:
// counts, histogram buckets, sums and history all grow by that much.
func (e *edge) observeWeighted(o *Observation, now int64, cfg Config) {
	w := uint64(o.Weight)
	e.count += w
	if o.Failed {
		e.failed += w
	}
	if now > e.last {
		e.last = now
	}
	e.ex = latest(exemplarOf(o, float64(w), now), e.ex)
	main, mainIdx := -1.0, 0
	for i, v := range o.Seconds {
		if v < 0 || math.IsNaN(v) {
			continue
		}
		bi := bucketIndex(cfg.LatencyBuckets, v)
		if main < 0 {
			main, mainIdx = v, bi
		}
		e.hist[i].addN(bi, v, w)
		e.hist[i].ex = latest(exemplarOf(o, v, now), e.hist[i].ex)
		e.natReduced += e.hist[i].native(v, w, &cfg)
	}
	if o.AsyncTimed && e.async[0].counts != nil {
		for i, v := range o.AsyncSeconds {
			if v >= 0 {
				e.async[i].addN(bucketIndex(cfg.LatencyBuckets, v), v, w)
				e.async[i].ex = latest(exemplarOf(o, v, now), e.async[i].ex)
				e.natReduced += e.async[i].native(v, w, &cfg)
			}
		}
	}
	idx := floorDiv(now, int64(cfg.BucketWidth))
	if e.history.n > 0 && idx > e.history.lastIdx() {
		e.history.trim(idx-int64(cfg.Retention/cfg.BucketWidth), false)
	}
	e.history.add(idx, o.Failed, main, mainIdx, w)
}

func (h *histogram) addN(i int, v float64, w uint64) {
	h.counts[i] += w
	h.sum += v * float64(w)
	h.n += w
}

func (h *histogram) add(i int, v float64) {
	h.counts[i]++
	h.sum += v
	h.n++
}

func bucketIndex(bounds []float64, v float64) int {
	i, _ := slices.BinarySearch(bounds, v) // first bound >= v: le semantics
	return i
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
	if e.async[0].counts != nil {
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

package graph

import (
	"math"
	"sort"
)

// Native (exponential) histograms, Prometheus' sparse format, kept beside
// the classic buckets when Config.NativeHistograms is on: a value v > 0
// falls in bucket i of schema s, which holds (2^((i-1)/2^s), 2^(i/2^s)];
// values at or below NativeZeroThreshold in the zero bucket. Buckets are
// kept dense from the lowest used index; past Config.NativeMaxBuckets the
// schema drops by one (each bucket merges with its neighbour: half the
// resolution), as client_golang does, so memory stays bounded whatever
// the values: 8 B per bucket.

// Native histogram constants.
const (
	// NativeInitialSchema is the schema a histogram starts at: 8 buckets
	// per power of two (a growth factor of 1.09), Prometheus'
	// recommended resolution.
	NativeInitialSchema = 3
	// NativeMinSchema is the coarsest schema: a factor of 65536 per bucket.
	NativeMinSchema = -4
	// NativeZeroThreshold is client_golang's default zero bucket width.
	NativeZeroThreshold = 2.938735877055719e-39 // 2^-128
	// DefaultNativeMaxBuckets is Config.NativeMaxBuckets' default (as the
	// OpenTelemetry SDK's exponential histograms).
	DefaultNativeMaxBuckets = 160
)

// NativeHistogram is a snapshot of a native histogram: Counts[j] is the
// count of bucket Offset+j (not cumulative).
type NativeHistogram struct {
	Schema    int32
	ZeroCount uint64
	Offset    int32
	Counts    []uint64
}

// nativeHist is the writer's native histogram of one edge measure.
type nativeHist struct {
	schema int32
	zero   uint64
	off    int32
	counts []uint64
}

// nativeBounds[s] are the 2^s bounds of schema s > 0 within [0.5, 1).
var nativeBounds = func() [NativeInitialSchema + 1][]float64 {
	var out [NativeInitialSchema + 1][]float64
	for s := 1; s <= NativeInitialSchema; s++ {
		n := 1 << s
		out[s] = make([]float64, n)
		for j := range n {
			out[s][j] = math.Exp2(float64(j)/float64(n) - 1)
		}
	}
	return out
}()

// nativeIndex is the bucket of v > 0 at schema s (client_golang's
// computation: exact at powers of two).
func nativeIndex(v float64, s int32) int32 {
	frac, exp := math.Frexp(v)
	if s > 0 {
		b := nativeBounds[s]
		return int32(sort.SearchFloat64s(b, frac) + (exp-1)*len(b))
	}
	k := exp
	if frac == 0.5 {
		k--
	}
	off := (1 << -s) - 1
	return int32((k + off) >> -s)
}

// coarser is the bucket at schema s-1 holding bucket k of schema s.
func coarser(k int32) int32 {
	if k > 0 {
		k++
	}
	return k / 2
}

// add records w observations of v, keeping at most maxBuckets buckets,
// and returns how many times it halved the resolution for it.
func (h *nativeHist) add(v float64, w uint64, maxBuckets int) (reduced uint32) {
	if v <= NativeZeroThreshold || math.IsNaN(v) {
		h.zero += w
		return 0
	}
	k := nativeIndex(v, h.schema)
	for {
		lo, hi := k, k
		if len(h.counts) > 0 {
			lo, hi = min(k, h.off), max(k, h.off+int32(len(h.counts))-1)
		}
		if int(hi-lo)+1 <= maxBuckets || h.schema <= NativeMinSchema {
			break
		}
		h.reduce()
		k = coarser(k)
		reduced++
	}
	switch {
	case len(h.counts) == 0:
		h.off, h.counts = k, append(h.counts[:0], 0)
	case k < h.off:
		grown := make([]uint64, int(h.off-k)+len(h.counts))
		copy(grown[h.off-k:], h.counts)
		h.off, h.counts = k, grown
	case int(k-h.off) >= len(h.counts):
		h.counts = append(h.counts, make([]uint64, int(k-h.off)+1-len(h.counts))...)
	}
	h.counts[k-h.off] += w
	return reduced
}

// reduce halves the resolution: schema - 1, neighbours merged.
func (h *nativeHist) reduce() {
	h.schema--
	if len(h.counts) == 0 {
		return
	}
	lo, hi := coarser(h.off), coarser(h.off+int32(len(h.counts))-1)
	out := make([]uint64, hi-lo+1)
	for j, c := range h.counts {
		out[coarser(h.off+int32(j))-lo] += c
	}
	h.off, h.counts = lo, out
}

// export copies h.
func (h *nativeHist) export() *NativeHistogram {
	if h == nil {
		return nil
	}
	return &NativeHistogram{Schema: h.schema, ZeroCount: h.zero, Offset: h.off, Counts: append([]uint64(nil), h.counts...)}
}

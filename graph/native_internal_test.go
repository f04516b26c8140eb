package graph

import (
	"slices"
	"testing"
)

// Buckets as Prometheus defines them, the zero bucket, weights, and the
// schema falling when the bound on buckets is hit.
func TestNativeHist(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		s    int32
		want int32
	}{
		{1, 3, 0}, {2, 3, 8}, {0.5, 3, -8}, {1.0905, 3, 1}, {1.09, 3, 1}, {1.0904, 3, 1}, {1.0906, 3, 2}, {0.001, 3, -79},
		{1, 0, 0}, {2, 0, 1}, {3, 0, 2}, {4, 0, 2}, {1, -1, 0}, {4, -1, 1}, {5, -1, 2}, {16, -1, 2},
	} {
		if got := nativeIndex(tc.v, tc.s); got != tc.want {
			t.Errorf("nativeIndex(%g, %d) = %d, want %d", tc.v, tc.s, got, tc.want)
		}
	}
	h := &nativeHist{schema: NativeInitialSchema}
	h.add(0, 2, 160)
	h.add(1, 1, 160)
	h.add(2, 3, 160)
	if h.zero != 2 || h.off != 0 || !slices.Equal(h.counts, []uint64{1, 0, 0, 0, 0, 0, 0, 0, 3}) {
		t.Fatalf("got %+v", h)
	}
	h.add(0.5, 1, 160) // grows downwards
	if h.off != -8 || len(h.counts) != 17 || h.counts[0] != 1 || h.counts[8] != 1 || h.counts[16] != 3 {
		t.Fatalf("got %+v", h)
	}
	// 5 buckets at most: 0.5 .. 2 spans 17 at schema 3, 9 at 2, 5 at 1.
	b := &nativeHist{schema: NativeInitialSchema}
	var reduced []uint32
	for _, v := range []float64{0.5, 1, 2} {
		reduced = append(reduced, b.add(v, 1, 5))
	}
	if b.schema != 1 || b.off != -2 || !slices.Equal(b.counts, []uint64{1, 0, 1, 0, 1}) || !slices.Equal(reduced, []uint32{0, 1, 1}) {
		t.Fatalf("bounded: %+v, halvings %v", b, reduced)
	}
}

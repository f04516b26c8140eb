package metrics

import (
	"math"
	"strconv"
	"testing"
)

// appendFloat writes what expfmt writes (strconv's shortest 'g', with its
// special cases), including through the integer fast path and its edge at
// 1e6.
func TestAppendFloatMatchesExpfmt(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 2, 7, 999999, 1e6, 1e6 + 1, 123456.5, 0.25, 1e-7, 1767225600.123456789, 3e21,
		math.MaxUint32, math.Inf(1), math.Inf(-1), math.NaN(), -5, math.Copysign(0, -1), 0.1 + 0.2} {
		want := strconv.FormatFloat(v, 'g', -1, 64)
		switch {
		case math.IsInf(v, 1):
			want = "+Inf"
		case math.IsInf(v, -1):
			want = "-Inf"
		case math.IsNaN(v):
			want = "NaN"
		case v == 0:
			want = "0"
		}
		if got := string(appendFloat(nil, v)); got != want {
			t.Errorf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

package pairing

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// The two-step hash spreads structured ids (counters in the low or high
// bytes, one trace with many spans) as evenly as random ones: over shards
// by the trace's hash, over an index table by the key's. The bounds are
// many standard deviations wide: they catch a broken mix, not bad luck.
func TestHasherSpreads(t *testing.T) {
	h := newHasher()
	const n = 1 << 16
	families := map[string]func(i int) spanKey{
		"trace counter, low bytes": func(i int) (k spanKey) {
			binary.BigEndian.PutUint32(k.Trace[12:], uint32(i))
			return k
		},
		"trace counter, high bytes": func(i int) (k spanKey) {
			binary.BigEndian.PutUint32(k.Trace[:4], uint32(i))
			return k
		},
		"one trace, span counter": func(i int) (k spanKey) {
			k.Trace[0] = 1
			binary.BigEndian.PutUint64(k.Span[:], uint64(i))
			return k
		},
	}
	for name, key := range families {
		t.Run(name, func(t *testing.T) {
			var shards [16]int
			slots := make([]int, 1024)
			for i := range n {
				k := key(i)
				th := h.trace(&k.Trace)
				shards[(th>>32)*16>>32]++
				slots[(h.key(th, &k.Span)>>32)*1024>>32]++
			}
			if name != "one trace, span counter" { // one trace: one shard, by design
				check(t, "shard", shards[:], n/16, 0.2)
			}
			check(t, "slot", slots, n/1024, 0.75)
		})
	}
}

func check(t *testing.T, what string, counts []int, mean int, tol float64) {
	t.Helper()
	for i, c := range counts {
		if d := float64(c-mean) / float64(mean); d > tol || d < -tol {
			t.Fatalf("%s %d holds %d, mean %d: %s", what, i, c, mean, fmt.Sprintf("off by %.0f%%", 100*d))
		}
	}
}

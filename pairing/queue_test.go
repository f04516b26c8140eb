package pairing

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestQueueModel checks the pending queue against a model (a list of the
// waiting items, oldest first) through random pushes, takes and expiries,
// with chained and unchained queues: taken items stop counting at once,
// only the oldest waiting item is dropped and only when max items wait,
// and compaction keeps order and chains.
func TestQueueModel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     int
		chained bool
		keys    int
		collide bool // keys share hashes (long probe runs, shifts on removal)
	}{
		{"chained max 1", 1, true, 3, false},
		{"chained max 8", 8, true, 5, false},
		{"chained max 64", 64, true, 40, false},
		{"chained max 64, hashes collide", 64, true, 40, true},
		{"chained max 300", 300, true, 250, false},
		{"unchained max 16", 16, false, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.max), 7))
			var hash func(*spanKey) uint64
			if tc.chained {
				h := newHasher()
				hash = func(k *spanKey) uint64 { return h.key(h.trace(&k.Trace), &k.Span) }
				if tc.collide {
					hash = func(k *spanKey) uint64 { return uint64(k.Span[0] % 3) }
				}
			}
			q := newQueue[child](tc.max, hash)
			var model []child // waiting, oldest first
			now, id := int64(0), meta(0)
			for op := range 20_000 {
				switch x := r.IntN(10); {
				case x < 6: // push
					now += int64(r.IntN(3))
					id++
					c := child{key: spanKey{Span: [8]byte{byte(r.IntN(tc.keys))}}, arrival: now, meta: id}
					var dropped []meta
					q.push(c, func(c *child) { dropped = append(dropped, c.meta) })
					var want []meta
					if len(model) == tc.max {
						want = []meta{model[0].meta}
						model = model[1:]
					}
					if !slices.Equal(dropped, want) {
						t.Fatalf("op %d: push dropped %v, want %v", op, dropped, want)
					}
					model = append(model, c)
				case x < 9 && tc.chained: // take
					k := spanKey{Span: [8]byte{byte(r.IntN(tc.keys))}}
					var got, want []meta
					q.take(&k, func(c *child) { got = append(got, c.meta) })
					model = slices.DeleteFunc(model, func(c child) bool {
						if c.key == k {
							want = append(want, c.meta)
						}
						return c.key == k
					})
					if !slices.Equal(got, want) {
						t.Fatalf("op %d: take %v, want %v", op, got, want)
					}
				default: // expire
					cutoff := now - int64(r.IntN(40))
					var got, want []meta
					q.expire(cutoff, func(c *child) { got = append(got, c.meta) })
					for len(model) > 0 && model[0].arrival <= cutoff {
						want = append(want, model[0].meta)
						model = model[1:]
					}
					if !slices.Equal(got, want) {
						t.Fatalf("op %d: expire %v, want %v", op, got, want)
					}
				}
				if q.len() != len(model) || int(q.r.n) > tc.max+max(tc.max/4, 1) {
					t.Fatalf("op %d: len %d (ring %d), want %d", op, q.len(), q.r.n, len(model))
				}
			}
		})
	}
}

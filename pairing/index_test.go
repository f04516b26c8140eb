package pairing

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// narrow spends only dispBits on disp (tags keep the rest), as a large
// per-shard capacity does, so that saturation and its re-hash fallback run
// in small tests.
func narrow(x *index, dispBits uint) {
	x.dispBits, x.dispMax, x.tagShift = dispBits, 1<<dispBits-1, x.dispShift+dispBits
}

// checkTable verifies the table's invariants: every non-empty slot holds
// a position in the ring (no slot outlives its entry's eviction), every
// ring entry has exactly one slot, reachable from its home without
// crossing an empty slot, and each slot's disp is its distance from home,
// saturated.
func checkTable(t *testing.T, x *index) {
	t.Helper()
	seen := 0
	owner := map[uint32]int{}
	for j, v := range x.slots {
		if v == 0 {
			continue
		}
		p := x.pos(v)
		if p >= x.ring.cap || (p-x.ring.head+x.ring.cap)%x.ring.cap >= x.ring.n {
			t.Fatalf("slot %d holds position %d outside the ring", j, p)
		}
		if k, ok := owner[p]; ok {
			t.Fatalf("slots %d and %d both hold position %d", k, j, p)
		}
		owner[p] = j
		seen++
		h := x.hash(&x.ring.at(p).key)
		home := x.home(h)
		d := x.dist(home, j)
		if got, want := x.disp(v), min(uint32(d), x.dispMax); got != want {
			t.Fatalf("slot %d: disp %d, want %d (distance %d)", j, got, want, d)
		}
		if !x.tagMatch(v, h) {
			t.Fatalf("slot %d: tag does not match its key", j)
		}
		for k := home; k != j; k = (k + 1) % len(x.slots) {
			if x.slots[k] == 0 {
				t.Fatalf("slot %d: empty slot %d between it and its home %d", j, k, home)
			}
		}
	}
	if seen != x.len() {
		t.Fatalf("%d slots for %d entries", seen, x.len())
	}
}

// TestIndexSteadyChurn runs indexes far past their capacity, so that every
// insert evicts, with each split of a slot's spare bits between disp and
// the tag (1 bit of disp: almost every displaced entry is re-hashed), with
// and without preallocation, and checks the table's invariants and every
// lookup against a model.
func TestIndexSteadyChurn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity int
		dispBits uint // 0: the default
		prealloc bool
		inserts  int
	}{
		{"default bits", 1000, 0, false, 20_000},
		{"default bits preallocated", 1000, 0, true, 20_000},
		{"1 disp bit", 1000, 1, false, 10_000},
		{"2 disp bits", 700, 2, true, 10_000},
		{"3 disp bits", 1500, 3, false, 10_000},
		{"capacity 1", 1, 0, false, 100},
		{"capacity 5000", 5000, 0, false, 30_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newIndex(tc.capacity, newHasher(), tc.prealloc)
			if tc.dispBits > 0 {
				narrow(x, tc.dispBits)
			}
			r := rand.New(rand.NewPCG(uint64(tc.capacity), uint64(tc.dispBits)))
			var fifo []spanKey
			for i := range tc.inserts {
				var k spanKey
				k.Trace[0], k.Span[0] = byte(r.Uint32()), byte(r.Uint32())
				k.Trace[8] = byte(i)
				k.Span[4], k.Span[5], k.Span[6] = byte(i), byte(i>>8), byte(i>>16) // distinct
				if _, added := x.insert(entry{key: k, meta: meta(i)}); !added {
					t.Fatalf("insert %d: refused as a duplicate", i)
				}
				fifo = append(fifo, k)
				if len(fifo) > tc.capacity {
					if e := x.find(&fifo[0]); e != nil {
						t.Fatalf("insert %d: evicted key still found", i)
					}
					fifo = fifo[1:]
				}
				if i%997 == 0 || i == tc.inserts-1 {
					checkTable(t, x)
					for n, mk := range fifo {
						want := meta(i - len(fifo) + 1 + n)
						if e := x.find(&mk); e == nil || e.meta != want {
							t.Fatalf("insert %d: find = %v, want meta %d", i, e, want)
						}
					}
				}
			}
			if want := uint64(max(0, tc.inserts-tc.capacity)); x.evictions != want {
				t.Fatalf("%d evictions, want %d", x.evictions, want)
			}
			if tc.prealloc && len(x.slots) != x.final {
				t.Fatalf("preallocated table of %d slots, want %d", len(x.slots), x.final)
			}
		})
	}
}

// TestIndexFullDuplicate re-inserts keys into a full index: the oldest
// (which an insert would evict next), the newest and one between must all
// be refused as duplicates, returning their own entries, with nothing
// evicted; a new key then evicts exactly the oldest.
func TestIndexFullDuplicate(t *testing.T) {
	const capacity = 50
	x := newIndex(capacity, newHasher(), false)
	key := func(i int) spanKey {
		return spanKey{Trace: [16]byte{0: byte(i % 7)}, Span: [8]byte{0: byte(i), 1: byte(i >> 8)}}
	}
	for i := range 3 * capacity {
		x.insert(entry{key: key(i), meta: meta(i)})
	}
	oldest := 2 * capacity
	for _, i := range []int{oldest, oldest + capacity/2, 3*capacity - 1} {
		e, added := x.insert(entry{key: key(i), meta: 999})
		if added || e.meta != meta(i) {
			t.Fatalf("re-insert of %d: added %v, entry meta %d; want refused, %d", i, added, e.meta, i)
		}
	}
	if x.len() != capacity || x.evictions != 2*capacity {
		t.Fatalf("len %d, %d evictions; want %d, %d", x.len(), x.evictions, capacity, 2*capacity)
	}
	x.insert(entry{key: key(3 * capacity), meta: meta(3 * capacity)})
	checkTable(t, x)
	if k := key(oldest); x.find(&k) != nil {
		t.Fatalf("the oldest key %d is still found after the next insert", oldest)
	}
	for i := oldest + 1; i <= 3*capacity; i++ {
		if k := key(i); x.find(&k) == nil || x.find(&k).meta != meta(i) {
			t.Fatalf("key %d not found with its entry", i)
		}
	}
}

// TestIndexPrepareChurn runs indexes far past their capacity the way a
// shard visit uses them, prepare then inserts newest first, with visits
// whose inserts differ from what prepare was told (duplicates, fewer or
// more spans, inserts with no prepare at all), so that the key hashes
// prepare keeps for the evictions to come are used out of turn: every
// live key must be found, no evicted one, and the table stay consistent.
func TestIndexPrepareChurn(t *testing.T) {
	for _, capacity := range []int{1, 7, 100, 1000} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			h := newHasher()
			x := newIndex(capacity, h, false)
			r := rand.New(rand.NewPCG(uint64(capacity), 7))
			var fifo []spanKey
			live := map[spanKey]bool{}
			next := 0
			newKey := func() spanKey {
				next++
				return spanKey{Trace: [16]byte{0: byte(next % 5)}, Span: [8]byte{0: byte(next), 1: byte(next >> 8), 2: byte(next >> 16)}}
			}
			for visit := range min(3000, 300_000/capacity) {
				n := 1 + r.IntN(2*capacity+2)
				spans := make([]span, n)
				for i := range spans {
					k := newKey()
					if len(fifo) > 0 && r.IntN(4) == 0 { // a duplicate of an indexed span
						k = fifo[r.IntN(len(fifo))]
					}
					spans[i] = span{key: k, th: h.trace(&k.Trace)}
					if i > 0 {
						spans[i].parent = spans[i-1].key.Span
					}
				}
				order := make([]int32, n)
				for i := range order {
					order[i] = int32(i)
				}
				prepared := order
				switch visit % 4 {
				case 1:
					prepared = order[:n/2] // more inserts than prepared for
				case 2:
					prepared = nil // none
				}
				x.prepare(spans, prepared)
				inserted := n
				if visit%4 == 3 {
					inserted = n / 2 // fewer
				}
				for k := inserted - 1; k >= 0; k-- {
					s := &spans[order[k]]
					_, added := x.insertHashed(entry{key: s.key}, h.key(s.th, &s.key.Span))
					if added == live[s.key] {
						t.Fatalf("visit %d: insert added=%v, model has=%v", visit, added, live[s.key])
					}
					if !added {
						continue
					}
					fifo = append(fifo, s.key)
					live[s.key] = true
					if len(fifo) > capacity {
						delete(live, fifo[0])
						fifo = fifo[1:]
					}
				}
				if visit%50 == 0 {
					checkTable(t, x)
				}
				for _, k := range fifo {
					if x.find(&k) == nil {
						t.Fatalf("visit %d: live key not found", visit)
					}
				}
				for i := range spans {
					if k := spans[i].key; !live[k] && x.find(&k) != nil {
						t.Fatalf("visit %d: evicted key found", visit)
					}
				}
			}
			if x.len() != capacity {
				t.Fatalf("len %d, want %d", x.len(), capacity)
			}
		})
	}
}

// TestIndexBitBudget checks how a slot's spare bits are split at the
// default per-shard capacity and at larger ones.
func TestIndexBitBudget(t *testing.T) {
	for _, tc := range []struct {
		capacity                   int
		posBits, dispBits, tagBits uint
	}{
		{1 << 20, 21, 5, 6}, // 16 Mi spans / 16 shards: the default
		{1<<20 - 1, 20, 5, 7},
		{1 << 24, 25, 4, 3},
		{1 << 28, 29, 2, 1},
		{1<<31 - 1, 31, 1, 0}, // the largest per-shard capacity: disp saturates at 1, no tag
	} {
		x := newIndex(tc.capacity, newHasher(), false)
		if x.posBits != tc.posBits || x.dispBits != tc.dispBits || 32-x.tagShift != tc.tagBits {
			t.Errorf("capacity %d: pos/disp/tag bits %d/%d/%d, want %d/%d/%d", tc.capacity,
				x.posBits, x.dispBits, 32-x.tagShift, tc.posBits, tc.dispBits, tc.tagBits)
		}
	}
}

// FuzzIndex checks the span index against a model (a FIFO of keys): every
// key the model holds is found with its entry, no other key is, duplicates
// are refused, and the oldest is evicted at capacity, across table growth
// and backward-shift deletion.
func FuzzIndex(f *testing.F) {
	f.Add(uint8(3), []byte{1, 2, 3, 4, 1, 5, 6, 2, 7})
	f.Add(uint8(1), []byte{9, 9, 9, 8})
	f.Add(uint8(40), make([]byte, 300))
	long := make([]byte, 2000) // far past capacity: every insert evicts
	for i := range long {
		long[i] = byte(i*7 + i/256)
	}
	f.Add(uint8(8), long)
	f.Add(uint8(0x80|20), long)
	f.Add(uint8(0xc0|50), long)
	f.Fuzz(func(t *testing.T, capacity uint8, ops []byte) {
		// The top two bits pick how many bits disp gets (0: the default),
		// the rest the capacity.
		dispBits := uint(capacity >> 6)
		if capacity &= 0x3f; capacity == 0 {
			capacity = 1
		}
		x := newIndex(int(capacity), newHasher(), dispBits == 3)
		if dispBits > 0 && dispBits < 3 {
			narrow(x, dispBits)
		}
		var fifo []spanKey
		has := map[spanKey]meta{}
		for i, op := range ops {
			// A small key space forces duplicates; the second byte
			// varies the trace so probe runs mix.
			k := spanKey{Trace: [16]byte{0: op & 0x3f, 15: byte(i % 3)}, Span: [8]byte{0: op}}
			_, dup := has[k]
			e, added := x.insert(entry{key: k, meta: meta(i)})
			if added == dup {
				t.Fatalf("op %d: insert added=%v, model has=%v", i, added, dup)
			}
			if !added {
				if e.meta != has[k] {
					t.Fatalf("op %d: duplicate returned entry %d, want %d", i, e.meta, has[k])
				}
				continue
			}
			if len(fifo) == int(capacity) {
				delete(has, fifo[0])
				fifo = fifo[1:]
			}
			fifo = append(fifo, k)
			has[k] = meta(i)
			if x.len() != len(fifo) {
				t.Fatalf("op %d: len %d, want %d", i, x.len(), len(fifo))
			}
			if i%7 == 0 || i == len(ops)-1 {
				checkTable(t, x)
			}
			for mk, m := range has {
				if e := x.find(&mk); e == nil || e.meta != m {
					t.Fatalf("op %d: find(%v) = %v, want meta %d", i, mk, e, m)
				}
			}
		}
		for op := 0; op < 256; op++ {
			for r := range 3 {
				k := spanKey{Trace: [16]byte{0: byte(op) & 0x3f, 15: byte(r)}, Span: [8]byte{0: byte(op)}}
				if _, ok := has[k]; !ok && x.find(&k) != nil {
					t.Fatalf("found evicted or never-inserted key %v", k)
				}
			}
		}
	})
}

// TestBatchResetBoundsPooledArrays checks that a batch going back to the
// pool keeps its per-span arrays only up to tracedecode.KeptSpans spans:
// an idle pooled batch must not hold a large request's arrays, which no
// reservation of the receivers' memory budget covers.
func TestBatchResetBoundsPooledArrays(t *testing.T) {
	for _, n := range []int{tracedecode.KeptSpans, tracedecode.KeptSpans + 1} {
		b := &batch{spans: make([]span, n), names: make([]string, n), order: make([]int32, n), shardOf: make([]int32, n)}
		b.rec.Spans = make([]tracedecode.Span, n)
		b.reset()
		kept := n <= tracedecode.KeptSpans
		if got := cap(b.spans) == n && cap(b.names) == n && cap(b.order) == n && cap(b.shardOf) == n && cap(b.rec.Spans) == n; got != kept {
			t.Errorf("%d spans: arrays kept %v, want %v (caps %d %d %d %d %d)", n, got, kept,
				cap(b.spans), cap(b.names), cap(b.order), cap(b.shardOf), cap(b.rec.Spans))
		}
		if len(b.spans) != 0 || len(b.names) != 0 || len(b.order) != 0 || len(b.rec.Spans) != 0 {
			t.Errorf("%d spans: not empty after reset", n)
		}
	}
}

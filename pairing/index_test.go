package pairing

import (
	"hash/maphash"
	"testing"
)

// FuzzIndex checks the span index against a model (a FIFO of keys): every
// key the model holds is found with its entry, no other key is, duplicates
// are refused, and the oldest is evicted at capacity, across table growth
// and backward-shift deletion.
func FuzzIndex(f *testing.F) {
	f.Add(uint8(3), []byte{1, 2, 3, 4, 1, 5, 6, 2, 7})
	f.Add(uint8(1), []byte{9, 9, 9, 8})
	f.Add(uint8(40), make([]byte, 300))
	f.Fuzz(func(t *testing.T, capacity uint8, ops []byte) {
		if capacity == 0 {
			capacity = 1
		}
		x := newIndex(int(capacity), maphash.MakeSeed())
		var fifo []spanKey
		has := map[spanKey]uint32{}
		for i, op := range ops {
			// A small key space forces duplicates; the second byte
			// varies the trace so probe runs mix.
			k := spanKey{trace: [16]byte{0: op & 0x3f, 15: byte(i % 3)}, span: [8]byte{0: op}}
			_, dup := has[k]
			e, added := x.insert(entry{key: k, meta: uint32(i)})
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
			has[k] = uint32(i)
			if x.len() != len(fifo) {
				t.Fatalf("op %d: len %d, want %d", i, x.len(), len(fifo))
			}
			for mk, meta := range has {
				if e := x.find(&mk); e == nil || e.meta != meta {
					t.Fatalf("op %d: find(%v) = %v, want meta %d", i, mk, e, meta)
				}
			}
		}
		for op := 0; op < 256; op++ {
			for r := range 3 {
				k := spanKey{trace: [16]byte{0: byte(op) & 0x3f, 15: byte(r)}, span: [8]byte{0: byte(op)}}
				if _, ok := has[k]; !ok && x.find(&k) != nil {
					t.Fatalf("found evicted or never-inserted key %v", k)
				}
			}
		}
	})
}

package pairing

import (
	"hash/maphash"
	"math/bits"
	"unsafe"
)

// entry is one indexed span: 40 bytes.
type entry struct {
	key  spanKey
	end  int64  // unix ns
	dur  uint32 // µs, saturated at MaxSeconds (micros)
	meta uint32 // see the meta* constants
}

// entry.meta layout.
const (
	metaSvcMask   = 1<<24 - 1
	metaKindShift = 24
	metaFailed    = 1 << 27
	metaPaired    = 1 << 28 // a CLIENT span whose server side was seen
)

func packMeta(svc uint32, kind uint8, failed bool) uint32 {
	m := svc&metaSvcMask | uint32(kind&7)<<metaKindShift
	if failed {
		m |= metaFailed
	}
	return m
}

func (e *entry) svc() uint32      { return e.meta & metaSvcMask }
func (e *entry) kind() uint8      { return uint8(e.meta >> metaKindShift & 7) }
func (e *entry) failed() bool     { return e.meta&metaFailed != 0 }
func (e *entry) seconds() float64 { return microsSeconds(e.dur) }

// index is the span index of one shard: (trace id, span id) → entry, for the
// most recent cap spans. Entries live in a FIFO ring; when it is full the
// oldest entry is evicted. Lookups go through an open-addressing table of
// ring positions (linear probing, backward-shift deletion) kept at most 80%
// full, so at capacity it costs 5 bytes per entry: 45 in all.
type index struct {
	ring      ring[entry]
	slots     []uint32 // tag<<posBits | (ring position + 1); 0 is empty
	posBits   uint     // bits of a slot that hold the position; the rest hold a hash tag
	final     int      // table size at full capacity
	seed      maphash.Seed
	evictions uint64
}

func newIndex(capacity int, seed maphash.Seed) *index {
	final := (capacity*5 + 3) / 4
	posBits := uint(bits.Len32(uint32(capacity)))
	return &index{ring: newRing[entry](capacity), slots: make([]uint32, min(final, 1024)), posBits: posBits,
		final: final, seed: seed}
}

// slot packs a position with the tag of hash h: a lookup compares tags
// before it reads the (random, uncached) ring entry.
func (x *index) slot(pos uint32, h uint64) uint32 {
	return uint32(h)<<x.posBits | (pos + 1)
}

// pos returns the ring position in slot v (v != 0).
func (x *index) pos(v uint32) uint32 { return v&(1<<x.posBits-1) - 1 }

// tagMatch reports whether slot v may hold a key of hash h.
func (x *index) tagMatch(v uint32, h uint64) bool {
	return x.posBits >= 32 || v>>x.posBits == uint32(h)&(1<<(32-x.posBits)-1)
}

func (x *index) hash(k *spanKey) uint64 { return maphash.Comparable(x.seed, *k) }

// home maps a hash onto the table (Lemire's multiply-shift reduction).
func (x *index) home(h uint64) int { return int((h >> 32) * uint64(len(x.slots)) >> 32) }

// find returns the entry of k, or nil.
func (x *index) find(k *spanKey) *entry {
	h := x.hash(k)
	i := x.home(h)
	for {
		v := x.slots[i]
		if v == 0 {
			return nil
		}
		if x.tagMatch(v, h) {
			if e := x.ring.at(x.pos(v)); e.key == *k {
				return e
			}
		}
		if i++; i == len(x.slots) {
			i = 0
		}
	}
}

// insert adds e unless its key is present. It returns the entry in the
// index and whether it was added (false: a duplicate). A full index evicts
// its oldest entry first.
func (x *index) insert(e entry) (*entry, bool) {
	h := x.hash(&e.key)
	i := x.home(h)
	for {
		v := x.slots[i]
		if v == 0 {
			break
		}
		if x.tagMatch(v, h) {
			if old := x.ring.at(x.pos(v)); old.key == e.key {
				return old, false
			}
		}
		if i++; i == len(x.slots) {
			i = 0
		}
	}
	if x.ring.full() {
		x.evict()
		i = -1
	}
	if int(x.ring.n+1)*5 > len(x.slots)*4 && len(x.slots) < x.final {
		x.grow()
		i = -1
	}
	if i < 0 { // the table changed: find the free slot again
		for i = x.home(h); x.slots[i] != 0; {
			if i++; i == len(x.slots) {
				i = 0
			}
		}
	}
	pos, slot := x.ring.push()
	*slot = e
	x.slots[i] = x.slot(pos, h)
	return slot, true
}

func (x *index) evict() {
	pos, e := x.ring.oldest()
	h := x.hash(&e.key)
	i := x.home(h)
	for x.slots[i] != x.slot(pos, h) {
		if i++; i == len(x.slots) {
			i = 0
		}
	}
	x.slots[i] = 0
	// Backward-shift: move later members of the probe run into the hole.
	for j := i; ; {
		if j++; j == len(x.slots) {
			j = 0
		}
		v := x.slots[j]
		if v == 0 {
			break
		}
		k := x.home(x.hash(&x.ring.at(x.pos(v)).key))
		// The entry at j may move to i if its home is not in (i, j], cyclically.
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			x.slots[i], x.slots[j] = v, 0
			i = j
		}
	}
	x.ring.pop()
	x.evictions++
}

func (x *index) grow() {
	x.slots = make([]uint32, min(x.final, 2*len(x.slots)))
	for n, pos := uint32(0), x.ring.head; n < x.ring.n; n++ {
		h := x.hash(&x.ring.at(pos).key)
		i := x.home(h)
		for x.slots[i] != 0 {
			if i++; i == len(x.slots) {
				i = 0
			}
		}
		x.slots[i] = x.slot(pos, h)
		if pos++; pos == x.ring.cap {
			pos = 0
		}
	}
}

func (x *index) len() int { return int(x.ring.n) }

// bytes is the memory the index holds.
func (x *index) bytes() int {
	return x.ring.bytes(int(unsafe.Sizeof(entry{}))) + 4*len(x.slots)
}

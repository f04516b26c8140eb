package pairing

import (
	"math/bits"
	"unsafe"

	"github.com/servicegraph/servicegraph/graph"
)

// entry is one indexed span: 40 bytes.
type entry struct {
	key spanKey
	// end is the span's end, unix ns; while the entry's CLIENT span waits
	// in its shard's clients queue (queued), its position there, and the
	// queue item holds the end (shard.endOf reads either).
	end  int64
	dur  uint32 // µs, saturated at MaxSeconds (micros)
	meta meta
}

// meta packs what edges need of a span besides its times into 32 bits:
// the service's node id (24 bits, so MaxNodes), the span kind (3 bits),
// whether it failed, and two flags of an indexed CLIENT span.
type meta uint32

// meta's layout.
const (
	metaSvcBits   = 24
	metaSvcMask   = 1<<metaSvcBits - 1
	metaKindShift = metaSvcBits
	metaKindMask  = 7 // OTLP kinds are 0..5
	metaFailed    = 1 << 27
	metaPaired    = 1 << 28 // a CLIENT span whose server side was seen
	metaQueued    = 1 << 29 // a CLIENT span waiting in the clients queue: end is its position
)

// packMeta packs a span's service, kind and status; svc must be below
// MaxNodes (resolve refuses spans whose service is not).
func packMeta(svc graph.NodeID, kind uint8, failed bool) meta {
	m := meta(uint32(svc)&metaSvcMask | uint32(kind&metaKindMask)<<metaKindShift)
	if failed {
		m |= metaFailed
	}
	return m
}

func (m meta) svc() graph.NodeID { return graph.NodeID(m & metaSvcMask) }
func (m meta) kind() uint8       { return uint8(m >> metaKindShift & metaKindMask) }
func (m meta) failed() bool      { return m&metaFailed != 0 }

// paired reports whether a CLIENT span's server side was seen.
func (m meta) paired() bool { return m&metaPaired != 0 }

// queued reports whether a CLIENT span waits in the clients queue.
func (m meta) queued() bool { return m&metaQueued != 0 }

func (e *entry) seconds() float64 { return microsSeconds(e.dur) }

// index is the span index of one shard: (trace id, span id) → entry, for the
// most recent cap spans. Entries live in a FIFO ring; when it is full the
// oldest entry is evicted. Lookups go through an open-addressing table of
// ring positions (linear probing) whose live slots fill at most 60 % of it:
// at capacity 6.7 bytes per entry, 46.7 in all.
//
// A slot is tag<<tagShift | disp<<dispShift | lap<<posBits | (ring
// position + 1), 0 empty. lap is the parity of the ring's lap in which the
// position was written: once the ring has gone round past it, the slot is
// stale (its entry was evicted). Eviction in a full index (every insert, in
// steady state) therefore costs nothing at once: the new entry takes the
// oldest one's ring position, which makes the old slot stale. Lookups skip
// stale slots, inserts reuse the first one on their path, and a sweep that
// moves sweepN slots forward per insert removes the rest (a backward shift
// of the probe run behind each, reading the table alone), so that every
// slot is swept more than once per lap of the ring, before its lap bit
// could match again; stale slots stay few (on average about a
// 2×sweepRounds-th of the entries). The sweep reads the table in order,
// where an eager eviction read a random slot per insert: a cache miss that
// made a steady-state insert cost about twice a fresh one.
//
// disp is the slot's distance from its key's home slot, saturated at
// dispMax: the backward shift reads it instead of re-reading and re-hashing
// each displaced entry (a random ring read). Only a saturated disp (well
// under 1 % of entries) falls back to the re-hash, and a stale saturated
// slot, whose ring entry is another key's, is not moved (it only has to
// stay out of the way of live keys' runs). The bits left after the position
// and the lap are split between disp and the tag; at larger per-shard
// capacities both shrink, down to a re-hash of every displaced entry and no
// tag: slower, never wrong.
type index struct {
	ring      ring[entry]
	slots     []uint32
	posBits   uint   // bits of a slot that hold the position + 1
	dispShift uint   // posBits + 1: the lap bit is below disp
	dispBits  uint   // bits that hold disp
	tagShift  uint   // dispShift + dispBits
	dispMax   uint32 // 1<<dispBits - 1: disp is at least this
	final     int    // table size at full capacity
	lap       uint32 // the parity of the ring's lap: flips when a push fills its last position
	cursor    int    // the sweep's next slot
	sweepN    int    // slots the sweep moves forward per insert into a full index
	ahead     int    // slots prepare swept ahead of the inserts that owe them
	h         hasher
	evictions uint64
	warmSink  uint32 // what warm read, kept so that its loads are not optimized away
}

// The table's live slots fill at most loadNum/loadDen of it (60 %); stale
// slots add about a tenth of that in steady state: see index.
const (
	loadNum = 6
	loadDen = 10
)

// sweepRounds is how many times per lap of the ring the sweep passes over
// the table; at least 2, so that a stale slot is removed before its lap bit
// matches again even if a backward shift moved it once behind the sweep.
const sweepRounds = 8

// initialSlots is the table's size until the index grows (or its final
// size, if smaller): a shard starts small and doubles.
const initialSlots = 1024

// maxDispBits bounds the bits spent on disp: 5 bits saturate at 31, which
// well under 1 % of entries reach.
const maxDispBits = 5

// newIndex returns an empty index of capacity spans. With prealloc its
// table and ring are allocated at full size now, so that growth is paid at
// start rather than during the first cap spans.
func newIndex(capacity int, h hasher, prealloc bool) *index {
	final := (capacity*loadDen + loadNum - 1) / loadNum // capacity at most loadNum/loadDen of it
	posBits := uint(bits.Len32(uint32(capacity)))
	spare := 31 - posBits                                   // one bit is the lap's
	dispBits := min(maxDispBits, (spare+1)/2)               // the spare bits, split between disp and the tag
	sweepN := (sweepRounds*final + capacity - 1) / capacity // per insert: sweepRounds passes per lap
	x := &index{ring: newRing[entry](capacity), slots: make([]uint32, min(final, initialSlots)), posBits: posBits,
		dispShift: posBits + 1, dispBits: dispBits, tagShift: posBits + 1 + dispBits, dispMax: 1<<dispBits - 1,
		final: final, sweepN: sweepN, h: h}
	if prealloc {
		x.slots = make([]uint32, final)
		x.ring.alloc()
	}
	return x
}

// slot packs a position, its lap, its distance d from home and the tag of
// hash h: a lookup compares tags before it reads the (random, uncached)
// ring entry.
func (x *index) slot(pos uint32, h uint64, d int) uint32 {
	return uint32(h)<<x.tagShift | min(uint32(d), x.dispMax)<<x.dispShift | x.liveLap(pos)<<x.posBits | (pos + 1)
}

// pos returns the ring position in slot v (v != 0).
func (x *index) pos(v uint32) uint32 { return v&(1<<x.posBits-1) - 1 }

// liveLap is the lap parity of the entry now at ring position pos: the
// current lap's below the next push's position, the previous one's from
// it on.
func (x *index) liveLap(pos uint32) uint32 {
	next := x.ring.head + x.ring.n
	if next >= x.ring.cap {
		next -= x.ring.cap
	}
	if pos < next {
		return x.lap
	}
	return x.lap ^ 1
}

// stale reports whether slot v (v != 0) points at an evicted entry.
func (x *index) stale(v uint32) bool { return v>>x.posBits&1 != x.liveLap(x.pos(v)) }

// disp returns slot v's distance from home, saturated at dispMax.
func (x *index) disp(v uint32) uint32 { return v >> x.dispShift & x.dispMax }

// withDisp returns v with its disp set to d (d < dispMax, or saturated).
func (x *index) withDisp(v uint32, d uint32) uint32 {
	return v&^(x.dispMax<<x.dispShift) | min(d, x.dispMax)<<x.dispShift
}

// tagMatch reports whether slot v may hold a key of hash h.
func (x *index) tagMatch(v uint32, h uint64) bool {
	return x.tagShift >= 32 || v>>x.tagShift == uint32(h)&(1<<(32-x.tagShift)-1)
}

func (x *index) hash(k *spanKey) uint64 { return x.h.key(x.h.trace(&k.Trace), &k.Span) }

// home maps a hash onto the table (Lemire's multiply-shift reduction).
func (x *index) home(h uint64) int { return int((h >> 32) * uint64(len(x.slots)) >> 32) }

// dist is the distance from slot i forward to slot j, cyclically.
func (x *index) dist(i, j int) int {
	if j >= i {
		return j - i
	}
	return j + len(x.slots) - i
}

// find returns the entry of k, or nil.
func (x *index) find(k *spanKey) *entry { return x.findHashed(k, x.hash(k)) }

// findHashed is find of a key whose hash h the caller has.
func (x *index) findHashed(k *spanKey, h uint64) *entry {
	i := x.home(h)
	for {
		v := x.slots[i]
		if v == 0 {
			return nil
		}
		if x.tagMatch(v, h) && !x.stale(v) {
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
func (x *index) insert(e entry) (*entry, bool) { return x.insertHashed(e, x.hash(&e.key)) }

// insertHashed is insert of an entry whose key's hash h the caller has.
func (x *index) insertHashed(e entry, h uint64) (*entry, bool) {
	i, free := x.home(h), -1
	for {
		v := x.slots[i]
		if v == 0 {
			break
		}
		if x.stale(v) {
			if free < 0 {
				free = i
			}
		} else if x.tagMatch(v, h) {
			if old := x.ring.at(x.pos(v)); old.key == e.key {
				return old, false
			}
		}
		if i++; i == len(x.slots) {
			i = 0
		}
	}
	if free >= 0 {
		i = free
	}
	if x.ring.full() { // the new entry takes the oldest's position: its slot goes stale
		x.ring.pop()
		x.evictions++
	} else if int(x.ring.n+1)*loadDen > len(x.slots)*loadNum && len(x.slots) < x.final {
		x.grow()
		for i = x.home(h); x.slots[i] != 0; { // the table changed: find the free slot again
			if i++; i == len(x.slots) {
				i = 0
			}
		}
	}
	pos, slot := x.ring.push()
	if pos == x.ring.cap-1 {
		x.lap ^= 1
	}
	*slot = e
	x.slots[i] = x.slot(pos, h, x.dist(x.home(h), i))
	if x.evictions > 0 {
		if x.ahead >= x.sweepN {
			x.ahead -= x.sweepN
		} else {
			x.sweep(x.sweepN)
		}
	}
	return slot, true
}

// sweep moves the sweep n slots forward, removing the stale slots it passes.
func (x *index) sweep(n int) {
	next := x.ring.head + x.ring.n // the next push's position: liveLap's boundary
	if next >= x.ring.cap {
		next -= x.ring.cap
	}
	mask := uint32(1)<<x.posBits - 1
	c := x.cursor
	for n > 0 {
		end := min(c+n, len(x.slots))
		n -= end - c
		// Read one slot per cache line first, in a loop of independent
		// loads: their misses overlap, where the test of each slot below
		// would take them one at a time.
		var sink uint32
		for t := c; t < end; t += 16 {
			sink += x.slots[t]
		}
		x.warmSink += sink
		for ; c < end; c++ {
			for {
				// stale, without a branch per test: the slot is not empty,
				// and its lap bit differs from liveLap of its position
				// (pos >= next is the sign of next-1-pos).
				v := x.slots[c]
				pos := v&mask - 1
				if (-(v&mask)>>31)&(v>>x.posBits^x.lap^(next-1-pos)>>31)&1 == 0 {
					break
				}
				x.remove(c)
			}
		}
		if c == len(x.slots) {
			c = 0
		}
	}
	x.cursor = c
}

// remove empties slot i and shifts the rest of its probe run back, reading
// the table alone: each slot's disp says how far back it may move.
func (x *index) remove(i int) {
	x.slots[i] = 0
	for j := i; ; {
		if j++; j == len(x.slots) {
			j = 0
		}
		v := x.slots[j]
		if v == 0 {
			return
		}
		d := x.disp(v)
		if d == x.dispMax { // saturated: the exact distance from the key
			if x.stale(v) {
				continue // its key is unknown: it stays, the sweep removes it
			}
			d = uint32(x.dist(x.home(x.hash(&x.ring.at(x.pos(v)).key)), j))
		}
		// The slot at j may move to i unless its home is in (i, j],
		// cyclically: unless it sits fewer than dist(i, j) slots from home.
		if dij := uint32(x.dist(i, j)); d >= dij {
			x.slots[i], x.slots[j] = x.withDisp(v, d-dij), 0
			i = j
		}
	}
}

func (x *index) grow() {
	x.slots = make([]uint32, min(x.final, 2*len(x.slots)))
	x.cursor = 0
	for n, pos := uint32(0), x.ring.head; n < x.ring.n; n++ {
		h := x.hash(&x.ring.at(pos).key)
		home := x.home(h)
		i := home
		for x.slots[i] != 0 {
			if i++; i == len(x.slots) {
				i = 0
			}
		}
		x.slots[i] = x.slot(pos, h, x.dist(home, i))
		if pos++; pos == x.ring.cap {
			pos = 0
		}
	}
}

// prepare readies the index for the spans order[...] of spans about to be
// added. In a full index it moves the sweep forward by what their inserts
// owe it, all at once: a sequential read the CPU streams, where a few
// slots per insert, between random reads, each cost a cache miss. Then it
// reads the table slots their inserts and their parents' lookups will read
// first, and the ring entries of the parents found, so that the CPU
// overlaps those cache misses (each load independent of the others)
// instead of taking them one at a time in add: group prefetching, which Go
// has no intrinsic for. It changes no entry.
func (x *index) prepare(spans []span, order []int32) {
	if x.ring.full() && x.ahead < x.sweepN {
		n := len(order) * x.sweepN
		x.sweep(n)
		x.ahead += n
	}
	var sink uint32
	for _, k := range order {
		s := &spans[k]
		sink += x.slots[x.home(x.h.key(s.th, &s.key.Span))]
		if s.parent != [8]byte{} {
			sink += x.slots[x.home(x.h.key(s.th, &s.parent))]
		}
	}
	for _, k := range order { // the parents' entries, once their home slots are in cache
		s := &spans[k]
		if s.parent == [8]byte{} {
			continue
		}
		h := x.h.key(s.th, &s.parent)
		if v := x.slots[x.home(h)]; v != 0 && x.tagMatch(v, h) && !x.stale(v) {
			sink += uint32(x.ring.at(x.pos(v)).end)
		}
	}
	x.warmSink = sink
}

func (x *index) len() int { return int(x.ring.n) }

// bytes is the memory the index holds.
func (x *index) bytes() int {
	return x.ring.bytes(int(unsafe.Sizeof(entry{}))) + 4*len(x.slots)
}

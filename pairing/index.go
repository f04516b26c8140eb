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
// ring positions (linear probing) whose slots fill at most 55 % of it: at
// capacity 7.3 bytes per entry, 47.3 in all (at most 60 % before: 46.7 B,
// but probe runs and the backward shift a removal makes are longer).
//
// A slot is tag<<tagShift | disp<<dispShift | (ring position + 1), 0
// empty. Every ring entry has exactly one slot, and a slot only ever
// points at a live entry: eviction in a full index (every insert, in
// steady state) removes the oldest entry's slot at once, found from its
// key's home by its position alone (no ring read but the evicted key's),
// with a backward shift of the probe run behind it that reads the table
// alone. The slots an eviction reads are a random cache miss, which
// prepare takes ahead, together with the others of a shard visit: it
// reads the keys of the entries the visit's inserts will evict (the ring's
// oldest, in order: a sequential read) and loads their home slots in one
// loop of independent loads, so that those misses overlap with each other
// and with the visit's own. (Lazy eviction before it, which left evicted
// slots stale behind a lap-parity bit and removed them with a sweep over
// the whole table eight times per lap of the ring, cost more: the sweep's
// scan and the stale slots in every probe run made a steady-state span
// 1.06-1.36x a fresh one.)
//
// disp is the slot's distance from its key's home slot, saturated at
// dispMax: the backward shift reads it instead of re-reading and re-hashing
// each displaced entry (a random ring read). Only a saturated disp (well
// under 1 % of entries) falls back to the re-hash. The bits left after
// the position are split between disp and the tag; at larger per-shard
// capacities both shrink, down to a re-hash of every displaced entry and
// no tag: slower, never wrong.
type index struct {
	ring      ring[entry]
	slots     []uint32
	posBits   uint   // bits of a slot that hold the position + 1
	dispShift uint   // posBits
	dispBits  uint   // bits that hold disp
	tagShift  uint   // dispShift + dispBits
	dispMax   uint32 // 1<<dispBits - 1: disp is at least this
	final     int    // table size at full capacity
	h         hasher
	evictions uint64
	warmSink  uint32 // what prepare read, kept so that its loads are not optimized away
	// evicting holds the key hashes of the entries from ring position
	// evictFrom on, which prepare computed for the evictions to come;
	// evictNext is the next one to use (see evictHash).
	evicting  []uint64
	evictFrom uint32
	evictNext int
	// hashes holds, per span of the last prepare's order, its key's hash
	// and its parent's (0 without a parent): the shard's visit uses them
	// instead of hashing each key again (shard.add, chains.first).
	hashes []uint64
}

// The table's slots fill at most loadNum/loadDen of it (55 %).
const (
	loadNum = 11
	loadDen = 20
)

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
	spare := 32 - posBits
	dispBits := min(maxDispBits, (spare+1)/2) // the spare bits, split between disp and the tag
	x := &index{ring: newRing[entry](capacity), slots: make([]uint32, min(final, initialSlots)), posBits: posBits,
		dispShift: posBits, dispBits: dispBits, tagShift: posBits + dispBits, dispMax: 1<<dispBits - 1,
		final: final, h: h}
	if prealloc {
		x.slots = make([]uint32, final)
		x.ring.alloc()
	}
	return x
}

// slot packs a position, its distance d from home and the tag of hash h:
// a lookup compares tags before it reads the (random, uncached) ring
// entry.
func (x *index) slot(pos uint32, h uint64, d int) uint32 {
	return uint32(h)<<x.tagShift | min(uint32(d), x.dispMax)<<x.dispShift | (pos + 1)
}

// pos returns the ring position in slot v (v != 0).
func (x *index) pos(v uint32) uint32 { return v&(1<<x.posBits-1) - 1 }

// disp returns slot v's distance from home, saturated at dispMax.
func (x *index) disp(v uint32) uint32 { return v >> x.dispShift & x.dispMax }

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
func (x *index) insert(e entry) (*entry, bool) { return x.insertHashed(e, x.hash(&e.key)) }

// insertHashed is insert of an entry whose key's hash h the caller has.
func (x *index) insertHashed(e entry, h uint64) (*entry, bool) {
	home := x.home(h)
	i := home
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
	var pos uint32
	var slot *entry
	if x.ring.full() {
		// The new entry takes the oldest's position. Removing the oldest's
		// slot empties one slot, hole, and fills no empty one (the shift
		// moves slots back into the hole it leaves): the first free slot
		// from home is hole if it lies on the probe's path, else i.
		pos, slot = x.ring.head, x.ring.at(x.ring.head)
		if hole := x.evict(pos, x.evictHash(pos, slot)); x.dist(home, hole) < x.dist(home, i) {
			i = hole
		}
		x.ring.head++
		if x.ring.head == x.ring.cap {
			x.ring.head = 0
		}
		x.evictions++
	} else {
		if int(x.ring.n+1)*loadDen > len(x.slots)*loadNum && len(x.slots) < x.final {
			x.grow()
			home = x.home(h)
			for i = home; x.slots[i] != 0; { // the table changed: find the free slot again
				if i++; i == len(x.slots) {
					i = 0
				}
			}
		}
		pos, slot = x.ring.push()
	}
	*slot = e
	x.slots[i] = x.slot(pos, h, x.dist(home, i))
	return slot, true
}

// evictHash returns the key hash of e, the entry at ring position pos,
// about to be evicted: the one prepare computed, if its next one is pos's,
// else computed now. A key changes only when an insert takes its position,
// and a full index's inserts take them in ring order, each passing here
// and using its hash (prepare starts at the ring's head and covers at
// most one lap), so a kept hash is always its position's key's; the
// position check guards that.
func (x *index) evictHash(pos uint32, e *entry) uint64 {
	if x.evictNext < len(x.evicting) {
		want := x.evictFrom + uint32(x.evictNext)
		if want >= x.ring.cap {
			want -= x.ring.cap
		}
		if want == pos {
			x.evictNext++
			return x.evicting[x.evictNext-1]
		}
		x.evicting, x.evictNext = x.evicting[:0], 0
	}
	return x.hash(&e.key)
}

// evict removes the slot of the entry at ring position pos, whose key
// hashes to h: the one slot from its home on that holds pos. It returns
// the slot the removal left empty (remove).
func (x *index) evict(pos uint32, h uint64) int {
	slots := x.slots
	i, want, mask := x.home(h), pos+1, uint32(1)<<x.posBits-1
	for slots[i]&mask != want { // a position is in one slot only
		if i++; i == len(slots) {
			i = 0
		}
	}
	return x.remove(i)
}

// remove empties slot i and shifts the rest of its probe run back, reading
// the table alone: each slot's disp says how far back it may move. The
// loop has no branch on whether a slot moves (a coin toss to the branch
// predictor): it stores both slots either way, selecting the values. It
// returns the one slot left empty: the last a slot moved from, else i.
func (x *index) remove(i int) int {
	slots := x.slots // the fields in locals: the stores below would make the compiler load them again
	shift, dmax := x.dispShift, x.dispMax
	slots[i] = 0
	for j, dij := i, uint32(0); ; {
		if j++; j == len(slots) {
			j = 0
		}
		dij++ // dist(i, j); slot i is the hole (0)
		v := slots[j]
		if v == 0 {
			return i
		}
		d := v >> shift & dmax
		if d == dmax { // saturated: the exact distance from the key
			d = uint32(x.dist(x.home(x.hash(&x.ring.at(x.pos(v)).key)), j))
		}
		// The slot at j may move to i unless its home is in (i, j],
		// cyclically: unless it sits fewer than dist(i, j) slots from home.
		nv := v&^(dmax<<shift) | min(d-dij, dmax)<<shift // v moved to i (d-dij wraps when it stays: unused)
		moved, left := uint32(0), v
		if d >= dij {
			moved, left = nv, 0
		}
		slots[i], slots[j] = moved, left
		if d >= dij {
			i, dij = j, 0
		}
	}
}

// grow doubles the table (up to its final size) and places every entry
// again, in ring order. A trace's spans are mostly neighbours in the ring
// (a shard visit adds them together): each trace is hashed once per run
// of its spans, as prepare does.
func (x *index) grow() {
	x.slots = make([]uint32, min(x.final, 2*len(x.slots)))
	var tr [16]byte // the trace of the entry before, whose hash th is
	th := x.h.trace(&tr)
	for n, pos := uint32(0), x.ring.head; n < x.ring.n; n++ {
		k := &x.ring.at(pos).key
		if k.Trace != tr {
			tr, th = k.Trace, x.h.trace(&k.Trace)
		}
		h := x.h.key(th, &k.Span)
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
// added: it reads the table slots their inserts, their parents' lookups
// and, in a full index, the evictions their inserts make will read first
// (the home slots of the ring's len(order) oldest keys), then the ring
// entries of the parents found, so that the CPU overlaps those cache
// misses (each load independent of the others) instead of taking them one
// at a time in add: group prefetching, which Go has no intrinsic for. It
// changes no entry. It keeps the spans' key and parent hashes in
// x.hashes, in order's order, for the visit's adds.
func (x *index) prepare(spans []span, order []int32) {
	var sink uint32
	if x.ring.full() {
		x.evicting, x.evictFrom, x.evictNext = x.evicting[:0], x.ring.head, 0
		pos := x.ring.head
		var tr [16]byte // the trace of the entry before, whose hash th is (a trace's spans are often neighbours)
		th := x.h.trace(&tr)
		last := len(x.slots) - 1
		for range min(len(order), int(x.ring.n)) {
			k := &x.ring.at(pos).key
			if k.Trace != tr {
				tr, th = k.Trace, x.h.trace(&k.Trace)
			}
			h := x.h.key(th, &k.Span)
			x.evicting = append(x.evicting, h)
			i := x.home(h)
			// The home slot, and the slot 8 on: the removal's probe and
			// backward shift may run into the next cache line.
			sink += x.slots[i] + x.slots[min(i+8, last)]
			if pos++; pos == x.ring.cap {
				pos = 0
			}
		}
	}
	x.hashes = x.hashes[:0]
	for _, k := range order {
		s := &spans[k]
		h := x.h.key(s.th, &s.key.Span)
		sink += x.slots[x.home(h)]
		var ph uint64
		if s.parent != [8]byte{} {
			ph = x.h.key(s.th, &s.parent)
			sink += x.slots[x.home(ph)]
		}
		x.hashes = append(x.hashes, h, ph)
	}
	for j, k := range order { // the parents' entries, once their home slots are in cache
		if spans[k].parent == [8]byte{} {
			continue
		}
		h := x.hashes[2*j+1]
		if v := x.slots[x.home(h)]; v != 0 && x.tagMatch(v, h) {
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

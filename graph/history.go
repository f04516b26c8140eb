package graph

import (
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// History storage. An edge's buckets live in fixed chunks of chunkLen
// buckets, reached through an array of chunk pointers. A bucket holds its
// number as an offset from the edge's base and 32-bit counters. Only
// non-empty buckets are stored, so a rarely used edge costs one chunk.
// Chunks are never written below the slot a snapshot saw, so snapshots
// share them; the pointer array is never written in place below its
// length: dropping chunks re-slices it, and a copy releases the dropped
// prefix once it is a sixteenth of the array.
//
// Each bucket also holds the histogram of its main measure (the edge's
// latency or async delay over the configured bounds). The open bucket's
// is dense, one count per bound in history.open, so that an observation
// adds to one counter; when the bucket closes (the next one opens) it is
// sealed into sparse entries in its chunk's entry array: one uint32 per
// non-empty histogram bucket, the bucket's index in the top 8 bits and
// its count in the low 24 (a count past 2^24−1 continues in another entry
// of the same index). Only the array's tail is ever written; the array
// grows by copy (the chunk's pointer to it is swapped atomically, readers
// see the old or the new one, both complete for what they read) and is
// copied to its exact size when the chunk fills. A bucket's histogram is
// known when its counts add up to its n: buckets restored from a state
// file of format 1, or merged from other bounds, have none.

const chunkLen = 8

// Histogram entries: index << entShift | count.
const (
	entShift = 24
	entMax   = 1<<entShift - 1
	// MaxLatencyBounds is the most latency bounds history histograms
	// can index (entry indexes are 8 bits: the bounds and +Inf).
	MaxLatencyBounds = 255
)

// hbucket is one stored bucket. Counters saturate at math.MaxUint32. The
// sum's float64 bits are two uint32 halves, so that the struct is 28 B,
// not 32 with a float64's alignment.
type hbucket struct {
	off          uint32 // bucket number − history.base
	count        uint32
	failed       uint32
	n            uint32
	sumLo, sumHi uint32 // math.Float64bits of the summed seconds
	eoff, elen   uint16 // the bucket's histogram: entries[eoff:eoff+elen] of its chunk
}

func (b *hbucket) sum() float64 {
	return math.Float64frombits(uint64(b.sumHi)<<32 | uint64(b.sumLo))
}

func (b *hbucket) addSum(v float64) {
	s := math.Float64bits(b.sum() + v)
	b.sumLo, b.sumHi = uint32(s), uint32(s>>32)
}

// chunk is 233 B, allocated in the 240 B size class.
type chunk struct {
	b    [chunkLen]hbucket
	ents atomic.Pointer[[]uint32] // histogram entries of the chunk's buckets; nil: none
	used uint8                    // slots written; only the writer reads it (views count with n)
}

// chunkBytes and ptrBytes are what a chunk and a chunk pointer cost;
// entHeaderBytes is what the slice header of a chunk's entries costs.
const (
	chunkBytes     = 240
	ptrBytes       = 8
	entHeaderBytes = 24
)

// entBytes is what an entry array of capacity n costs (its header
// included).
func entBytes(n int) int64 {
	if n == 0 {
		return 0
	}
	return entHeaderBytes + 4*int64(n)
}

// entries returns c's entry array (the writer's, or what a reader may
// read up to the buckets it saw).
func (c *chunk) entries() []uint32 {
	if p := c.ents.Load(); p != nil {
		return *p
	}
	return nil
}

// history is an edge's buckets, oldest first; the last one is open.
type history struct {
	base   int64    // bucket number (store clock / width, floored) that offsets count from
	chunks []*chunk // chunks[dead:] hold live buckets
	dead   int      // chunks dropped but still in the array
	head   uint8    // first live slot of chunks[dead]
	n      int      // live buckets
	// alloc is the capacity, in pointers, of the array as allocated, for
	// the memory account: re-slicing lowers cap but frees nothing.
	alloc int
	// ebytes is what the entry arrays of every chunk in the array cost.
	ebytes int64
	// cur is the open bucket (in the last chunk, which never moves) when
	// n > 0.
	cur *hbucket
	// open is the open bucket's histogram, dense (index: the histogram
	// bucket); all zero after a seal. Kept while the edge lives, so it is
	// the edge's memory, not the history's (bytes): dropping buckets
	// cannot free it.
	open []uint32
}

// bytes is what the history holds in memory.
func (h *history) bytes() int64 {
	return int64(len(h.chunks))*chunkBytes + int64(h.alloc)*ptrBytes + h.ebytes
}

func (h *history) lastIdx() int64 { return h.base + int64(h.cur.off) }

// bucket returns the bucket numbered idx for writing: the open bucket if
// idx is not after it (a clock that went back writes to the newest bucket),
// else a new one, the open one sealed.
func (h *history) bucket(idx int64) *hbucket {
	if h.n > 0 {
		if idx <= h.lastIdx() {
			return h.cur
		}
		h.seal()
		if idx-h.base > math.MaxUint32 {
			// Every held bucket is 2^32 buckets old, far past retention.
			h.clear()
		}
	}
	if h.n == 0 {
		h.base = idx
	}
	var eoff uint16
	if len(h.chunks) > 0 {
		c := h.chunks[len(h.chunks)-1]
		if c.used == chunkLen {
			h.fit(c)
		} else if c.used > 0 {
			p := &c.b[c.used-1]
			eoff = p.eoff + p.elen
		}
	}
	if len(h.chunks) == 0 || h.chunks[len(h.chunks)-1].used == chunkLen {
		if len(h.chunks) == cap(h.chunks) {
			h.realloc(2*(len(h.chunks)-h.dead) + 1)
		}
		h.chunks = append(h.chunks, new(chunk))
	}
	c := h.chunks[len(h.chunks)-1]
	b := &c.b[c.used]
	b.off = uint32(idx - h.base)
	b.eoff = eoff
	c.used++
	h.n++
	h.cur = b
	return b
}

// seal writes the open bucket's histogram as entries at the tail of its
// chunk's array and zeroes it.
func (h *history) seal() {
	b := h.cur
	if b.n == 0 {
		clear(h.open)
		return
	}
	c := h.chunks[len(h.chunks)-1]
	es := c.entries()
	end := int(b.eoff)
	for i, v := range h.open {
		for v > 0 {
			if end == len(es) {
				next := slices.Grow([]uint32(nil), max(2*len(es), chunkLen))
				next = next[:cap(next)]
				copy(next, es)
				h.ebytes += entBytes(len(next)) - entBytes(len(es))
				c.ents.Store(&next)
				es = next
			}
			d := min(v, entMax)
			es[end] = uint32(i)<<entShift | d
			end++
			b.elen++
			v -= d
		}
	}
	clear(h.open)
}

// fit copies the entries of c, a full chunk, to an array of their size.
func (h *history) fit(c *chunk) {
	es := c.entries()
	p := &c.b[chunkLen-1]
	n := int(p.eoff) + int(p.elen)
	if n == len(es) {
		return
	}
	var next []uint32
	if n > 0 {
		next = append([]uint32(nil), es[:n]...)
		next = next[:cap(next)]
	}
	h.ebytes += entBytes(len(next)) - entBytes(len(es))
	if next == nil {
		c.ents.Store(nil)
		return
	}
	c.ents.Store(&next)
}

// add records w occurrences in the bucket numbered idx: failed or not,
// with main seconds of the main measure in histogram bucket hi (main < 0:
// none).
func (h *history) add(idx int64, failed bool, main float64, hi int, w uint64) {
	b := h.bucket(idx)
	b.count = sat32(uint64(b.count) + w)
	if failed {
		b.failed = sat32(uint64(b.failed) + w)
	}
	if main >= 0 {
		b.addSum(main * float64(w))
		n := sat32(uint64(b.n) + w)
		if d := n - b.n; d > 0 {
			h.record(hi, d)
		}
		b.n = n
	}
}

// record adds w to histogram bucket i of the open bucket.
func (h *history) record(i int, w uint32) {
	if i >= len(h.open) {
		h.open = slices.Grow(h.open, i+1-len(h.open))[:i+1]
	}
	h.open[i] += w
}

// addEntries adds saved entries es (indexes checked by the caller) to
// the open bucket (n is not changed: the caller adds their total).
func (h *history) addEntries(es []uint32) {
	for _, e := range es {
		h.record(int(e>>entShift), e&entMax)
	}
}

// trim drops the buckets numbered below minIdx and returns how many. With
// compact, or once the dropped chunks are a sixteenth of the array, the
// array is copied so that they can be freed.
func (h *history) trim(minIdx int64, compact bool) int {
	dropped := 0
	for h.n > 0 {
		c := h.chunks[h.dead]
		if h.base+int64(c.b[c.used-1].off) < minIdx && h.dead < len(h.chunks)-1 {
			// The whole (closed) chunk goes.
			dropped += int(c.used - h.head)
			h.n -= int(c.used - h.head)
			h.dead++
			h.head = 0
			continue
		}
		for h.n > 0 && h.head < c.used && h.base+int64(c.b[h.head].off) < minIdx {
			h.head++
			h.n--
			dropped++
		}
		break
	}
	if h.n == 0 {
		h.clear()
		return dropped
	}
	if h.dead > 0 && (compact || h.dead*16 >= len(h.chunks)) {
		live := len(h.chunks) - h.dead
		h.realloc(live + live/4 + 1)
	}
	return dropped
}

// realloc copies the live chunk pointers into a new array of at least
// capacity pointers (rounded up to the allocator's size class, as append
// does), leaving the old array to the snapshots that share it.
func (h *history) realloc(capacity int) {
	for _, c := range h.chunks[:h.dead] {
		h.ebytes -= entBytes(len(c.entries()))
	}
	live := h.chunks[h.dead:]
	next := append(slices.Grow([]*chunk(nil), max(capacity, len(live))), live...)
	h.chunks, h.dead, h.alloc = next, 0, cap(next)
}

// clear drops every bucket, keeping the open histogram's array.
func (h *history) clear() {
	o := h.open
	clear(o)
	*h = history{open: o}
}

// view returns the closed buckets as a History and the open one, its
// histogram (nb counts) taken from arena (nil: allocated).
func (h *history) view(width int64, nb int, arena *[]uint64) (History, Bucket) {
	if h.n == 0 {
		return History{}, Bucket{}
	}
	v := History{base: h.base, width: width, nb: nb, chunks: h.chunks[h.dead:len(h.chunks):len(h.chunks)], head: h.head, n: h.n - 1}
	open := v.counts(h.cur)
	if n := uint64(h.cur.n); n > 0 && nb > 0 {
		var dst []uint64
		if arena == nil {
			dst = make([]uint64, nb)
		} else {
			dst = arenaSlice(arena, nb)
		}
		var total uint64
		for i, c := range h.open {
			if c > 0 && i >= nb {
				total = 0
				break
			}
			if c > 0 {
				dst[i] = uint64(c)
				total += uint64(c)
			}
		}
		if total == n {
			open.Hist = dst
		}
	}
	return v, open
}

// History is the closed buckets of an edge, oldest first: an immutable view
// shared by snapshots. The zero History is empty.
type History struct {
	base, width int64
	nb          int // histogram counts per bucket: the bounds and +Inf
	chunks      []*chunk
	head        uint8
	n           int
}

// Len returns the number of buckets.
func (h History) Len() int { return h.n }

// At returns the i-th oldest bucket, 0 ≤ i < Len().
func (h History) At(i int) Bucket {
	j := int(h.head) + i
	c := h.chunks[j/chunkLen]
	return h.bucket(&c.b[j%chunkLen], c, nil)
}

func (h History) bucket(b *hbucket, c *chunk, arena *[]uint64) Bucket {
	out := h.counts(b)
	if b.n > 0 && b.elen > 0 && h.nb > 0 {
		var dst []uint64
		if arena == nil {
			dst = make([]uint64, h.nb)
		} else {
			dst = arenaSlice(arena, h.nb)
		}
		if addEntries(dst, c.entries()[b.eoff:b.eoff+b.elen]) == uint64(b.n) {
			out.Hist = dst
		}
	}
	return out
}

// addEntries adds entries es to dense counts dst and returns their total;
// an index past dst makes it return 0 (unknown).
func addEntries(dst []uint64, es []uint32) uint64 {
	var total uint64
	for _, e := range es {
		i := int(e >> entShift)
		if i >= len(dst) {
			return 0
		}
		dst[i] += uint64(e & entMax)
		total += uint64(e & entMax)
	}
	return total
}

// arenaSlice returns n zeroed counts taken from arena.
func arenaSlice(arena *[]uint64, n int) []uint64 {
	a := *arena
	if cap(a)-len(a) < n {
		a = make([]uint64, 0, max(n, 1024))
	}
	k := len(a)
	a = a[:k+n]
	clear(a[k:])
	*arena = a
	return a[k : k+n : k+n]
}

// Buckets returns a copy of the buckets.
func (h History) Buckets() []Bucket {
	out := make([]Bucket, h.n)
	for i := range out {
		out[i] = h.At(i)
	}
	return out
}

// IsZero reports whether b is the zero Bucket (an edge without history).
func (b *Bucket) IsZero() bool {
	return b.Start == 0 && b.Count == 0 && b.Failed == 0 && b.Sum == 0 && b.N == 0 && b.Hist == nil
}

// HistKnown reports whether b's histogram is known: it has one, or no
// occurrence has the main measure.
func (b *Bucket) HistKnown() bool { return b.N == 0 || b.Hist != nil }

// add sums o into b: counters, and histograms while both are known and
// of the same length (else b's becomes unknown). b.Hist is written in
// place: the caller owns it.
func (b *Bucket) add(o *Bucket) {
	known := b.HistKnown() && o.HistKnown() && (b.Hist == nil || o.Hist == nil || len(b.Hist) == len(o.Hist))
	b.Count += o.Count
	b.Failed += o.Failed
	b.Sum += o.Sum
	b.N += o.N
	switch {
	case !known:
		b.Hist = nil
	case o.Hist == nil:
	case b.Hist == nil:
		b.Hist = slices.Clone(o.Hist)
	default:
		for i, v := range o.Hist {
			b.Hist[i] += v
		}
	}
}

// WindowHist returns the histogram of the edge's main measure (Bucket.Sum's:
// the latency of sync edges, the delay of async ones) over the history
// buckets that overlap [from, to), the buckets Window sums: counts per
// bound of Snapshot.Bounds plus +Inf. ok is false when one of them has
// no histogram (restored from a state file of format 1, or merged from
// other bounds); counts is nil when no occurrence in the window has the
// measure.
func (e *EdgeData) WindowHist(from, to time.Time, width time.Duration) (counts []uint64, ok bool) {
	f, t, w := from.UnixNano(), to.UnixNano(), int64(width)
	nb := max(e.History.nb, len(e.Open.Hist))
	add := func(n uint64, hist []uint64, es []uint32) bool {
		if n == 0 {
			return true
		}
		if counts == nil {
			if nb == 0 {
				return false
			}
			counts = make([]uint64, nb)
		}
		if hist != nil {
			if len(hist) != nb {
				return false
			}
			for i, v := range hist {
				counts[i] += v
			}
			return true
		}
		return addEntries(counts, es) == n
	}
	if o := &e.Open; o.Start+w > f && o.Start < t {
		if !o.HistKnown() || !add(o.N, o.Hist, nil) {
			return nil, false
		}
	}
	h := &e.History
	for j := int(h.head) + h.n - 1; j >= int(h.head); j-- {
		c := h.chunks[j/chunkLen]
		hb := &c.b[j%chunkLen]
		start := (h.base + int64(hb.off)) * h.width
		if start+w <= f {
			break
		}
		if start < t && hb.n > 0 {
			if hb.elen == 0 || !add(uint64(hb.n), nil, c.entries()[hb.eoff:hb.eoff+hb.elen]) {
				return nil, false
			}
		}
	}
	return counts, true
}

// floorDiv is a/b rounded towards −∞, b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// countNewest adds, for each live chunk, its bytes to what the number of
// its newest bucket frees: the chunk is freed when every bucket below a
// higher number is dropped.
func (h *history) countNewest(newest map[int64]int64) {
	for _, c := range h.chunks[h.dead:] {
		newest[h.base+int64(c.b[c.used-1].off)] += chunkBytes + entBytes(len(c.entries()))
	}
}

// evictFloor returns the smallest bucket number f such that dropping every
// bucket below f frees at least need bytes of chunks, given how many bytes
// of chunks have each newest bucket number; or the largest such number
// plus one if even all of them are not enough.
func evictFloor(newest map[int64]int64, need int64) int64 {
	keys := slices.Sorted(maps.Keys(newest))
	var freed int64
	for _, k := range keys {
		freed += newest[k]
		if freed >= need {
			return k + 1
		}
	}
	if len(keys) == 0 {
		return math.MinInt64
	}
	return keys[len(keys)-1] + 1
}

// chunksOf stores buckets bs (sorted by start, aligned to width, numbered
// from base) in chunks, their histograms (of nb counts) as entries.
// Counters saturate at math.MaxUint32 as a store's do.
func chunksOf(bs []Bucket, base, width int64, nb int) []*chunk {
	chunks := make([]*chunk, 0, (len(bs)+chunkLen-1)/chunkLen)
	var es []uint32
	for i := range bs {
		b := &bs[i]
		if i%chunkLen == 0 {
			if len(chunks) > 0 && len(es) > 0 {
				es := es
				chunks[len(chunks)-1].ents.Store(&es)
			}
			chunks = append(chunks, new(chunk))
			es = nil
		}
		c := chunks[len(chunks)-1]
		hb := &c.b[c.used]
		*hb = hbucket{off: uint32(floorDiv(b.Start, width) - base), count: sat32(b.Count), failed: sat32(b.Failed),
			n: sat32(b.N), eoff: uint16(len(es))}
		hb.addSum(b.Sum)
		if b.N > 0 && b.N <= math.MaxUint32 && histTotal(b.Hist, nb) == b.N {
			for j, v := range b.Hist {
				for v > 0 {
					d := min(v, entMax)
					es = append(es, uint32(j)<<entShift|uint32(d))
					v -= d
				}
			}
			hb.elen = uint16(len(es)) - hb.eoff
		}
		c.used++
	}
	if len(chunks) > 0 && len(es) > 0 {
		chunks[len(chunks)-1].ents.Store(&es)
	}
	return chunks
}

// counts is b as a Bucket without its histogram.
func (h *History) counts(b *hbucket) Bucket {
	return Bucket{Start: (h.base + int64(b.off)) * h.width, Count: uint64(b.count), Failed: uint64(b.failed), Sum: b.sum(), N: uint64(b.n)}
}

// ofBounds is b with its histogram left out (unknown) unless it has nb
// counts.
func ofBounds(b Bucket, nb int) Bucket {
	if b.Hist != nil && len(b.Hist) != nb {
		b.Hist = nil
	}
	return b
}

// appendEntries appends dense counts as entries to dst and returns it
// with how many it appended.
func appendEntries(dst []uint32, counts []uint64) ([]uint32, uint32) {
	n := len(dst)
	for i, v := range counts {
		for v > 0 {
			d := min(v, entMax)
			dst = append(dst, uint32(i)<<entShift|uint32(d))
			v -= d
		}
	}
	return dst, uint32(len(dst) - n)
}

// takeEntries returns the next n entries of es from *off on, moving *off
// past them; none (nil) when es holds fewer (a damaged file: what follows
// is left without histograms).
func takeEntries(es []uint32, off *int, n uint32) []uint32 {
	if n == 0 || *off < 0 || uint64(*off)+uint64(n) > uint64(len(es)) {
		if n > 0 {
			*off = -1
		}
		return nil
	}
	out := es[*off : *off+int(n)]
	*off += int(n)
	return out
}

// entriesTotal is the sum of entries' counts, or math.MaxUint64 when an
// index is not below nb.
func entriesTotal(es []uint32, nb int) uint64 {
	var t uint64
	for _, e := range es {
		if int(e>>entShift) >= nb {
			return math.MaxUint64
		}
		t += uint64(e & entMax)
	}
	return t
}

// denseHist is entries es as a bucket's histogram of nb counts: nil
// (unknown) unless their indexes are below nb and their counts add up to
// n.
func denseHist(es []uint32, nb int, n uint64) []uint64 {
	if n == 0 || entriesTotal(es, nb) != n {
		return nil
	}
	out := make([]uint64, nb)
	addEntries(out, es)
	return out
}

// histTotal is the sum of counts, or math.MaxUint64 when counts is not nb
// long (nil: 0 counts of a bucket without the main measure).
func histTotal(counts []uint64, nb int) uint64 {
	if counts == nil {
		return 0
	}
	if len(counts) != nb {
		return math.MaxUint64
	}
	var t uint64
	for _, c := range counts {
		if t+c < t {
			return math.MaxUint64
		}
		t += c
	}
	return t
}

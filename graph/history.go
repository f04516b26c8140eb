package graph

import (
	"maps"
	"math"
	"slices"
)

// History storage. An edge's buckets live in fixed chunks of chunkLen
// buckets (208 B, a malloc size class, so nothing is lost to rounding),
// reached through an array of chunk pointers. A bucket holds its number as
// an offset from the edge's base and 32-bit counters (24 B instead of
// 40 B). Only non-empty buckets are stored, so a rarely used edge costs one
// chunk. Chunks are never written below the slot a snapshot saw, so
// snapshots share them; the pointer array is never written in place below
// its length: dropping chunks re-slices it, and a copy releases the dropped
// prefix once it is a sixteenth of the array.

const chunkLen = 8

// hbucket is one stored bucket. Counters saturate at math.MaxUint32.
type hbucket struct {
	off           uint32 // bucket number − history.base
	count, failed uint32
	n             uint32
	sum           float64
}

// chunk is 200 B, allocated in the 208 B size class.
type chunk struct {
	b    [chunkLen]hbucket
	used uint8 // slots written; only the writer reads it (views count with n)
}

// chunkBytes and ptrBytes are what a chunk and a chunk pointer cost.
const (
	chunkBytes = 208
	ptrBytes   = 8
)

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
}

// bytes is what the history holds in memory.
func (h *history) bytes() int64 {
	return int64(len(h.chunks))*chunkBytes + int64(h.alloc)*ptrBytes
}

func (h *history) last() *hbucket {
	c := h.chunks[len(h.chunks)-1]
	return &c.b[c.used-1]
}

func (h *history) lastIdx() int64 { return h.base + int64(h.last().off) }

// bucket returns the bucket numbered idx for writing: the open bucket if
// idx is not after it (a clock that went back writes to the newest bucket),
// else a new one.
func (h *history) bucket(idx int64) *hbucket {
	if h.n > 0 {
		if idx <= h.lastIdx() {
			return h.last()
		}
		if idx-h.base > math.MaxUint32 {
			// Every held bucket is 2^32 buckets old, far past retention.
			h.clear()
		}
	}
	if h.n == 0 {
		h.base = idx
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
	c.used++
	h.n++
	return b
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
	live := h.chunks[h.dead:]
	next := append(slices.Grow([]*chunk(nil), max(capacity, len(live))), live...)
	h.chunks, h.dead, h.alloc = next, 0, cap(next)
}

func (h *history) clear() { *h = history{} }

// add records one occurrence in the bucket numbered idx.
func (b *hbucket) add(failed bool, main float64) {
	if b.count < math.MaxUint32 {
		b.count++
	}
	if failed && b.failed < math.MaxUint32 {
		b.failed++
	}
	if main >= 0 {
		b.sum += main
		if b.n < math.MaxUint32 {
			b.n++
		}
	}
}

// view returns the closed buckets as a History and the open one.
func (h *history) view(width int64) (History, Bucket) {
	if h.n == 0 {
		return History{}, Bucket{}
	}
	open := h.last()
	v := History{base: h.base, width: width, chunks: h.chunks[h.dead:len(h.chunks):len(h.chunks)], head: h.head, n: h.n - 1}
	return v, v.bucket(open)
}

// History is the closed buckets of an edge, oldest first: an immutable view
// shared by snapshots. The zero History is empty.
type History struct {
	base, width int64
	chunks      []*chunk
	head        uint8
	n           int
}

// Len returns the number of buckets.
func (h History) Len() int { return h.n }

// At returns the i-th oldest bucket, 0 ≤ i < Len().
func (h History) At(i int) Bucket {
	j := int(h.head) + i
	return h.bucket(&h.chunks[j/chunkLen].b[j%chunkLen])
}

func (h History) bucket(b *hbucket) Bucket {
	return Bucket{Start: (h.base + int64(b.off)) * h.width, Count: uint64(b.count), Failed: uint64(b.failed), Sum: b.sum, N: uint64(b.n)}
}

// Buckets returns a copy of the buckets.
func (h History) Buckets() []Bucket {
	out := make([]Bucket, h.n)
	for i := range out {
		out[i] = h.At(i)
	}
	return out
}

// floorDiv is a/b rounded towards −∞, b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// countNewest adds, for each live chunk, one to the count of the number
// of its newest bucket: the chunk is freed when every bucket below a
// higher number is dropped.
func (h *history) countNewest(newest map[int64]int64) {
	for _, c := range h.chunks[h.dead:] {
		newest[h.base+int64(c.b[c.used-1].off)]++
	}
}

// evictFloor returns the smallest bucket number f such that dropping every
// bucket below f frees at least need bytes of chunks, given how many chunks
// have each newest bucket number; or the largest such number plus one if
// even all of them are not enough.
func evictFloor(newest map[int64]int64, need int64) int64 {
	keys := slices.Sorted(maps.Keys(newest))
	var freed int64
	for _, k := range keys {
		freed += newest[k] * chunkBytes
		if freed >= need {
			return k + 1
		}
	}
	if len(keys) == 0 {
		return math.MinInt64
	}
	return keys[len(keys)-1] + 1
}

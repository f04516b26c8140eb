package pairing

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/internal/cputime"
)

// BenchmarkIndexMemory fills a span index of 1M entries (one shard, as a
// shard at the default per-shard size holds) and reports the memory it
// holds per indexed span, measured by the heap, and the cost per insert.
func BenchmarkIndexMemory(b *testing.B) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]spanKey, n)
	for i := range keys {
		for j := range keys[i].Trace {
			keys[i].Trace[j] = byte(r.Uint32())
		}
		for j := range keys[i].Span {
			keys[i].Span[j] = byte(r.Uint32())
		}
	}
	b.ReportAllocs()
	var perSpan float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		x := newIndex(n, newHasher(), false)
		for i := range keys {
			x.insert(entry{key: keys[i], meta: meta(i)})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSpan = float64(after.HeapAlloc-before.HeapAlloc) / n
		if x.len() != n || x.bytes() > 48*n {
			b.Fatalf("len %d, %d bytes", x.len(), x.bytes())
		}
		runtime.KeepAlive(x)
	}
	b.ReportMetric(perSpan, "B/indexed-span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/insert")
}

// indexRequests feeds span indexes (one per shard) requests of 420 spans
// from 20 traces of 21 spans each (the bench workload's shape), each
// span's parent the one before it in its trace, as a request's visit of
// each shard uses the index: prepare, then each span's insert and its
// parent's lookup, newest first.
type indexRequests struct {
	h      hasher
	idx    []*index
	spans  []span
	order  []int32
	starts []int32
	n      uint64 // traces so far
}

const (
	benchShards   = 16
	benchPerTrace = 21
	benchPerReq   = 20 * benchPerTrace
)

func newIndexRequests(h hasher, idx []*index) *indexRequests {
	return &indexRequests{h: h, idx: idx, spans: make([]span, benchPerReq), order: make([]int32, benchPerReq),
		starts: make([]int32, len(idx)+1)}
}

// request adds one request's spans.
func (r *indexRequests) request() {
	shards := uint64(len(r.idx))
	spans, order, starts := r.spans, r.order, r.starts
	clear(starts)
	for t := 0; t < len(spans); t += benchPerTrace {
		r.n++
		var tr [16]byte
		binary.LittleEndian.PutUint64(tr[:], r.n) // the hash spreads sequential ids
		th := r.h.trace(&tr)
		for k := range benchPerTrace {
			s := &spans[t+k]
			*s = span{key: spanKey{Trace: tr}, th: th}
			binary.LittleEndian.PutUint64(s.key.Span[:], uint64(k+1))
			if k > 0 {
				s.parent = spans[t+k-1].key.Span
			}
			starts[(th>>32)*shards>>32+1]++
		}
	}
	for si := range shards { // group by shard, as batch.group does
		starts[si+1] += starts[si]
	}
	next := append([]int32(nil), starts[:shards]...)
	for i := range spans {
		si := (spans[i].th >> 32) * shards >> 32
		order[next[si]] = int32(i)
		next[si]++
	}
	for si, x := range r.idx {
		group := order[starts[si]:starts[si+1]]
		x.prepare(spans, group)
		for k := len(group) - 1; k >= 0; k-- {
			s := &spans[group[k]]
			x.insertHashed(entry{key: s.key}, r.h.key(s.th, &s.key.Span))
			if s.parent != [8]byte{} {
				pk := spanKey{Trace: s.key.Trace, Span: s.parent}
				x.findHashed(&pk, r.h.key(s.th, &s.parent))
			}
		}
	}
}

// BenchmarkIndexSteady measures the span index alone in steady state: 16
// shards holding 500k spans in all, full before timing so that every
// insert evicts, fed indexRequests.
func BenchmarkIndexSteady(b *testing.B) {
	const capacity = 500_000
	h := newHasher()
	idx := make([]*index, benchShards)
	for i := range idx {
		idx[i] = newIndex(capacity/benchShards, h, false)
	}
	r := newIndexRequests(h, idx)
	for range 2 * capacity / benchPerReq { // full, and round once more
		r.request()
	}
	b.ResetTimer()
	cpu0 := cputime.Process()
	for b.Loop() {
		r.request()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPerReq), "ns/span")
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N*benchPerReq), "cpu-ns/span")
}

// BenchmarkIndexFresh measures the span index alone as a fresh processor
// uses it (BenchmarkConsumeRecord's): each op fills 16 new shards of 128 Ki
// spans each (the benchmark's --max-index-spans of 2 Mi) with 1M spans of
// indexRequests, so that each table grows from its first size and nothing
// is evicted.
func BenchmarkIndexFresh(b *testing.B) {
	const (
		capacity = 2 << 20
		spans    = 1_000_020 // 2,381 requests
	)
	h := newHasher()
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		idx := make([]*index, benchShards)
		for i := range idx {
			idx[i] = newIndex(capacity/benchShards, h, false)
		}
		r := newIndexRequests(h, idx)
		cpu0 := cputime.Process()
		for range spans / benchPerReq {
			r.request()
		}
		cpu += cputime.Process() - cpu0
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*spans), "cpu-ns/span")
}

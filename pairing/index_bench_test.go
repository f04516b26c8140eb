package pairing

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"

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

// BenchmarkIndexSteady measures the span index alone in steady state, as
// a request's visit of each shard uses it (prepare, then each span's
// insert and its parent's lookup, newest first): 16 shards holding 500k
// spans in all, full before timing so that every insert evicts, fed
// requests of 420 spans from 20 traces of 21 spans each (the bench
// workload's shape), each span's parent the one before it in its trace.
func BenchmarkIndexSteady(b *testing.B) {
	const (
		shards   = 16
		capacity = 500_000
		perTrace = 21
		perReq   = 20 * perTrace
	)
	h := newHasher()
	idx := make([]*index, shards)
	for i := range idx {
		idx[i] = newIndex(capacity/shards, h, false)
	}
	spans := make([]span, perReq)
	order := make([]int32, perReq)
	starts := make([]int32, shards+1)
	n := uint64(0)
	request := func() {
		clear(starts)
		for t := 0; t < perReq; t += perTrace {
			n++
			var tr [16]byte
			binary.LittleEndian.PutUint64(tr[:], n) // the hash spreads sequential ids
			th := h.trace(&tr)
			for k := range perTrace {
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
		for si, x := range idx {
			group := order[starts[si]:starts[si+1]]
			x.prepare(spans, group)
			for k := len(group) - 1; k >= 0; k-- {
				s := &spans[group[k]]
				x.insertHashed(entry{key: s.key}, h.key(s.th, &s.key.Span))
				if s.parent != [8]byte{} {
					pk := spanKey{Trace: s.key.Trace, Span: s.parent}
					x.findHashed(&pk, h.key(s.th, &s.parent))
				}
			}
		}
	}
	for range 2 * capacity / perReq { // full, and round once more
		request()
	}
	b.ResetTimer()
	cpu0 := cputime.Process()
	for b.Loop() {
		request()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perReq), "ns/span")
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N*perReq), "cpu-ns/span")
}

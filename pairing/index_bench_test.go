package pairing

import (
	"math/rand/v2"
	"runtime"
	"testing"
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

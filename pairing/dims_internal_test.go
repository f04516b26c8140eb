package pairing

import (
	"encoding/binary"
	"runtime"
	"testing"
	"unsafe"

	"github.com/servicegraph/servicegraph/graph"
)

// TestDimsCostNoMemory pins that the dimension tuples pairing carries fit
// in padding: a span, a waiting child and a waiting link are as large as
// before dimensions existed (104, 64 and 104 bytes on 64-bit platforms),
// and a link's uint16 holds every tuple id.
func TestDimsCostNoMemory(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are those of 64-bit platforms")
	}
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{{"span", unsafe.Sizeof(span{}), 104}, {"child", unsafe.Sizeof(child{}), 64}, {"waitingLink", unsafe.Sizeof(waitingLink{}), 104}} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
	if graph.MaxDimensionTuples-1 > 1<<16-1 {
		t.Errorf("tuple ids up to %d do not fit waitingLink.dims (uint16)", graph.MaxDimensionTuples-1)
	}
}

// BenchmarkDimIndexMemory measures the heap a shard's dimIndex holds per
// indexed span with dimension values (its ring place and map entry), at
// 1,000,000 spans.
func BenchmarkDimIndexMemory(b *testing.B) {
	for range b.N {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		const n = 1_000_000
		d := newDimIndex(n)
		for i := range n {
			var k spanKey
			binary.LittleEndian.PutUint64(k.Trace[:], uint64(i)*0x9E3779B97F4A7C15)
			binary.LittleEndian.PutUint64(k.Span[:], uint64(i))
			d.put(k, uint32(i%7+2))
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		runtime.KeepAlive(d)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "B/span")
	}
}

package pairing

import (
	"encoding/binary"
	"runtime"
	"testing"
	"unsafe"

	"github.com/servicegraph/servicegraph/graph"
)

// TestDimsCostNoMemory pins that the dimension tuples pairing carries fit
// in padding: without them a span, a waiting child and a waiting link
// would be as large (each tuple fills bytes its neighbours' alignment
// leaves empty), and a link's uint16 holds every tuple id.
func TestDimsCostNoMemory(t *testing.T) {
	roundUp := func(n, to uintptr) uintptr { return (n + to - 1) / to * to }
	var s span
	var c child
	var l waitingLink
	for _, x := range []struct {
		name      string
		got, want uintptr // where the field after the tuple starts, with the tuple and without it
	}{
		// weight (4 bytes, 8-aligned) then dims, then the 8-aligned start.
		{"span", unsafe.Offsetof(s.start), roundUp(unsafe.Offsetof(s.weight)+4, 8)},
		// dims last: the struct's size is that without it.
		{"child", unsafe.Sizeof(c), roundUp(unsafe.Offsetof(c.done)+1, unsafe.Alignof(c))},
		// toParent, dims (2 bytes), then the 4-aligned weight.
		{"waitingLink", unsafe.Offsetof(l.weight), roundUp(unsafe.Offsetof(l.toParent)+1, 4)},
	} {
		if x.got != x.want {
			t.Errorf("%s: the tuple costs %d bytes", x.name, x.got-x.want)
		}
	}
	if unsafe.Offsetof(s.dims) != unsafe.Offsetof(s.weight)+4 || unsafe.Offsetof(c.dims) <= unsafe.Offsetof(c.done) ||
		unsafe.Offsetof(l.dims) <= unsafe.Offsetof(l.toParent) || unsafe.Offsetof(l.dims) >= unsafe.Offsetof(l.weight) {
		t.Error("a tuple moved: the layout above no longer describes it")
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

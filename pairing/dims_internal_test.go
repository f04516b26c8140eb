package pairing

import (
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

package graph

import (
	"testing"
	"unsafe"
)

// The memory account's chunk size is the chunk's size class: a chunk
// (8 buckets of 28 B, the entries pointer, the slot count) fits it, and
// the next class down (224 B) would not.
func TestChunkSize(t *testing.T) {
	if s := unsafe.Sizeof(hbucket{}); s != 28 {
		t.Errorf("hbucket is %d B, want 28", s)
	}
	if s := unsafe.Sizeof(chunk{}); s > chunkBytes || s <= 224 {
		t.Errorf("chunk is %d B, want in (224, %d]", s, chunkBytes)
	}
}

// A damaged file's entry counts never read past the entries: the bucket
// that overruns and every later one get none (unknown histograms).
func TestTakeEntries(t *testing.T) {
	es := []uint32{1<<entShift | 5, 2<<entShift | 1, 7}
	off := 0
	if got := takeEntries(es, &off, 2); len(got) != 2 || off != 2 {
		t.Fatalf("%v, off %d", got, off)
	}
	if got := takeEntries(es, &off, 2); got != nil || off != -1 {
		t.Fatalf("overrun: %v, off %d", got, off)
	}
	if got := takeEntries(es, &off, 1); got != nil {
		t.Fatalf("after an overrun: %v", got)
	}
	if h := denseHist(es[:2], 3, 6); len(h) != 3 || h[1] != 5 || h[2] != 1 {
		t.Fatalf("denseHist %v", h)
	}
	if h := denseHist(es[:2], 2, 6); h != nil {
		t.Fatalf("index past the bounds: %v", h)
	}
	if h := denseHist(es[:2], 3, 7); h != nil {
		t.Fatalf("total short of n: %v", h)
	}
}

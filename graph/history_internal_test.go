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

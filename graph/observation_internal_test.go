package graph

import (
	"testing"
	"unsafe"
)

// Pairing writes an Observation per edge occurrence and Observe reads it:
// its fields are ordered to pack in 80 B (88 B in declaration order of
// meaning).
func TestObservationSize(t *testing.T) {
	if s := unsafe.Sizeof(Observation{}); s != 80 {
		t.Errorf("Observation is %d B, want 80", s)
	}
}

package workload

import (
	"reflect"
	"testing"
)

// Times counts every edge n times over, and leaves the truth it was
// called on as it was.
func TestTruthTimes(t *testing.T) {
	tr := &Truth{Spans: 10, Requests: 2, Edges: []Edge{
		{Source: "a", Target: "b", Kind: "call", Count: 3, Failed: 1},
		{Source: "b", Target: "c", Kind: "link", Count: 5},
	}}
	got := tr.Times(2)
	want := &Truth{Spans: 20, Requests: 4, Edges: []Edge{
		{Source: "a", Target: "b", Kind: "call", Count: 6, Failed: 2},
		{Source: "b", Target: "c", Kind: "link", Count: 10},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Times(2) = %+v, want %+v", got, want)
	}
	if tr.Edges[0].Count != 3 || tr.Spans != 10 {
		t.Errorf("the original changed: %+v", tr)
	}
}

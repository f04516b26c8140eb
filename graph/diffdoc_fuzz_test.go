package graph_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/servicegraph/servicegraph/graph"
)

// FuzzReadDocument: any input is read or refused, never a panic; what is
// read writes and reads back the same, and diffs against itself as all
// same.
func FuzzReadDocument(f *testing.F) {
	v1, err := os.ReadFile("testdata/snapshot-v1.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	f.Add([]byte(`{"format":"servicegraph-snapshot","version":1}`))
	f.Add([]byte(`{"resourceSpans":[]}`))
	f.Add([]byte(`{"format":"servicegraph-snapshot","version":1,"from":"2026-01-01T00:00:00Z","to":"2026-01-01T00:00:01Z",` +
		`"latency_bounds_seconds":[1],"nodes":[{"name":"a","kind":"service","requests":1,"failed":0}],` +
		`"edges":[{"client":"a","server":"a","kind":"span_link","requests":1,"failed":1,"histogram":{"counts":[0,1],"sum":2,"count":1}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := graph.ReadDocument(bytes.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := d.WriteJSON(&b); err != nil {
			t.Fatalf("write a document read: %v", err)
		}
		again, err := graph.ReadDocument(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("read back: %v\n%s", err, b.Bytes())
		}
		var b2 bytes.Buffer
		if err := again.WriteJSON(&b2); err != nil || !bytes.Equal(b.Bytes(), b2.Bytes()) {
			t.Fatalf("not stable: %v\n%s\n%s", err, b.Bytes(), b2.Bytes())
		}
		diff, err := graph.Compare(d.Sample, again.Sample, graph.DefaultThresholds)
		if err != nil {
			t.Fatal(err)
		}
		if nc, ec := diff.Counts(); nc[graph.Same] != len(diff.Nodes) || ec[graph.Same] != len(diff.Edges) {
			t.Fatalf("self diff not all same: %v %v", nc, ec)
		}
	})
}

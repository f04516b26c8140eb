package graph_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// TestDocumentRoundTrip: a window written as a snapshot document reads
// back as the same sample, and diffs the same.
func TestDocumentRoundTrip(t *testing.T) {
	s, t0 := diffStore(t)
	snap := s.Snapshot()
	q := graph.Query{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute), Depth: 1, Kinds: graph.AllKinds, Service: "a"}
	v, err := snap.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	doc := &graph.Document{Taken: t0.Add(2 * time.Minute), Filters: graph.FiltersOf(q), Sample: graph.NewSample(snap, v)}
	var b bytes.Buffer
	if err := doc.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	first := b.String()
	got, err := graph.ReadDocument(&b)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := got.WriteJSON(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != first {
		t.Fatalf("read back and written again:\n%s\nfirst:\n%s", again.String(), first)
	}
	// The diff of the document against itself: all same, exact rates.
	d, err := graph.Compare(got.Sample, doc.Sample, graph.DefaultThresholds)
	if err != nil {
		t.Fatal(err)
	}
	if nc, ec := d.Counts(); nc != [4]int{5, 0, 0, 0} || ec != [4]int{4, 0, 0, 0} {
		t.Errorf("self diff: nodes %v edges %v", nc, ec)
	}
	if !reflect.DeepEqual(got.Edges[2].Hist, doc.Edges[2].Hist) || got.Edges[1].Rate != doc.Edges[1].Rate {
		t.Errorf("edges differ: %+v %+v", got.Edges[2], doc.Edges[2])
	}
}

// TestDocumentV1 reads the checked-in version 1 document: every reader
// must keep reading it.
func TestDocumentV1(t *testing.T) {
	f, err := os.Open("testdata/snapshot-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := graph.ReadDocument(f)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)
	if !d.From.Equal(from) || !d.To.Equal(from.Add(time.Minute)) || !d.Taken.Equal(from.Add(time.Minute)) {
		t.Errorf("window %s..%s taken %s", d.From, d.To, d.Taken)
	}
	if d.Filters != (graph.Filters{Service: "a", Depth: 1, Kinds: graph.AllKinds}) {
		t.Errorf("filters %+v", d.Filters)
	}
	if len(d.Nodes) != 5 || len(d.Edges) != 4 || d.Nodes[0].Name != "a" || d.Nodes[0].Rate != 55.0/60 {
		t.Fatalf("nodes %+v edges %d", d.Nodes, len(d.Edges))
	}
	e := d.Edges[2] // a→e messaging, with its histogram
	if e.Kind != graph.Messaging || e.Count != 10 || e.Hist == nil || e.Hist.Counts[1] != 10 || e.MeanSeconds != 0.125 {
		t.Errorf("a→e: %+v hist %+v", e, e.Hist)
	}
}

func TestReadDocumentErrors(t *testing.T) {
	head := `{"format":"servicegraph-snapshot","version":1,"taken":"2026-03-01T12:02:00Z","from":"2026-03-01T12:01:00Z","to":"2026-03-01T12:02:00Z",` +
		`"filters":{"service":"","depth":2,"direction":"both","cycles":false,"kinds":["call"]},"latency_bounds_seconds":[0.1,0.2],`
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", `{"format":`, "not JSON: unexpected end of JSON input"},
		{"traces", `{"resourceSpans":[]}`, `not a servicegraph snapshot: want "format": "servicegraph-snapshot"`},
		{"newer", `{"format":"servicegraph-snapshot","version":2}`, "snapshot version 2 is newer than this servicegraph reads (up to 1): upgrade servicegraph"},
		{"no version", `{"format":"servicegraph-snapshot"}`, "snapshot version 0: want 1 to 1"},
		{"unknown field", head + `"nodes":[],"edges":[],"colour":"red"}`, `snapshot version 1: json: unknown field "colour"`},
		{"problems", head + `"nodes":[{"name":"a","kind":"robot","requests":1,"failed":2}],` +
			`"edges":[{"client":"a","server":"b","kind":"rpc","requests":1,"failed":0,"mean_seconds":-1,"first_seen":"2026-03-01T12:01:00Z","last_seen":"2026-03-01T12:01:00Z","histogram":{"counts":[1],"sum":0,"count":1}}]}`,
			"snapshot version 1: nodes[0].kind: unknown node kind \"robot\" (want service, database, topic or virtual)\n" +
				"nodes[0]: failed (2) above requests (1)\n" +
				"edges[0].kind: unknown kind \"rpc\" (want one of call, messaging_system, span_link, database, virtual_node)\n" +
				"edges[0]: \"a\" → \"b\" names a node the document does not list\n" +
				"edges[0].mean_seconds must not be negative, got -1\n" +
				"edges[0].histogram: 1 counts, want 3 (one per bound, then +Inf)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := graph.ReadDocument(strings.NewReader(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if tc.name == "traces" && !errors.Is(err, graph.ErrNotDocument) {
				t.Error("not ErrNotDocument")
			}
		})
	}
}

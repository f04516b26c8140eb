package graph_test

import (
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// History past retention is dropped; the edge's totals and first-seen time
// stay.
func TestHistoryRetention(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := graph.NewDefaultConfig()
	cfg.BucketWidth, cfg.Retention = time.Minute, time.Hour
	s := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	a, b := s.Node("a", graph.ServiceNode), s.Node("b", graph.ServiceNode)
	first := now
	for range 3 { // three buckets, a minute apart
		s.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.SpanLink, Seconds: [2]float64{1, -1}}}, nil)
		now = now.Add(time.Minute)
	}
	if st := s.Stats(); st.HistoryBuckets != 3 {
		t.Fatalf("history buckets = %d, want 3", st.HistoryBuckets)
	}
	now = first.Add(61 * time.Minute) // the first bucket is now past retention
	snap := s.Snapshot()
	e := snap.Edges[0]
	if got := e.Window(first, first.Add(time.Minute), cfg.BucketWidth).Count; got != 0 {
		t.Fatalf("bucket past retention still counted: %d", got)
	}
	if got := e.Window(first, now, cfg.BucketWidth).Count; got != 2 {
		t.Fatalf("window count = %d, want the 2 buckets within retention", got)
	}
	if e.Count != 3 || !e.FirstSeen.Equal(first) {
		t.Fatalf("totals changed: count %d, first seen %s", e.Count, e.FirstSeen)
	}
	if st := s.Stats(); st.HistoryBuckets != 2 {
		t.Fatalf("history buckets = %d after trimming, want 2", st.HistoryBuckets)
	}
	now = first.Add(3 * time.Hour)
	if v, err := s.Snapshot().Query(graph.NewQuery(now)); err != nil || len(v.Edges) != 0 {
		t.Fatalf("query over the last hour = %+v, %v; want no edges", v, err)
	}
}

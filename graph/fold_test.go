package graph_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// A graph saved with 100 services restored under max_nodes = 10 sums the
// edges whose names fold into __overflow__: no occurrence, failure,
// histogram sample or history bucket is lost, first-seen is the earliest
// and last-seen the latest, and what was folded is counted.
func TestRestoreFoldsIntoOverflow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	user, db := s.User(), s.Node("db", graph.DatabaseNode)
	const services = 100
	for i := range services {
		now = t0.Add(time.Duration(i) * time.Minute)
		svc := s.Node(fmt.Sprintf("svc-%03d", i), graph.ServiceNode)
		var obs []graph.Observation
		for j := range i + 1 { // svc-i gets i+1 calls from user, one failed every 4th service
			obs = append(obs, graph.Observation{Client: user, Server: svc, Kind: graph.Virtual, Failed: i%4 == 0 && j == 0, Seconds: [2]float64{0.15, -1}})
		}
		obs = append(obs, graph.Observation{Client: svc, Server: db, Kind: graph.Database, Seconds: [2]float64{-1, 0.3}})
		s.Observe(obs, []graph.LinkTally{{Service: svc, Result: graph.LinkUnresolved, N: 1}})
	}
	var buf bytes.Buffer
	if err := s.WriteState(&buf); err != nil {
		t.Fatal(err)
	}

	cfg := graph.NewDefaultConfig()
	cfg.MaxNodes = 10 // user, db, 7 services, __overflow__
	r := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	if err := r.ReadState(&buf); err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	if len(snap.Nodes) != 10 {
		t.Fatalf("%d nodes, want 10", len(snap.Nodes))
	}
	var total, failed uint64
	var over []graph.Edge
	for _, e := range snap.Edges {
		total += e.Count
		failed += e.Failed
		if e.Client == graph.OverflowNode || e.Server == graph.OverflowNode {
			over = append(over, e)
		}
	}
	// Saved: sum over i of (i+1) user calls, 100 database calls; 25 failures.
	if want := uint64(services*(services+1)/2 + services); total != want || failed != 25 {
		t.Fatalf("restored %d occurrences, %d failed; want %d, 25", total, failed, want)
	}
	if len(over) != 2 {
		t.Fatalf("overflow edges: %+v", over)
	}
	// The services past the cap are svc-007..svc-099: 93 of them.
	byKind := map[graph.Kind]graph.Edge{over[0].Kind: over[0], over[1].Kind: over[1]}
	calls := byKind[graph.Virtual]
	wantCalls := uint64(0)
	for i := 7; i < services; i++ {
		wantCalls += uint64(i + 1)
	}
	if calls.Client != graph.UserNode || calls.Count != wantCalls || calls.Failed != 23 {
		t.Fatalf("user → __overflow__: %d calls, %d failed; want %d, 23", calls.Count, calls.Failed, wantCalls)
	}
	if calls.Hist[0].Count != wantCalls || calls.Hist[0].Counts[1] != wantCalls || !near(calls.Hist[0].Sum, 0.15*float64(wantCalls)) {
		t.Fatalf("user → __overflow__ histogram %+v", calls.Hist[0])
	}
	if !calls.FirstSeen.Equal(t0.Add(7*time.Minute)) || !calls.LastSeen.Equal(t0.Add(99*time.Minute)) {
		t.Fatalf("first/last seen %s %s", calls.FirstSeen, calls.LastSeen)
	}
	if got := calls.History.Len() + 1; got != 93 {
		t.Fatalf("history: %d buckets, want 93 (one a minute)", got)
	}
	if w := calls.Window(t0, now.Add(time.Minute), cfg.BucketWidth); w.Count != wantCalls || w.Failed != 23 {
		t.Fatalf("window %+v, want %d calls, 23 failed", w, wantCalls)
	}
	dbEdge := byKind[graph.Database]
	if dbEdge.Client != graph.OverflowNode || dbEdge.Count != 93 || dbEdge.Hist[1].Count != 93 {
		t.Fatalf("__overflow__ → db: %+v", dbEdge)
	}
	if o, _ := snap.Node(graph.OverflowNode); o.Links[graph.LinkUnresolved] != 93 {
		t.Fatalf("__overflow__ link tallies %v, want 93 unresolved", o.Links)
	}
	// 93 names folded; 92 user edges and 92 database edges summed into the first of each.
	if st := r.Stats(); st.NodesOverflowed != 93 || st.EdgesFolded != 184 || st.Edges != 16 || st.EdgesDropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Saved again and restored under the same cap, nothing changes.
	buf.Reset()
	if err := r.WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	r2 := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	if err := r2.ReadState(&buf); err != nil {
		t.Fatal(err)
	}
	if got, want := edgeList(r2.Snapshot()), edgeList(snap); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second restore:\n%q\nwant\n%q", got, want)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

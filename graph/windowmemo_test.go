package graph_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// wantCounts is each edge's count in [from, to), summed from its buckets.
func wantCounts(snap *graph.Snapshot, from, to time.Time) map[string]uint64 {
	out := map[string]uint64{}
	for i := range snap.Edges {
		e := &snap.Edges[i]
		var n uint64
		bs := append(e.History.Buckets(), e.Open)
		for _, b := range bs {
			if b.Count > 0 && b.Start+int64(snap.BucketWidth) > from.UnixNano() && b.Start < to.UnixNano() {
				n += b.Count
			}
		}
		if n > 0 {
			out[e.Client+">"+e.Server] = n
		}
	}
	return out
}

// Queries re-use each unchanged edge's window sum across snapshots of one
// topology and windows of the same buckets: every answer is the sum of the
// buckets, as an edge changes, the window moves, queries of two windows
// alternate and run at once, and View.Source names each view edge's place.
func TestQueryWindowMemo(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, &now)
	var obs []graph.Observation
	for i := range 30 {
		obs = append(obs, graph.Observation{Client: s.Node(fmt.Sprintf("c%d", i%6), graph.ServiceNode),
			Server: s.Node(fmt.Sprintf("s%d", i%5), graph.ServiceNode), Kind: graph.Call})
	}
	for range 3 {
		s.Observe(obs, nil)
		now = now.Add(time.Minute)
	}
	check := func(step string, from, to time.Time) {
		t.Helper()
		snap := s.Snapshot()
		v, err := snap.Query(graph.Query{From: from, To: to, Kinds: graph.AllKinds})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for i, e := range v.Edges {
			got[e.Client+">"+e.Server] = e.Count
			pos, data, ok := v.Source(i)
			if se := snap.Edges[pos]; !ok || se.EdgeData != data || se.Client != e.Client || se.Server != e.Server {
				t.Fatalf("%s: Source(%d) = %d, %p, %v: not the view edge's", step, i, pos, data, ok)
			}
		}
		want := wantCounts(snap, from, to)
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			t.Fatalf("%s: counts %v, want %v", step, got, want)
		}
	}
	hour := func() (time.Time, time.Time) { return now.Add(-time.Hour), now }
	check("first", now.Add(-time.Hour), now)
	check("same", now.Add(-time.Hour+time.Second), now.Add(time.Second))
	s.Observe(obs[:4], nil)
	check("edges changed", now.Add(-time.Hour), now.Add(time.Second))
	check("earlier buckets", now.Add(-2*time.Minute), now.Add(-time.Minute))
	now = now.Add(time.Minute)
	s.Observe(obs[7:9], nil)
	check("moved", now.Add(-time.Hour), now.Add(time.Second))
	f1, t1 := hour()
	f2, t2 := now.Add(-3*time.Minute), now.Add(-time.Minute)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 20 {
				if i%2 == 0 {
					check("concurrent hour", f1, t1)
				} else {
					check("concurrent earlier", f2, t2)
				}
			}
		})
	}
	wg.Wait()
}

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

// A snapshot answers the same question again from its latest view: the
// rows are shared, From and To are the caller's; another window length or
// another snapshot computes anew.
func TestQueryViewReused(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, &now)
	a, b := s.Node("a", graph.ServiceNode), s.Node("b", graph.ServiceNode)
	s.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.Call}}, nil)
	now = now.Add(time.Second)
	snap := s.Snapshot()
	q := graph.NewQuery(now)
	v1, err1 := snap.Query(q)
	q.From, q.To = q.From.Add(time.Millisecond), q.To.Add(time.Millisecond) // the same buckets
	v2, err2 := snap.Query(q)
	q.From = q.From.Add(-time.Minute) // a longer window: other rates
	v3, err3 := snap.Query(q)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if len(v1.Edges) != 1 || &v1.Edges[0] != &v2.Edges[0] || !v2.To.Equal(v1.To.Add(time.Millisecond)) {
		t.Fatalf("the same question was not answered from the kept view: %p %p, to %s %s", &v1.Edges[0], &v2.Edges[0], v1.To, v2.To)
	}
	if &v3.Edges[0] == &v1.Edges[0] || v3.Edges[0].Rate >= v1.Edges[0].Rate {
		t.Fatalf("a longer window reused the view: rate %v, first %v", v3.Edges[0].Rate, v1.Edges[0].Rate)
	}
	s.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.Call}}, nil)
	if v4, err := s.Snapshot().Query(graph.NewQuery(now)); err != nil || v4.Edges[0].Count != 2 {
		t.Fatalf("a new snapshot: %v, %+v", err, v4)
	}
}

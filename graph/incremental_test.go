package graph_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// A snapshot copies only the edges that changed since the previous one:
// the others are the previous snapshot's values, their histogram counts
// the same arrays; an unchanged store returns the same snapshot.
func TestSnapshotCopiesOnlyChanged(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	hub := s.Node("hub", graph.ServiceNode)
	var obs []graph.Observation
	for i := range 50 {
		obs = append(obs, graph.Observation{Client: hub, Server: s.Node(fmt.Sprintf("svc-%02d", i), graph.ServiceNode),
			Kind: graph.Call, Seconds: [2]float64{0.1, 0.2}})
	}
	s.Observe(obs, nil)
	first := s.Snapshot()
	if again := s.Snapshot(); again != first {
		t.Fatal("an unchanged store built a new snapshot")
	}
	s.Observe(obs[7:8], nil) // hub → svc-07 only
	second := s.Snapshot()
	if second == first || second.Version == first.Version {
		t.Fatal("a change did not make a new snapshot")
	}
	if len(second.Edges) != 50 {
		t.Fatalf("%d edges, want 50", len(second.Edges))
	}
	for i := range second.Edges {
		a, b := &first.Edges[i], &second.Edges[i]
		shared := &a.Hist[0].Counts[0] == &b.Hist[0].Counts[0]
		switch {
		case b.Server == "svc-07":
			if shared || b.Count != 2 || a.Count != 1 {
				t.Fatalf("changed edge: shared %v, count %d then %d; want a copy, 1 then 2", shared, a.Count, b.Count)
			}
		case !shared || b.Count != 1:
			t.Fatalf("edge %s was copied (count %d) though it did not change", b.Server, b.Count)
		}
	}
	// A new edge is merged in, in order.
	s.Observe([]graph.Observation{{Client: s.Node("aaa", graph.ServiceNode), Server: hub, Kind: graph.SpanLink, Seconds: [2]float64{1, -1}}}, nil)
	third := s.Snapshot()
	if len(third.Edges) != 51 || third.Edges[0].Client != "aaa" || third.Edges[1].Server != "svc-00" || len(third.Nodes) != 52 {
		t.Fatalf("after a new edge: %d edges, first %s>%s, %d nodes", len(third.Edges), third.Edges[0].Client, third.Edges[0].Server, len(third.Nodes))
	}
}

// Writers and snapshot builds run at once (run with -race): every
// snapshot is sorted and never goes backwards, and the last one holds
// exactly what was observed.
func TestSnapshotConcurrentWriters(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := graph.NewDefaultConfig()
	cfg.Retention = 10 * time.Minute
	s := graph.MustNew(cfg, graph.Settings{Now: clock})
	const writers, rounds, services = 4, 300, 20
	ids := make([]graph.NodeID, services)
	for i := range ids {
		ids[i] = s.Node(fmt.Sprintf("svc-%02d", i), graph.ServiceNode)
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				snap := s.Snapshot()
				var total uint64
				for i, e := range snap.Edges {
					total += e.Count
					if i > 0 && snap.Edges[i-1].Client+">"+snap.Edges[i-1].Server >= e.Client+">"+e.Server {
						t.Errorf("edges out of order at %d", i)
						return
					}
				}
				if total < last {
					t.Errorf("total went from %d to %d", last, total)
					return
				}
				last = total
			}
		})
	}
	var ws sync.WaitGroup
	for w := range writers {
		ws.Go(func() {
			for r := range rounds {
				// Each round touches a new edge now and then, and moves the
				// clock a bucket every 50 rounds (trims while building).
				c, sv := ids[(w+r)%services], ids[(w*7+r/10)%services]
				s.Observe([]graph.Observation{{Client: c, Server: sv, Kind: graph.Call, Seconds: [2]float64{0.1, -1}}},
					[]graph.LinkTally{{Service: c, Result: graph.LinkResolved, N: 1}})
				if w == 0 && r%50 == 0 {
					mu.Lock()
					now = now.Add(time.Minute)
					mu.Unlock()
				}
			}
		})
	}
	ws.Wait()
	close(done)
	readers.Wait()
	snap := s.Snapshot()
	var total, links uint64
	for _, e := range snap.Edges {
		total += e.Count
	}
	for _, n := range snap.Nodes {
		links += n.Links[graph.LinkResolved]
	}
	if total != writers*rounds || links != writers*rounds {
		t.Fatalf("last snapshot holds %d occurrences and %d links, want %d", total, links, writers*rounds)
	}
}

package graph_test

import (
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// A first-seen time learnt from another instance lowers an edge's
// first-seen (never raises it), and waits for an edge not seen yet.
func TestFloorFirstSeen(t *testing.T) {
	cfg := graph.NewDefaultConfig()
	cfg.MaxEdges = 4
	c := &clock{t: t0}
	s := graph.MustNew(cfg, graph.Settings{Now: c.now})
	observe(s, "a", "b", graph.Call, 1, false, 0.1)
	first := func(client, server string) time.Time {
		t.Helper()
		for _, e := range s.Snapshot().Edges {
			if e.Client == client && e.Server == server {
				return e.FirstSeen
			}
		}
		t.Fatalf("no edge %s→%s", client, server)
		return time.Time{}
	}
	early, late := t0.Add(-48*time.Hour), t0.Add(time.Hour)
	if s.FloorFirstSeen("a", "b", graph.Call, late) {
		t.Fatal("a later time lowered a→b")
	}
	if !s.FloorFirstSeen("a", "b", graph.Call, early) || !first("a", "b").Equal(early) {
		t.Fatalf("a→b first seen %s, want %s", first("a", "b"), early)
	}
	if s.FloorFirstSeen("a", "b", graph.Messaging, early) {
		t.Fatal("a messaging edge a→b does not exist: nothing to lower (its floor waits)")
	}
	// Floors of unseen edges: the earliest wins, a floor later than the
	// first occurrence is not used, floors past max_edges (4: a→b
	// messaging, p→q, x→y, m→n) are dropped (u→v, r→s).
	s.FloorFirstSeen("p", "q", graph.Messaging, late.Add(time.Hour))
	s.FloorFirstSeen("p", "q", graph.Messaging, early.Add(time.Hour))
	s.FloorFirstSeen("x", "y", graph.Call, late)
	s.FloorFirstSeen("m", "n", graph.Call, early)
	s.FloorFirstSeen("u", "v", graph.Call, early)
	s.FloorFirstSeen("r", "s", graph.Call, early)
	c.t = t0.Add(time.Minute)
	observe(s, "p", "q", graph.Messaging, 1, false, 0.1)
	observe(s, "x", "y", graph.Call, 1, false, 0.1)
	observe(s, "m", "n", graph.Call, 1, false, 0.1)
	if got := first("p", "q"); !got.Equal(early.Add(time.Hour)) {
		t.Errorf("p→q first seen %s, want the floor %s", got, early.Add(time.Hour))
	}
	if got := first("x", "y"); !got.Equal(c.t) {
		t.Errorf("x→y first seen %s, want its first occurrence %s (the floor is later)", got, c.t)
	}
	if got := first("m", "n"); !got.Equal(early) {
		t.Errorf("m→n first seen %s, want the floor %s", got, early)
	}
	if st := s.Stats(); st.FloorsDropped != 2 {
		t.Errorf("FloorsDropped %d, want 2", st.FloorsDropped)
	}
}

package graph_test

import (
	"cmp"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// Past max_history_bytes the oldest buckets of every edge go first: memory
// never passes the cap, every bucket ever made is either held or counted
// as evicted, the recent history of every edge stays exact and the oldest
// bucket held is the same for every edge.
func TestHistoryCap(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := graph.NewDefaultConfig()
	cfg.MaxEdges = 8
	cfg.MaxHistoryBytes = 16 << 10 // about 75 chunks of 8 buckets: 600 buckets for 8 edges
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	start := now
	obs := make([]graph.Observation, cfg.MaxEdges)
	for i := range obs {
		obs[i] = graph.Observation{Client: s.Node("c", graph.ServiceNode), Server: s.Node(string(rune('a'+i)), graph.ServiceNode),
			Kind: graph.Call, Failed: i == 0, Seconds: [2]float64{0.5, -1}}
	}
	const minutes = 300
	for m := range minutes {
		// Each edge twice a minute.
		s.Observe(obs, nil)
		s.Observe(obs, nil)
		st := s.Stats()
		if st.HistoryBytes > cfg.MaxHistoryBytes {
			t.Fatalf("minute %d: history holds %d B, above %d", m, st.HistoryBytes, cfg.MaxHistoryBytes)
		}
		if got, want := uint64(st.HistoryBuckets)+st.HistoryEvicted, uint64((m+1)*cfg.MaxEdges); got != want {
			t.Fatalf("minute %d: %d held + %d evicted = %d, want %d buckets made", m, st.HistoryBuckets, st.HistoryEvicted, got, want)
		}
		now = now.Add(time.Minute)
	}
	now = now.Add(-time.Minute)
	st := s.Stats()
	if st.HistoryEvicted == 0 {
		t.Fatalf("nothing evicted: %+v", st)
	}
	snap := s.Snapshot()
	held := st.HistoryBuckets / cfg.MaxEdges
	if held*cfg.MaxEdges != st.HistoryBuckets {
		t.Fatalf("edges hold different spans of history: %d buckets over %d edges", st.HistoryBuckets, cfg.MaxEdges)
	}
	oldest := start.Add(time.Duration(minutes-held) * time.Minute)
	for _, e := range snap.Edges {
		if got := e.History.Len() + 1; got != held {
			t.Fatalf("edge %s holds %d buckets, want %d", e.Server, got, held)
		}
		if got := e.History.At(0).Start; got != oldest.UnixNano() {
			t.Fatalf("edge %s: oldest bucket %s, want %s", e.Server, time.Unix(0, got).UTC(), oldest)
		}
		// The held window is exact: two occurrences a minute.
		w := e.Window(oldest, now.Add(time.Minute), cfg.BucketWidth)
		want := graph.Bucket{Count: uint64(2 * held), N: uint64(2 * held), Sum: float64(held)}
		if e.Server == "a" {
			want.Failed = want.Count
		}
		if !reflect.DeepEqual(w, want) {
			t.Fatalf("edge %s window = %+v, want %+v", e.Server, w, want)
		}
		if w := e.Window(start, oldest, cfg.BucketWidth); w.Count != 0 {
			t.Fatalf("edge %s: evicted history still counted: %+v", e.Server, w)
		}
		if e.Count != 2*minutes {
			t.Fatalf("edge %s: total %d, want %d", e.Server, e.Count, 2*minutes)
		}
	}
}

// Validate refuses a cap that cannot hold two chunks per edge.
func TestHistoryCapValidate(t *testing.T) {
	cfg := graph.NewDefaultConfig()
	cfg.MaxEdges = 1000
	cfg.MaxHistoryBytes = 1000*graph.MinHistoryBytesPerEdge - 1
	if err := cfg.Validate(); err == nil {
		t.Fatal("a cap below MinHistoryBytesPerEdge × max_edges was accepted")
	}
	cfg.MaxHistoryBytes++
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The chunked history holds exactly the buckets a plain model holds, through
// gaps, retention trims and snapshots taken at any moment.
func TestHistoryModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := graph.NewDefaultConfig()
	cfg.Retention = 90 * time.Minute
	s := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	a, b := s.Node("a", graph.ServiceNode), s.Node("b", graph.ServiceNode)
	model := map[int64]graph.Bucket{} // by start
	for step := range 3000 {
		now = now.Add(time.Duration(rng.IntN(4)) * 20 * time.Second)
		failed, secs := rng.IntN(3) == 0, float64(rng.IntN(4))-1
		s.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.Call, Failed: failed, Seconds: [2]float64{secs, -1}}}, nil)
		start := now.Truncate(time.Minute).UnixNano()
		m := model[start]
		m.Start = start
		m.Count++
		if failed {
			m.Failed++
		}
		if secs >= 0 {
			m.Sum += secs
			m.N++
			if m.Hist == nil {
				m.Hist = make([]uint64, len(cfg.LatencyBuckets)+1)
			}
			i, _ := slices.BinarySearch(cfg.LatencyBuckets, secs)
			m.Hist[i]++
		}
		model[start] = m
		if rng.IntN(10) != 0 {
			continue
		}
		snap := s.Snapshot()
		minStart := now.Add(-cfg.Retention).Truncate(time.Minute).UnixNano()
		var want []graph.Bucket
		for k, v := range model {
			if k < minStart {
				delete(model, k)
				continue
			}
			want = append(want, v)
		}
		slices.SortFunc(want, func(x, y graph.Bucket) int { return cmp.Compare(x.Start, y.Start) })
		e := snap.Edges[0]
		got := append(e.History.Buckets(), e.Open)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d:\n%+v\nwant\n%+v", step, got, want)
		}
		if st := s.Stats(); st.HistoryBuckets != len(want) {
			t.Fatalf("step %d: %d buckets held, want %d", step, st.HistoryBuckets, len(want))
		}
	}
}

// Readers iterate the history of snapshots while writers add buckets,
// close chunks and trim: snapshots never see a write (run with -race).
func TestHistoryConcurrentReaders(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := graph.NewDefaultConfig()
	cfg.Retention = 30 * time.Minute
	cfg.MaxEdges = 4
	cfg.MaxHistoryBytes = 4 * graph.MinHistoryBytesPerEdge // less than 30 minutes of two edges
	s := graph.MustNew(cfg, graph.Settings{Now: clock})
	a, b := s.Node("a", graph.ServiceNode), s.Node("b", graph.ServiceNode)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, e := range s.Snapshot().Edges {
					var prev int64
					for i := range e.History.Len() {
						if st := e.History.At(i).Start; st <= prev {
							t.Errorf("buckets out of order: %d after %d", st, prev)
							return
						}
						prev = e.History.At(i).Start
					}
				}
			}
		})
	}
	for range 2000 {
		s.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.Call}, {Client: b, Server: a, Kind: graph.SpanLink}}, nil)
		mu.Lock()
		now = now.Add(20 * time.Second)
		mu.Unlock()
	}
	close(done)
	wg.Wait()
	if st := s.Stats(); st.HistoryBytes > cfg.MaxHistoryBytes || st.HistoryEvicted == 0 {
		t.Fatalf("stats %+v", st)
	}
}

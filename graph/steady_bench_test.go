package graph_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// steadyClock is a settable clock safe for concurrent use.
type steadyClock struct{ ns atomic.Int64 }

func (c *steadyClock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *steadyClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newSteadyClock(t time.Time) *steadyClock {
	c := &steadyClock{}
	c.ns.Store(t.UnixNano())
	return c
}

// steadyStore returns a store at the default edge cap in steady state:
// edges call edges between 400 clients and edges/400 servers, each with
// 16 minutes of history, and the observations that touch every edge once.
func steadyStore(tb testing.TB, edges int) (*graph.Store, *steadyClock, []graph.Observation) {
	tb.Helper()
	c := newSteadyClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	cfg := graph.NewDefaultConfig()
	cfg.MaxEdges = edges
	s := graph.MustNew(cfg, graph.Settings{Now: c.now})
	const clients = 400
	servers := (edges + clients - 1) / clients
	obs := make([]graph.Observation, 0, edges)
	for i := range clients {
		cl := s.Node(fmt.Sprintf("client-%03d", i), graph.ServiceNode)
		for j := range servers {
			if len(obs) == edges {
				break
			}
			sv := s.Node(fmt.Sprintf("server-%03d", j), graph.ServiceNode)
			obs = append(obs, graph.Observation{Client: cl, Server: sv, Kind: graph.Kind(j % 5), Failed: j%17 == 0,
				Seconds: [2]float64{0.05 * float64(j%7), 0.1}})
		}
	}
	for range 16 {
		for b := 0; b < len(obs); b += 1000 {
			s.Observe(obs[b:min(b+1000, len(obs))], nil)
		}
		c.add(time.Minute)
	}
	if st := s.Stats(); st.Edges != edges {
		tb.Fatalf("%d edges, want %d", st.Edges, edges)
	}
	return s, c, obs
}

// batches returns n batches of size random observations of obs (seeded).
func batches(obs []graph.Observation, n, size int) [][]graph.Observation {
	rng := rand.New(rand.NewPCG(7, 8))
	out := make([][]graph.Observation, n)
	for i := range out {
		out[i] = make([]graph.Observation, size)
		for j := range out[i] {
			out[i][j] = obs[rng.IntN(len(obs))]
		}
	}
	return out
}

// BenchmarkSnapshot100k: steady state at the default edge cap (100k edges
// with history); each iteration ingests 1,000 observations on random edges
// (what arrives between two scrapes) and takes a snapshot.
func BenchmarkSnapshot100k(b *testing.B) {
	s, _, obs := steadyStore(b, 100_000)
	bs := batches(obs, 64, 1000)
	s.Snapshot()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Observe(bs[i%len(bs)], nil)
		i++
		s.Snapshot()
	}
}

// BenchmarkObserveStall100k: the longest time a writer waits. Steady state
// at the default edge cap; the benchmark ingests batches of 100
// observations on random edges, alone (the machine's noise floor), then
// while a reader takes snapshots without pause (every one rebuilt: the
// graph changes in between). Reported: the longest and the
// 99.9th-percentile Observe call, and the snapshots taken. With 2 cores,
// the reader, the writer and the garbage collector share them: the
// figures include waits for a core, not only for the lock.
func BenchmarkObserveStall100k(b *testing.B) {
	s, _, obs := steadyStore(b, 100_000)
	bs := batches(obs, 256, 100)
	s.Snapshot() // the first build copies every edge; steady state is after it
	for _, reading := range []bool{false, true} {
		b.Run(map[bool]string{false: "alone", true: "reading"}[reading], func(b *testing.B) {
			done := make(chan struct{})
			var wg sync.WaitGroup
			var snaps atomic.Int64
			if reading {
				wg.Go(func() {
					for {
						select {
						case <-done:
							return
						default:
						}
						if prev := s.Snapshot(); prev != s.Snapshot() {
							snaps.Add(1)
						}
					}
				})
			}
			var lat []time.Duration
			i := 0
			for b.Loop() {
				t := time.Now()
				s.Observe(bs[i%len(bs)], nil)
				lat = append(lat, time.Since(t))
				i++
			}
			close(done)
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
			b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds()), "p99.9-µs")
			b.ReportMetric(float64(snaps.Load()), "rebuilt")
		})
	}
}

// BenchmarkQuery100k: queries of one shared snapshot at the default edge
// cap (steady state): the whole graph over the last hour, and a service's
// neighbourhood at the default depth; each a question the snapshot was
// not asked before (a snapshot answers a repeated one from its kept view).
func BenchmarkQuery100k(b *testing.B) {
	s, c, _ := steadyStore(b, 100_000)
	snap := s.Snapshot()
	for _, tc := range []struct {
		name    string
		service string
	}{{"whole", ""}, {"centred", "client-007"}} {
		b.Run(tc.name, func(b *testing.B) {
			q := graph.NewQuery(c.now())
			q.Service = tc.service
			b.ReportAllocs()
			to := q.To
			i := 0
			for b.Loop() {
				// A window longer by 1 or 2 ns each time, over the same
				// buckets: a new question, which the snapshot's kept view
				// does not answer.
				i++
				q.To = to.Add(time.Duration(1 + i%2))
				if _, err := snap.Query(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/servicegraph/servicegraph/graph"
)

// fsClock is a settable store clock.
type fsClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fsClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fsClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var fsT0 = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

func fsObserve(s *graph.Store, client, server string, kind graph.Kind) {
	s.Observe([]graph.Observation{{Client: s.Node(client, graph.ServiceNode), Server: s.Node(server, graph.ServiceNode), Kind: kind,
		Seconds: [2]float64{0.1, -1}}}, nil)
}

func fsFirst(t *testing.T, s *graph.Store, client, server string, kind graph.Kind) time.Time {
	t.Helper()
	for _, e := range s.Snapshot().Edges {
		if e.Client == client && e.Server == server && e.Kind == kind {
			return e.FirstSeen
		}
	}
	t.Fatalf("no edge %s→%s %s", client, server, kind)
	return time.Time{}
}

func startFirstSeen(t *testing.T, addrs []string, g FirstSeenGraph, reg prometheus.Registerer) *FirstSeen {
	t.Helper()
	cfg := NewDefaultFirstSeenConfig()
	cfg.Interval = 100 * time.Millisecond
	cfg.CatchUp = 10 * time.Second
	f, err := NewFirstSeen(cfg, FirstSeenSettings{Brokers: addrs, Registerer: reg}, g)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return f
}

// topicLatest reads the whole topic and returns each key's last value.
func topicLatest(t *testing.T, addrs []string) map[edgeKey]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("servicegraph_edges"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	out := map[edgeKey]int64{}
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if k, ns, ok := decodeFirstSeen(r.Key, r.Value); ok {
				out[k] = ns
			}
		})
	}
	return out
}

// An instance that takes over an old edge exports the edge's earliest
// first-seen in the cluster, and one that sees it for the first time
// after start begins with it; the topic converges to the earliest time
// even when a later time is written last.
func TestFirstSeen(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the instances' Shutdown (cleanups run last first)
	addrs := c.ListenAddrs()
	clk := &fsClock{t: fsT0}
	cfg := graph.NewDefaultConfig()
	a := graph.MustNew(cfg, graph.Settings{Now: clk.now})
	fsObserve(a, "orders", "billing", graph.Messaging) // first seen fsT0: the old edge
	regA := prometheus.NewRegistry()
	fa := startFirstSeen(t, addrs, a, regA)
	// a published its edge and reads its own record back.
	pollStats(t, fa, FirstSeenStats{Read: 1, Published: 1})

	// b replaces a's member a day later: it sees the old edge anew, and a
	// new one.
	clk.set(fsT0.Add(24 * time.Hour))
	b := graph.MustNew(cfg, graph.Settings{Now: clk.now})
	fsObserve(b, "orders", "billing", graph.Messaging)
	fsObserve(b, "orders", "audit", graph.SpanLink)
	fb := startFirstSeen(t, addrs, b, prometheus.NewRegistry())
	if got := fsFirst(t, b, "orders", "billing", graph.Messaging); !got.Equal(fsT0) {
		t.Fatalf("b: orders→billing first seen %s after start, want the cluster's %s", got, fsT0)
	}
	if got := fsFirst(t, b, "orders", "audit", graph.SpanLink); !got.Equal(fsT0.Add(24 * time.Hour)) {
		t.Fatalf("b: orders→audit first seen %s, want its own %s", got, fsT0.Add(24*time.Hour))
	}
	// b read a's record, lowered its edge, published orders→audit only.
	pollStats(t, fb, FirstSeenStats{Read: 2, Lowered: 1, Published: 1})

	// c starts empty (no data directory), then sees both edges.
	clk.set(fsT0.Add(48 * time.Hour))
	cs := graph.MustNew(cfg, graph.Settings{Now: clk.now})
	fc := startFirstSeen(t, addrs, cs, prometheus.NewRegistry())
	fsObserve(cs, "orders", "billing", graph.Messaging)
	fsObserve(cs, "orders", "audit", graph.SpanLink)
	fsObserve(cs, "orders", "ledger", graph.Call)
	for _, w := range []struct {
		server string
		kind   graph.Kind
		want   time.Time
	}{
		{"billing", graph.Messaging, fsT0},
		{"audit", graph.SpanLink, fsT0.Add(24 * time.Hour)},
		{"ledger", graph.Call, fsT0.Add(48 * time.Hour)},
	} {
		if got := fsFirst(t, cs, "orders", w.server, w.kind); !got.Equal(w.want) {
			t.Errorf("c: orders→%s first seen %s, want %s", w.server, got, w.want)
		}
	}

	// A later time written last (two instances publishing at once, the
	// slower one's record kept by compaction), and a record of another
	// format: a republishes the earliest time. b and c leave first (they
	// would republish it too, one or both, as timing has it); c's leaving
	// publishes its orders→ledger if its interval has not yet.
	for _, f := range []*FirstSeen{fb, fc} {
		if err := f.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	late := fsT0.Add(72 * time.Hour).UnixNano()
	k := edgeKey{"orders", "billing", graph.Messaging}
	w, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("servicegraph_edges"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.ProduceSync(context.Background(), &kgo.Record{Key: firstSeenKey(k), Value: firstSeenValue(late)},
		&kgo.Record{Key: []byte("junk"), Value: []byte("junk")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if got := topicLatest(t, addrs)[k]; got == fsT0.UnixNano() {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the topic's latest orders→billing is %s, want the earliest %s again", time.Unix(0, got).UTC(), fsT0)
		}
	}
	if got := fsFirst(t, a, "orders", "billing", graph.Messaging); !got.Equal(fsT0) {
		t.Errorf("a: orders→billing first seen %s, a later record must not raise it", got)
	}
	// a read its own record, b's orders→audit, c's orders→ledger, the late
	// one, the junk one and its own republished earliest time.
	pollStats(t, fa, FirstSeenStats{Read: 6, Malformed: 1, Published: 2})
	if got := testutil.ToFloat64(firstSeenCollectorOp(fa, "malformed")); got != 1 {
		t.Errorf("servicegraph_kafka_first_seen_records_total{op=malformed} %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(regA, "servicegraph_kafka_first_seen_records_total"); err != nil || n != 5 {
		t.Errorf("first-seen series: %d (%v), want 5", n, err)
	}
}

// pollStats waits, up to 15 s, for f's counters to be want.
func pollStats(t *testing.T, f *FirstSeen, want FirstSeenStats) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for f.Stats() != want {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("stats %+v, want %+v", f.Stats(), want)
		}
	}
}

// firstSeenCollectorOp is the counter of one op, as exported.
func firstSeenCollectorOp(f *FirstSeen, op string) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		for _, o := range firstSeenOps {
			if o.op == op {
				ch <- prometheus.MustNewConstMetric(firstSeenDesc, prometheus.CounterValue, float64(o.of(f.Stats())), op)
			}
		}
	})
}

func TestFirstSeenRecord(t *testing.T) {
	for _, k := range []edgeKey{{"a", "b", graph.Call}, {"", "", graph.Virtual}, {"x\x00y", "é", graph.SpanLink}} {
		got, ns, ok := decodeFirstSeen(firstSeenKey(k), firstSeenValue(-5))
		if !ok || got != k || ns != -5 {
			t.Errorf("%+v: decoded %+v %d %t", k, got, ns, ok)
		}
	}
	good := firstSeenKey(edgeKey{"a", "b", graph.Call})
	for name, kv := range map[string][2][]byte{
		"empty":          {nil, nil},
		"other format":   {append([]byte{2}, good[1:]...), firstSeenValue(1)},
		"short value":    {good, firstSeenValue(1)[:8]},
		"long length":    {[]byte{1, 200, 'a'}, firstSeenValue(1)},
		"unknown kind":   {append(append([]byte{}, good[:len(good)-1]...), 99), firstSeenValue(1)},
		"trailing bytes": {append(append([]byte{}, good...), 0), firstSeenValue(1)},
	} {
		if _, _, ok := decodeFirstSeen(kv[0], kv[1]); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (FirstSeenConfig{}).Validate(); err == nil ||
		err.Error() != "topic: empty\ninterval: 0s is below 100ms\ncatch_up: 0s must be positive\nmax edges: 0 must be positive" {
		t.Errorf("Validate: %v", err)
	}
}

package pairing

import (
	"context"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// TestFanOutSameGraph feeds the workload's requests to two processors of
// one hash seed, one with GOMAXPROCS 1 (one goroutine adds every shard)
// and one with GOMAXPROCS 2 (addAll hands shards to a helper): the graphs
// must be equal to the last bit, exemplars and float sums included, as the
// helper's edges are appended in shard order, and so must the counts and
// the recent problems. Expire hands shards to a helper too.
func TestFanOutSameGraph(t *testing.T) {
	recs := wireWorkload(t)
	if len(recs) > 600 {
		recs = recs[:600]
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	alone, fanned := wireBenchProcessor(t, now), wireBenchProcessor(t, now)
	fanned.hash = alone.hash
	for _, sh := range fanned.shards {
		sh.idx.h = alone.hash
	}
	for i, r := range recs {
		clock = clock.Add(12 * time.Millisecond)
		runtime.GOMAXPROCS(1)
		errA := alone.ConsumeTracesProto(context.Background(), r)
		runtime.GOMAXPROCS(2)
		errF := fanned.ConsumeTracesProto(context.Background(), r)
		if (errA == nil) != (errF == nil) {
			t.Fatalf("request %d: %v, want %v", i, errF, errA)
		}
		if i%83 == 82 {
			alone.Expire(clock)
			fanned.Expire(clock)
		}
	}
	alone.Flush()
	fanned.Flush()
	if sa, sf := alone.Stats(), fanned.Stats(); sa != sf {
		t.Fatalf("stats %+v, want %+v", sf, sa)
	}
	ga, gf := alone.graph.Snapshot(), fanned.graph.Snapshot()
	if len(ga.Edges) == 0 {
		t.Fatal("no edges")
	}
	if pa, pf := alone.Problems(), fanned.Problems(); !reflect.DeepEqual(pa, pf) {
		t.Fatalf("problems %+v, want %+v", pf, pa)
	}
	if !reflect.DeepEqual(ga, gf) {
		t.Fatalf("the graphs differ:\n%+v\nwant\n%+v", gf.Edges, ga.Edges)
	}
}

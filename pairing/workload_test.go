package pairing

import (
	"context"
	"errors"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
	"github.com/servicegraph/servicegraph/internal/workload"
)

// LocateWorkload returns the path of the workload tests and benchmarks
// replay: SERVICEGRAPH_WORKLOAD when set (relative to the repository
// root), else a small one (1,000 user requests, about 35,000 spans) that
// ../shared/bench/gen generates into a temporary directory. Without either
// it skips, except under CI, which must run the workload tests. Exported
// for the pairing_test package.
func LocateWorkload(tb testing.TB) string {
	tb.Helper()
	path, err := workload.Locate(context.Background(), tb.TempDir(), 1000)
	if errors.Is(err, workload.ErrNoWorkload) {
		if _, ci := os.LookupEnv("CI"); !ci {
			tb.Skip(err)
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// wireWorkload loads the workload LocateWorkload names.
func wireWorkload(t testing.TB) [][]byte {
	recs, err := workload.ReadAll(LocateWorkload(t))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func wireBenchProcessor(t testing.TB, now func() time.Time) *Processor {
	cfg := NewDefaultConfig()
	cfg.MaxIndexSpans, cfg.MaxPendingSpans = 2<<20, 1<<20
	p, err := New(cfg, Settings{Now: now}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: now}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The whole workload through ConsumeTraces (pdata) and through
// ConsumeTracesProto gives the same graph: edges, counts, failures,
// histograms, history, link tallies, and the same processor counters.
func TestWireWorkloadEquivalence(t *testing.T) {
	recs := wireWorkload(t)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	viaPdata, viaWire := wireBenchProcessor(t, now), wireBenchProcessor(t, now)
	for i, r := range recs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(r); err != nil {
			t.Fatal(err)
		}
		errP := viaPdata.ConsumeTraces(context.Background(), req.Traces())
		errW := viaWire.ConsumeTracesProto(context.Background(), r)
		if (errP == nil) != (errW == nil) || errP != nil && errP.Error() != errW.Error() {
			t.Fatalf("record %d: pdata %v, wire %v", i, errP, errW)
		}
	}
	viaPdata.Flush()
	viaWire.Flush()
	sp, sw := viaPdata.graph.Snapshot(), viaWire.graph.Snapshot()
	if len(sp.Edges) == 0 {
		t.Fatal("no edges")
	}
	// Shards hash with a per-processor seed, so the two graphs see the same
	// observations in different orders: float sums may differ in their last
	// bits. Compare them apart, then everything else exactly.
	if len(sp.Edges) == len(sw.Edges) {
		for i := range sp.Edges {
			for _, s := range [][2]*float64{
				{&sp.Edges[i].Hist[0].Sum, &sw.Edges[i].Hist[0].Sum},
				{&sp.Edges[i].Hist[1].Sum, &sw.Edges[i].Hist[1].Sum},
				{&sp.Edges[i].AsyncHist[0].Sum, &sw.Edges[i].AsyncHist[0].Sum},
				{&sp.Edges[i].AsyncHist[1].Sum, &sw.Edges[i].AsyncHist[1].Sum},
				{&sp.Edges[i].Open.Sum, &sw.Edges[i].Open.Sum},
			} {
				if math.Abs(*s[0]-*s[1]) > 1e-9*math.Max(1, math.Abs(*s[0])) {
					t.Fatalf("edge %s→%s: sum %v, want %v", sw.Edges[i].Client, sw.Edges[i].Server, *s[1], *s[0])
				}
				*s[1] = *s[0]
			}
			// A history is a view of the edge's buckets: compare the
			// buckets, not the chunks behind them (which hold the open
			// bucket's running sum too).
			if hp, hw := sp.Edges[i].History.Buckets(), sw.Edges[i].History.Buckets(); !reflect.DeepEqual(hp, hw) {
				t.Fatalf("edge %s→%s: history %+v, want %+v", sw.Edges[i].Client, sw.Edges[i].Server, hw, hp)
			}
			sw.Edges[i].History = sp.Edges[i].History
			// Exemplars are each edge's latest traced occurrence: which
			// one is last depends on the order too. Both must hold one
			// where the other does; then compare the rest.
			for _, x := range [][2]*graph.Exemplar{
				{&sp.Edges[i].Exemplar, &sw.Edges[i].Exemplar},
				{&sp.Edges[i].Hist[0].Exemplar, &sw.Edges[i].Hist[0].Exemplar},
				{&sp.Edges[i].Hist[1].Exemplar, &sw.Edges[i].Hist[1].Exemplar},
				{&sp.Edges[i].AsyncHist[0].Exemplar, &sw.Edges[i].AsyncHist[0].Exemplar},
				{&sp.Edges[i].AsyncHist[1].Exemplar, &sw.Edges[i].AsyncHist[1].Exemplar},
			} {
				if x[0].Valid() != x[1].Valid() {
					t.Fatalf("edge %s→%s: exemplar %+v, want one like %+v", sw.Edges[i].Client, sw.Edges[i].Server, *x[1], *x[0])
				}
				*x[1] = *x[0]
			}
		}
	}
	if !reflect.DeepEqual(sp, sw) {
		for i := range min(len(sp.Edges), len(sw.Edges)) {
			if !reflect.DeepEqual(sp.Edges[i], sw.Edges[i]) {
				t.Fatalf("edge %d differs:\npdata %+v\nwire  %+v", i, sp.Edges[i], sw.Edges[i])
			}
		}
		t.Fatalf("snapshots differ: %d/%d nodes, %d/%d edges", len(sp.Nodes), len(sw.Nodes), len(sp.Edges), len(sw.Edges))
	}
	a, b := viaPdata.Stats(), viaWire.Stats()
	a.IndexBytes = b.IndexBytes // table sizes depend on how the seed spread the spans over shards
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("stats differ:\npdata %+v\nwire  %+v", a, b)
	}
	t.Logf("%d records: %d nodes, %d edges identical; stats %+v", len(recs), len(sw.Nodes), len(sw.Edges), viaWire.Stats())
}

// BenchmarkDecodePdata is the decode step alone through pdata:
// UnmarshalProto, tracedecode.FromTraces, then the node lookups (resolve).
func BenchmarkDecodePdata(b *testing.B) {
	recs := wireWorkload(b)
	p := wireBenchProcessor(b, nil)
	bt := &batch{}
	spans := 0
	b.ReportAllocs()
	for b.Loop() {
		spans = 0
		for _, r := range recs {
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalProto(r); err != nil {
				b.Fatal(err)
			}
			if err := tracedecode.FromTraces(req.Traces(), &bt.rec); err != nil {
				b.Fatal(err)
			}
			p.resolve(bt)
			spans += len(bt.spans)
			bt.reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans)/float64(b.N), "ns/span")
}

// BenchmarkDecodeProto is the decode step alone through
// tracedecode.Decode, then the node lookups (resolve): what
// ConsumeTracesProto does before pairing.
func BenchmarkDecodeProto(b *testing.B) {
	recs := wireWorkload(b)
	p := wireBenchProcessor(b, nil)
	bt := &batch{}
	spans := 0
	b.ReportAllocs()
	for b.Loop() {
		spans = 0
		for _, r := range recs {
			if err := tracedecode.Decode(r, &bt.rec); err != nil {
				b.Fatal(err)
			}
			p.resolve(bt)
			spans += len(bt.spans)
			bt.reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans)/float64(b.N), "ns/span")
}

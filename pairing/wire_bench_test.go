package pairing

import (
	"context"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/workload"
)

// wireWorkload loads the ../shared/bench workload named by
// SERVICEGRAPH_WORKLOAD, or skips.
func wireWorkload(t testing.TB) [][]byte {
	path := os.Getenv("SERVICEGRAPH_WORKLOAD")
	if path == "" {
		t.Skip("set SERVICEGRAPH_WORKLOAD to a ../shared/bench workload")
	}
	recs, err := workload.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func wireBenchProcessor(t testing.TB, now func() time.Time) *Processor {
	cfg := NewDefaultConfig()
	cfg.MaxIndexSpans, cfg.MaxPendingSpans = 2<<20, 1<<20
	p, err := New(cfg, Settings{Now: now}, graph.New(graph.NewDefaultConfig(), graph.Settings{Now: now}))
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
				{&sp.Edges[i].Open.Sum, &sw.Edges[i].Open.Sum},
			} {
				if math.Abs(*s[0]-*s[1]) > 1e-9*math.Max(1, math.Abs(*s[0])) {
					t.Fatalf("edge %s→%s: sum %v, want %v", sw.Edges[i].Client, sw.Edges[i].Server, *s[1], *s[0])
				}
				*s[1] = *s[0]
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
// UnmarshalProto then decode into a batch.
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
			p.decode(req.Traces(), bt)
			spans += len(bt.spans)
			bt.reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans)/float64(b.N), "ns/span")
}

// BenchmarkDecodeProto is the decode step alone through decodeProto.
func BenchmarkDecodeProto(b *testing.B) {
	recs := wireWorkload(b)
	p := wireBenchProcessor(b, nil)
	bt := &batch{}
	spans := 0
	b.ReportAllocs()
	for b.Loop() {
		spans = 0
		for _, r := range recs {
			if _, err := p.decodeProto(r, bt); err != nil {
				b.Fatal(err)
			}
			spans += len(bt.spans)
			bt.reset()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans)/float64(b.N), "ns/span")
}

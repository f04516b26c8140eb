package pairing_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/cputime"
	"github.com/servicegraph/servicegraph/internal/workload"
	"github.com/servicegraph/servicegraph/pairing"
)

// workloadPath names the workload (see pairing.LocateWorkload).
func workloadPath(b testing.TB) string { return pairing.LocateWorkload(b) }

func decodeAll(b testing.TB, recs [][]byte) ([]ptrace.Traces, int) {
	var out []ptrace.Traces
	spans := 0
	for _, r := range recs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(r); err != nil {
			b.Fatal(err)
		}
		out = append(out, req.Traces())
		spans += req.Traces().SpanCount()
	}
	return out, spans
}

func benchConfig() pairing.Config {
	cfg := pairing.NewDefaultConfig()
	cfg.MaxIndexSpans = 2 << 20
	cfg.MaxPendingSpans = 1 << 20
	return cfg
}

// runWorkload times feed over a fresh pipeline per pass and reports the
// figures users care about per span: spans/s, ns/span, allocs/span and
// B/span (the allocations of the timed part only), and cpu-ns/span, the
// process's CPU time (all threads, the garbage collector's included).
func runWorkload(b *testing.B, spans int, feed func(p *pairing.Processor)) {
	runWorkloadWith(b, spans, pairing.Settings{}, feed)
}

// runWorkloadWith is runWorkload with the processor's settings.
func runWorkloadWith(b *testing.B, spans int, set pairing.Settings, feed func(p *pairing.Processor)) {
	b.ReportAllocs()
	var elapsed, cpu time.Duration
	var allocs, bytes uint64
	var before, after runtime.MemStats
	for b.Loop() {
		b.StopTimer()
		g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
		p, err := pairing.New(benchConfig(), set, g)
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start, cpu0 := time.Now(), cputime.Process()
		feed(p)
		elapsed += time.Since(start)
		cpu += cputime.Process() - cpu0
		b.StopTimer()
		runtime.ReadMemStats(&after)
		allocs += after.Mallocs - before.Mallocs
		bytes += after.TotalAlloc - before.TotalAlloc
		b.StartTimer()
	}
	total := float64(spans) * float64(b.N)
	b.ReportMetric(total/elapsed.Seconds(), "spans/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/total, "ns/span")
	b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/span")
	b.ReportMetric(float64(allocs)/total, "allocs/span")
	b.ReportMetric(float64(bytes)/total, "B/span")
}

// workloadRecords loads the workload's raw requests and counts its spans.
func workloadRecords(b *testing.B) ([][]byte, []ptrace.Traces, int) {
	recs, err := workload.ReadAll(workloadPath(b))
	if err != nil {
		b.Fatal(err)
	}
	tds, spans := decodeAll(b, recs)
	return recs, tds, spans
}

// BenchmarkConsume measures ConsumeTraces on decoded requests: the same
// measure as ../shared/bench/peer (the collector connector's ConsumeTraces).
func BenchmarkConsume(b *testing.B) {
	_, tds, spans := workloadRecords(b)
	runWorkload(b, spans, func(p *pairing.Processor) {
		for _, td := range tds {
			if err := p.ConsumeTraces(context.Background(), td); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeConsume measures OTLP protobuf bytes → pdata → pairing →
// graph: what a request costs in process through pdata.
func BenchmarkDecodeConsume(b *testing.B) {
	recs, _, spans := workloadRecords(b)
	runWorkload(b, spans, func(p *pairing.Processor) {
		for _, r := range recs {
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalProto(r); err != nil {
				b.Fatal(err)
			}
			if err := p.ConsumeTraces(context.Background(), req.Traces()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeConsumeProto measures OTLP protobuf bytes → pairing →
// graph through ConsumeTracesProto, without pdata: the service's hot path.
func BenchmarkDecodeConsumeProto(b *testing.B) {
	recs, _, spans := workloadRecords(b)
	runWorkload(b, spans, func(p *pairing.Processor) {
		for _, r := range recs {
			if err := p.ConsumeTracesProto(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWorkloadTruth replays a ../shared/bench workload (a small generated
// one unless SERVICEGRAPH_WORKLOAD names one) and compares every edge with
// its truth file (see also TestBenchTruth in the e2e tests).
func TestWorkloadTruth(t *testing.T) {
	path := workloadPath(t)
	recs, err := workload.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := workload.LoadTruth(path + ".truth.json")
	if err != nil {
		t.Fatal(err)
	}
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
	cfg := benchConfig()
	cfg.DatabaseNameAttributes = workload.DatabaseNameAttributes // the truth's naming
	p, err := pairing.New(cfg, pairing.Settings{}, g)
	if err != nil {
		t.Fatal(err)
	}
	tds, _ := decodeAll(t, recs)
	for _, td := range tds {
		if err := p.ConsumeTraces(context.Background(), td); err != nil {
			t.Fatal(err)
		}
	}
	p.Flush()
	got := workload.Edges(g.Snapshot())
	if d := workload.Diff(truth.Edges, got); len(d) > 0 {
		t.Fatalf("%d differences from the truth:\n%s", len(d), d)
	}
	t.Logf("exact: %s; stats %+v", workload.Summary(truth.Edges, got), p.Stats())
}

// BenchmarkSteadyConsume compares a fresh processor with one in steady
// state, on raw protobuf requests (the service's hot path), with waits
// expiring as in the service: a clock advances 12 ms per request (the
// workload's pace: 2,357 requests in 28 s) and Expire runs every simulated
// second. fresh: a new processor per pass whose index holds the whole
// workload (it grows and never evicts). steady: one processor whose index
// is capped at half the workload's spans and pre-filled by four passes
// before timing, so every timed insert evicts and the pending queues hold
// their steady-state load. Replays are not duplicates: a span is evicted
// before the next pass reaches it again.
func BenchmarkSteadyConsume(b *testing.B) {
	recs, _, spans := workloadRecords(b)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set := pairing.Settings{Now: func() time.Time { return clock }}
	feed := func(p *pairing.Processor) {
		for i, r := range recs {
			clock = clock.Add(12 * time.Millisecond)
			if err := p.ConsumeTracesProto(context.Background(), r); err != nil {
				b.Fatal(err)
			}
			if i%83 == 82 {
				p.Expire(clock)
			}
		}
	}
	b.Run("fresh", func(b *testing.B) { runWorkloadWith(b, spans, set, feed) })
	b.Run("steady", func(b *testing.B) {
		cfg := benchConfig()
		cfg.MaxIndexSpans = max(spans/2, cfg.Shards)
		g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: set.Now})
		p, err := pairing.New(cfg, set, g)
		if err != nil {
			b.Fatal(err)
		}
		for range 4 { // the index full, and every queue's ring gone round once (its chunks allocated)
			feed(p)
		}
		if st := p.Stats(); st.IndexSpans < cfg.MaxIndexSpans-cfg.Shards || st.SpansDuplicate > 0 {
			b.Fatalf("not steady after warm-up: %+v", st)
		}
		evictions := p.Stats().IndexEvictions
		b.ReportAllocs()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cpu0 := cputime.Process()
		for b.Loop() {
			feed(p)
		}
		cpu := cputime.Process() - cpu0
		runtime.ReadMemStats(&after)
		st := p.Stats()
		if st.SpansDuplicate > 0 || st.IndexEvictions-evictions < uint64(b.N*spans*9/10) {
			b.Fatalf("timed passes did not evict every insert: %+v", st)
		}
		total := float64(spans) * float64(b.N)
		b.ReportMetric(total/b.Elapsed().Seconds(), "spans/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/span")
		b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/span")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/span")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/span")
	})
}

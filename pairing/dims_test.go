package pairing_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/cputime"
	"github.com/servicegraph/servicegraph/pairing"
)

// dimTrace is TestDimensions' trace set: web (resource
// service.namespace=shop) serves a root request, calls api (resource
// service.namespace=core, which wins over the span's own
// service.namespace=ignored) and the database orders; a span of api links
// to web's CLIENT span.
func dimTrace() ptrace.Traces {
	td := ptrace.NewTraces()
	id := func(b byte) (pcommon.TraceID, pcommon.SpanID) {
		return pcommon.TraceID{1, 2, 3}, pcommon.SpanID{b}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(svc, ns string, spans ...func(ptrace.Span)) {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		if ns != "" {
			rs.Resource().Attributes().PutStr("service.namespace", ns)
		}
		ss := rs.ScopeSpans().AppendEmpty()
		for _, f := range spans {
			sp := ss.Spans().AppendEmpty()
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(50 * time.Millisecond)))
			f(sp)
		}
	}
	span := func(self, parent byte, kind ptrace.SpanKind, attrs ...string) func(ptrace.Span) {
		return func(sp ptrace.Span) {
			tr, s := id(self)
			sp.SetTraceID(tr)
			sp.SetSpanID(s)
			if parent != 0 {
				_, p := id(parent)
				sp.SetParentSpanID(p)
			}
			sp.SetKind(kind)
			for i := 0; i < len(attrs); i += 2 {
				sp.Attributes().PutStr(attrs[i], attrs[i+1])
			}
		}
	}
	add("web", "shop",
		span(1, 0, ptrace.SpanKindServer),
		span(2, 1, ptrace.SpanKindClient, "deployment.environment", "prod"),
		span(3, 1, ptrace.SpanKindClient, "db.system", "postgresql", "db.namespace", "orders"))
	add("api", "core",
		span(4, 2, ptrace.SpanKindServer, "service.namespace", "ignored", "deployment.environment", "canary"),
		func(sp ptrace.Span) {
			span(5, 0, ptrace.SpanKindInternal, "deployment.environment", "batch")(sp)
			sp.SetTraceID(pcommon.TraceID{9})
			l := sp.Links().AppendEmpty()
			tr, s := id(2)
			l.SetTraceID(tr)
			l.SetSpanID(s)
		})
	return td
}

// dimSeriesOf lists every sub-series of snap as
// "client{client values} -kind-> server{server values} count failed n(server seconds)".
func dimSeriesOf(s *graph.Snapshot) []string {
	var out []string
	for _, e := range s.Edges {
		for _, d := range e.Dims {
			out = append(out, fmt.Sprintf("%s{%s} -%s-> %s{%s} %d %d", e.Client, strings.Join(d.Client, ","), e.Kind,
				e.Server, strings.Join(d.Server, ","), d.Count, d.Failed))
		}
	}
	return out
}

// TestDimensions checks the sub-series of a constructed trace set, sent
// whole, span by span in order and in reverse, over both decoders and as
// Kafka records: client
// and server values, the resource's value before the span's, waits
// (children, links, expiring CLIENT spans) carrying their values, and
// sums equal to the edges' counts.
func TestDimensions(t *testing.T) {
	want := []string{
		"user{,} -virtual_node-> web{shop,} 1 0",
		"web{shop,prod} -call-> api{core,canary} 1 0",
		"web{shop,prod} -span_link-> api{core,batch} 1 0",
		"web{shop,} -database-> orders{,} 1 0",
	}
	td := dimTrace()
	reqs := map[string][]ptrace.Traces{"whole": {td}, "singles": singles(td)}
	rev := slices.Clone(reqs["singles"])
	slices.Reverse(rev)
	reqs["reversed"] = rev
	for name, rs := range reqs {
		for _, via := range []string{"pdata", "wire", "record"} {
			t.Run(name+"/"+via, func(t *testing.T) {
				c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
				gcfg := graph.NewDefaultConfig()
				gcfg.Dimensions = []string{"service.namespace", "deployment.environment"}
				g := graph.MustNew(gcfg, graph.Settings{Now: c.now})
				p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: c.now}, g)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					buf, err := ptraceotlp.NewExportRequestFromTraces(r).MarshalProto()
					if err != nil {
						t.Fatal(err)
					}
					switch via {
					case "pdata":
						err = p.ConsumeTraces(context.Background(), r)
					case "wire":
						err = p.ConsumeTracesProto(context.Background(), buf)
					case "record": // a Kafka record (Scale-out)
						err = p.ConsumeRecord(context.Background(), buf, pairing.Record{}, nil)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				p.Flush()
				snap := g.Snapshot()
				got := dimSeriesOf(snap)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("sub-series:\n got %q\nwant %q", got, want)
				}
				checkDimSums(t, snap)
			})
		}
	}
}

// checkDimSums checks that every edge's sub-series sum to its totals:
// counts, failures and every histogram.
func checkDimSums(t *testing.T, snap *graph.Snapshot) {
	t.Helper()
	for _, e := range snap.Edges {
		var count, failed uint64
		var hists [4]graph.Histogram
		for _, d := range e.Dims {
			count += d.Count
			failed += d.Failed
			for i, h := range []graph.Histogram{d.Hist[0], d.Hist[1], d.AsyncHist[0], d.AsyncHist[1]} {
				hists[i].Count += h.Count
				hists[i].Sum += h.Sum
				if hists[i].Counts == nil && h.Counts != nil {
					hists[i].Counts = make([]uint64, len(h.Counts))
				}
				for b, c := range h.Counts {
					hists[i].Counts[b] += c
				}
			}
		}
		if count != e.Count || failed != e.Failed {
			t.Errorf("%s -> %s %s: sub-series sum to %d/%d, edge %d/%d", e.Client, e.Server, e.Kind, count, failed, e.Count, e.Failed)
		}
		for i, h := range []graph.Histogram{e.Hist[0], e.Hist[1], e.AsyncHist[0], e.AsyncHist[1]} {
			if hists[i].Count != h.Count || !slices.Equal(hists[i].Counts, h.Counts) || fmt.Sprintf("%.9g", hists[i].Sum) != fmt.Sprintf("%.9g", h.Sum) {
				t.Errorf("%s -> %s %s: histogram %d of the sub-series %+v, edge %+v", e.Client, e.Server, e.Kind, i, hists[i], h)
			}
		}
	}
}

// BenchmarkDimensionsCost measures ConsumeTracesProto over the bench
// workload (../shared/bench: resources with service.namespace, spans with
// http.request.method) without dimensions and with
// --dimensions service.namespace,http.request.method: CPU per span
// (process CPU time) and allocations per span.
func BenchmarkDimensionsCost(b *testing.B) {
	recs, _, spans := workloadRecords(b)
	for _, dims := range [][]string{nil, {"service.namespace", "http.request.method"}} {
		name := "off"
		if dims != nil {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			var allocs uint64
			var m0, m1 runtime.MemStats
			for b.Loop() {
				b.StopTimer()
				gcfg := graph.NewDefaultConfig()
				gcfg.Dimensions = dims
				g := graph.MustNew(gcfg, graph.Settings{})
				p, err := pairing.New(benchConfig(), pairing.Settings{}, g)
				if err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&m0)
				b.StartTimer()
				c0 := cputime.Process()
				for _, r := range recs {
					if err := p.ConsumeTracesProto(context.Background(), r); err != nil {
						b.Fatal(err)
					}
				}
				cpu += cputime.Process() - c0
				b.StopTimer()
				runtime.ReadMemStats(&m1)
				allocs += m1.Mallocs - m0.Mallocs
				if dims != nil && g.Stats().Dims.Series == 0 {
					b.Fatal("no sub-series: the workload has none of the dimensions")
				}
				b.StartTimer()
			}
			n := float64(spans) * float64(b.N)
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/span")
			b.ReportMetric(float64(allocs)/n, "allocs/span")
		})
	}
}

package pairing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/pairing"
)

// sp describes one span for programmatic traces.
type sp struct {
	svc          string
	trace, id    byte
	parent       byte
	kind         ptrace.SpanKind
	err          bool
	attrs        map[string]string
	links        [][2]byte // (trace, span) targets
	startMs, end int64
	traceState   string // W3C tracestate, e.g. ot=th:c
}

func traces(spans ...sp) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, s := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.svc)
		o := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		o.SetTraceID(tid(s.trace))
		o.SetSpanID(sid(s.id))
		if s.parent != 0 {
			o.SetParentSpanID(sid(s.parent))
		}
		o.SetKind(s.kind)
		o.SetName("op")
		o.TraceState().FromRaw(s.traceState)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		o.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s.startMs) * time.Millisecond)))
		o.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s.end) * time.Millisecond)))
		if s.err {
			o.Status().SetCode(ptrace.StatusCodeError)
		}
		for k, v := range s.attrs {
			o.Attributes().PutStr(k, v)
		}
		for _, l := range s.links {
			nl := o.Links().AppendEmpty()
			nl.SetTraceID(tid(l[0]))
			nl.SetSpanID(sid(l[1]))
		}
	}
	return td
}

func tid(b byte) pcommon.TraceID {
	if b == 0 {
		return pcommon.TraceID{}
	}
	return pcommon.TraceID{15: b, 0: 1}
}

func sid(b byte) pcommon.SpanID {
	if b == 0 {
		return pcommon.SpanID{}
	}
	return pcommon.SpanID{7: b, 0: 1}
}

func consume(t *testing.T, p *pairing.Processor, td ptrace.Traces) {
	t.Helper()
	if err := p.ConsumeTraces(context.Background(), td); err != nil {
		t.Fatal(err)
	}
}

func TestLinkWaits(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	cfg.LinkWait = 5 * time.Minute
	p, g, c := newPipeline(t, cfg)
	producer := sp{svc: "orders", trace: 1, id: 1, kind: ptrace.SpanKindProducer, end: 10}
	consumerSpan := sp{svc: "shipping", trace: 2, id: 2, kind: ptrace.SpanKindConsumer, links: [][2]byte{{1, 1}}, startMs: 2010, end: 2020}
	lost := sp{svc: "shipping", trace: 3, id: 3, kind: ptrace.SpanKindConsumer, links: [][2]byte{{9, 9}}}

	consume(t, p, traces(consumerSpan, lost)) // both links wait
	if st := p.Stats(); st.PendingLinks != 2 {
		t.Fatalf("pending links = %d, want 2", st.PendingLinks)
	}
	c.t = c.t.Add(4 * time.Minute)
	p.Expire(c.t)
	consume(t, p, traces(producer)) // arrives within the wait: resolves at once
	if got := edgesOf(g.Snapshot()); !slices.Equal(got, []string{"orders>shipping:messaging_system 1/0"}) {
		t.Fatalf("edges = %q", got)
	}
	if got := g.Snapshot().Edges[0].Hist[0]; got.Count != 1 || got.Sum != 2 {
		t.Fatalf("delay histogram = %+v, want one observation of 2s", got)
	}
	if len(p.Problems()) != 0 {
		t.Fatalf("problems before the wait is over: %+v", p.Problems())
	}
	c.t = c.t.Add(time.Minute) // the lost link's wait is over
	p.Expire(c.t)
	if got := linksOf(g.Snapshot()); !slices.Equal(got, []string{"shipping resolved 1", "shipping unresolved 1"}) {
		t.Fatalf("links = %q", got)
	}
	probs := p.Problems()
	if len(probs) != 1 {
		t.Fatalf("problems = %+v", probs)
	}
	want := pairing.Problem{Result: "unresolved", Service: "shipping", SpanName: "op",
		TraceID: "01000000000000000000000000000003", SpanID: "0100000000000003",
		LinkTraceID: "01000000000000000000000000000009", LinkSpanID: "0100000000000009",
		Time: c.t, LikelyCause: pairing.CauseNeverSeen}
	if probs[0] != want {
		t.Fatalf("problem =\n %+v\nwant\n %+v", probs[0], want)
	}
	// A target arriving after the wait makes no edge.
	consume(t, p, traces(sp{svc: "x", trace: 9, id: 9, kind: ptrace.SpanKindProducer}))
	if n := len(g.Snapshot().Edges); n != 1 {
		t.Fatalf("late target made an edge: %q", edgesOf(g.Snapshot()))
	}
}

func TestPairWait(t *testing.T) {
	p, g, c := newPipeline(t, pairing.NewDefaultConfig())
	client := sp{svc: "api", trace: 1, id: 1, parent: 0, kind: ptrace.SpanKindClient, attrs: map[string]string{"peer.service": "legacy"}, end: 5}
	orphan := sp{svc: "api", trace: 2, id: 2, parent: 7, kind: ptrace.SpanKindServer}
	consume(t, p, traces(client, orphan))
	c.t = c.t.Add(9 * time.Second)
	p.Expire(c.t)
	if n := len(g.Snapshot().Edges); n != 0 {
		t.Fatalf("edges before pair wait: %q", edgesOf(g.Snapshot()))
	}
	c.t = c.t.Add(time.Second)
	p.Expire(c.t)
	if got := edgesOf(g.Snapshot()); !slices.Equal(got, []string{"api>legacy:virtual_node 1/0"}) {
		t.Fatalf("edges = %q", got)
	}
	st := p.Stats()
	if st.ExpiredChildren != 1 || st.PendingChildren != 0 || st.PendingClients != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestBounds(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	cfg.Shards, cfg.MaxIndexSpans, cfg.MaxPendingSpans, cfg.MaxPendingLinks = 1, 4, 2, 2
	p, g, _ := newPipeline(t, cfg)
	// Three orphans wait for parents that never come; the cap is 2.
	consume(t, p, traces(
		sp{svc: "a", trace: 1, id: 1, parent: 50, kind: ptrace.SpanKindServer},
		sp{svc: "a", trace: 1, id: 2, parent: 51, kind: ptrace.SpanKindServer},
		sp{svc: "a", trace: 1, id: 3, parent: 52, kind: ptrace.SpanKindServer},
	))
	// Three links wait for targets; the cap is 2.
	consume(t, p, traces(sp{svc: "b", trace: 2, id: 9, kind: ptrace.SpanKindInternal, links: [][2]byte{{3, 1}, {3, 2}, {3, 3}}}))
	st := p.Stats()
	if st.DroppedChildren != 1 || st.PendingChildren != 2 || st.DroppedLinks != 1 || st.PendingLinks != 2 {
		t.Fatalf("stats = %+v", st)
	}
	if st.IndexSpans != 4 || st.IndexEvictions != 0 {
		t.Fatalf("index = %d spans, %d evictions", st.IndexSpans, st.IndexEvictions)
	}
	consume(t, p, traces(sp{svc: "c", trace: 4, id: 1, kind: ptrace.SpanKindInternal}))
	if st := p.Stats(); st.IndexSpans != 4 || st.IndexEvictions != 1 {
		t.Fatalf("index after one more = %d spans, %d evictions", st.IndexSpans, st.IndexEvictions)
	}
	checkAccounting(t, p.Stats())
	if got := linksOf(g.Snapshot()); !slices.Equal(got, []string{"b dropped 1"}) {
		t.Fatalf("links = %q", got)
	}
}

func TestRejectsZeroIDs(t *testing.T) {
	p, g, _ := newPipeline(t, pairing.NewDefaultConfig())
	err := p.ConsumeTraces(context.Background(), traces(
		sp{svc: "a", trace: 0, id: 1, kind: ptrace.SpanKindServer},
		sp{svc: "a", trace: 1, id: 0, kind: ptrace.SpanKindServer},
		sp{svc: "a", trace: 1, id: 1, kind: ptrace.SpanKindServer},
	))
	pe, ok := consumer.AsPartial(err)
	if !ok || pe.Rejected != 2 {
		t.Fatalf("err = %v, want 2 rejected", err)
	}
	if got := edgesOf(g.Snapshot()); !slices.Equal(got, []string{"user>a:virtual_node 1/0"}) {
		t.Fatalf("edges = %q", got)
	}
	if st := p.Stats(); st.SpansReceived != 3 || st.SpansRejected != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestManyLinks(t *testing.T) {
	// A batch job with 10,000 links, half to spans seen before and half to
	// spans that arrive after; the index holds spans only.
	p, g, _ := newPipeline(t, pairing.NewDefaultConfig())
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "batch")
	job := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	job.SetTraceID(pcommon.TraceID{0: 9})
	job.SetSpanID(pcommon.SpanID{0: 9})
	targets := ptrace.NewTraces()
	trs := targets.ResourceSpans().AppendEmpty()
	trs.Resource().Attributes().PutStr("service.name", "web")
	tspans := trs.ScopeSpans().AppendEmpty().Spans()
	for i := range 10000 {
		id := pcommon.TraceID{0: 1, 1: byte(i >> 8), 2: byte(i)}
		l := job.Links().AppendEmpty()
		l.SetTraceID(id)
		l.SetSpanID(pcommon.SpanID{0: 1})
		s := tspans.AppendEmpty()
		s.SetTraceID(id)
		s.SetSpanID(pcommon.SpanID{0: 1})
		s.SetKind(ptrace.SpanKindInternal)
	}
	half := ptrace.NewTraces()
	hrs := half.ResourceSpans().AppendEmpty()
	trs.Resource().CopyTo(hrs.Resource())
	hspans := hrs.ScopeSpans().AppendEmpty().Spans()
	tspans.RemoveIf(func(s ptrace.Span) bool {
		if s.TraceID()[2]%2 == 0 {
			s.CopyTo(hspans.AppendEmpty())
			return true
		}
		return false
	})
	consume(t, p, half)
	consume(t, p, td)
	consume(t, p, targets)
	if got := edgesOf(g.Snapshot()); !slices.Equal(got, []string{"web>batch:span_link 10000/0"}) {
		t.Fatalf("edges = %q", got)
	}
	if st := p.Stats(); st.IndexSpans != 10001 || st.PendingLinks != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

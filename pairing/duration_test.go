package pairing_test

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/pairing"
)

// rawSpan is a span with times in Unix nanoseconds.
type rawSpan struct {
	svc        string
	trace, id  byte
	parent     byte
	kind       ptrace.SpanKind
	start, end uint64
	peer       string
	link       byte // a link to span link of trace link, if set
}

func rawTraces(spans ...rawSpan) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, s := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.svc)
		o := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		o.SetTraceID(tid(s.trace))
		o.SetSpanID(sid(s.id))
		o.SetParentSpanID(sid(s.parent))
		o.SetKind(s.kind)
		o.SetStartTimestamp(pcommon.Timestamp(s.start))
		o.SetEndTimestamp(pcommon.Timestamp(s.end))
		if s.peer != "" {
			o.Attributes().PutStr("peer.service", s.peer)
		}
		if s.link != 0 {
			l := o.Links().AppendEmpty()
			l.SetTraceID(tid(s.link))
			l.SetSpanID(sid(s.link))
		}
	}
	return td
}

// Every duration and delay saturates at pairing.MaxSeconds, and a negative
// delay counts 0: a span from 1970 to now adds exactly an hour to the
// server and the client sums alike, whichever side arrives first.
func TestDurationsSaturate(t *testing.T) {
	now := uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	const epoch = 1 // 1970-01-01T00:00:00.000000001Z
	const sat = pairing.MaxSeconds
	if sat != 3600 {
		t.Fatalf("MaxSeconds = %d, the README says an hour", sat)
	}
	type sums struct{ server, client float64 } // -1: no observation on that side
	tests := []struct {
		name  string
		spans []rawSpan
		edge  string
		want  sums
	}{
		{"call from 1970 to now", []rawSpan{
			{svc: "a", trace: 1, id: 1, kind: ptrace.SpanKindClient, start: epoch, end: now},
			{svc: "b", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindServer, start: epoch, end: now},
		}, "a>b:call", sums{sat, sat}},
		{"call from 1970 to now, server first", []rawSpan{
			{svc: "b", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindServer, start: epoch, end: now},
			{svc: "a", trace: 1, id: 1, kind: ptrace.SpanKindClient, start: epoch, end: now},
		}, "a>b:call", sums{sat, sat}},
		{"call just below the bound", []rawSpan{
			{svc: "a", trace: 1, id: 1, kind: ptrace.SpanKindClient, start: now - 3599_999_999_000, end: now},
			{svc: "b", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindServer, start: now - 1_500_000_000, end: now},
		}, "a>b:call", sums{1.5, 3599.999999}},
		{"call just past the bound", []rawSpan{
			{svc: "a", trace: 1, id: 1, kind: ptrace.SpanKindClient, start: now - 3600_000_001_000, end: now},
			{svc: "b", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindServer, start: now - 3600_000_000_001, end: now},
		}, "a>b:call", sums{sat, sat}},
		{"root server span", []rawSpan{
			{svc: "b", trace: 1, id: 1, kind: ptrace.SpanKindServer, start: epoch, end: now},
		}, "user>b:virtual_node", sums{sat, -1}},
		{"client without a server", []rawSpan{
			{svc: "a", trace: 1, id: 1, kind: ptrace.SpanKindClient, start: epoch, end: now, peer: "legacy"},
		}, "a>legacy:virtual_node", sums{sat, sat}}, // no server span: the server side is the client's duration
		{"messaging delay from 1970", []rawSpan{
			{svc: "p", trace: 1, id: 1, kind: ptrace.SpanKindProducer, start: epoch, end: epoch},
			{svc: "c", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindConsumer, start: now, end: now},
		}, "p>c:messaging_system", sums{sat, -1}},
		{"negative messaging delay", []rawSpan{
			{svc: "p", trace: 1, id: 1, kind: ptrace.SpanKindProducer, start: now, end: now},
			{svc: "c", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindConsumer, start: epoch, end: epoch},
		}, "p>c:messaging_system", sums{0, -1}},
		{"link delay from 1970, target first", []rawSpan{
			{svc: "t", trace: 1, id: 1, kind: ptrace.SpanKindInternal, start: epoch, end: epoch},
			{svc: "j", trace: 2, id: 2, kind: ptrace.SpanKindInternal, start: now, end: now, link: 1},
		}, "t>j:span_link", sums{sat, -1}},
		{"link delay from 1970, link first", []rawSpan{
			{svc: "j", trace: 2, id: 2, kind: ptrace.SpanKindInternal, start: now, end: now, link: 1},
			{svc: "t", trace: 1, id: 1, kind: ptrace.SpanKindInternal, start: epoch, end: epoch},
		}, "t>j:span_link", sums{sat, -1}},
		{"negative link delay", []rawSpan{
			{svc: "t", trace: 1, id: 1, kind: ptrace.SpanKindInternal, start: now, end: now},
			{svc: "j", trace: 2, id: 2, kind: ptrace.SpanKindInternal, start: epoch, end: epoch, link: 1},
		}, "t>j:span_link", sums{0, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, g, c := newPipeline(t, pairing.NewDefaultConfig())
			for _, s := range tt.spans { // one request each, in order
				consume(t, p, rawTraces(s))
			}
			c.t = c.t.Add(time.Hour)
			p.Expire(c.t)
			snap := g.Snapshot()
			if len(snap.Edges) != 1 {
				t.Fatalf("edges = %q, want %s", edgesOf(snap), tt.edge)
			}
			e := snap.Edges[0]
			if got := fmt.Sprintf("%s>%s:%s", e.Client, e.Server, e.Kind); got != tt.edge {
				t.Fatalf("edge %s, want %s", got, tt.edge)
			}
			for i, want := range []float64{tt.want.server, tt.want.client} {
				h := e.Hist[i]
				if want < 0 {
					if h.Count != 0 {
						t.Errorf("side %d: %d observations, want none", i, h.Count)
					}
					continue
				}
				if h.Count != 1 || h.Sum != want {
					t.Errorf("side %d: count %d sum %v, want 1 observation of exactly %v", i, h.Count, h.Sum, want)
				}
			}
		})
	}
}

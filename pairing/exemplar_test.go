package pairing_test

import (
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/pairing"
)

// Each edge's exemplar names its client side's span: the CLIENT of a call,
// the producer of a message, the linked-to span of a link, the CLIENT of
// an expired database call; a root span's own on its user edge.
func TestExemplarSpans(t *testing.T) {
	p, g, c := newPipeline(t, pairing.NewDefaultConfig())
	consume(t, p, traces(
		sp{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
		sp{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 40},
		sp{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 35},
		sp{svc: "api", trace: 1, id: 4, parent: 3, kind: ptrace.SpanKindProducer, startMs: 16, end: 17},
		sp{svc: "api", trace: 1, id: 5, parent: 3, kind: ptrace.SpanKindClient, startMs: 20, end: 30, attrs: map[string]string{"db.system": "postgresql", "db.name": "orders"}},
		sp{svc: "worker", trace: 2, id: 6, kind: ptrace.SpanKindConsumer, startMs: 40, end: 45},
		sp{svc: "billing", trace: 3, id: 7, kind: ptrace.SpanKindInternal, startMs: 60, end: 70, links: [][2]byte{{1, 4}}},
		sp{svc: "worker", trace: 1, id: 8, parent: 4, kind: ptrace.SpanKindConsumer, startMs: 20, end: 25},
	))
	c.t = c.t.Add(time.Minute)
	p.Expire(c.t)
	p.Flush()
	var got []string
	for _, e := range g.Snapshot().Edges {
		got = append(got, e.Client+">"+e.Server+":"+e.Kind.String()+" "+e.Exemplar.TraceID()+" "+e.Exemplar.SpanID())
	}
	slices.Sort(got)
	tr := func(b byte) string { id := tid(b); return hex.EncodeToString(id[:]) }
	span := func(b byte) string { id := sid(b); return hex.EncodeToString(id[:]) }
	want := []string{
		"api>billing:span_link " + tr(1) + " " + span(4),
		"api>orders:database " + tr(1) + " " + span(5),
		"api>worker:messaging_system " + tr(1) + " " + span(4),
		"user>web:virtual_node " + tr(1) + " " + span(1),
		"web>api:call " + tr(1) + " " + span(2),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("exemplars:\n%v\nwant\n%v", got, want)
	}
}

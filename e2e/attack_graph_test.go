package e2e

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// agSpan is one span of a hand-built OTLP request.
type agSpan struct {
	svc           string
	trace         uint32
	id, parent    uint32
	kind          ptrace.SpanKind
	peer, dbSys   string // peer.service; db.system.name (with db.namespace = peer)
	failed        bool
	startMs, durM int64
}

// agTraces builds one OTLP request, a resource per span.
func agTraces(spans []agSpan) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, sp := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", sp.svc)
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(agTraceID(sp.trace))
		s.SetSpanID(agSpanID(sp.id))
		if sp.parent != 0 {
			s.SetParentSpanID(agSpanID(sp.parent))
		}
		s.SetName("op")
		s.SetKind(sp.kind)
		start := pcommon.Timestamp(1_700_000_000_000_000_000 + sp.startMs*1e6)
		s.SetStartTimestamp(start)
		s.SetEndTimestamp(start + pcommon.Timestamp(max(sp.durM, 1)*1e6))
		if sp.failed {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
		switch {
		case sp.dbSys != "":
			s.Attributes().PutStr("db.system.name", sp.dbSys)
			s.Attributes().PutStr("db.namespace", sp.peer)
		case sp.peer != "":
			s.Attributes().PutStr("peer.service", sp.peer)
		}
	}
	return td
}

func agTraceID(n uint32) [16]byte {
	return [16]byte{0: 0xa9, 12: byte(n >> 24), 13: byte(n >> 16), 14: byte(n >> 8), 15: byte(n)}
}

func agSpanID(n uint32) [8]byte {
	return [8]byte{0: 0xa9, 4: byte(n >> 24), 5: byte(n >> 16), 6: byte(n >> 8), 7: byte(n)}
}

// agPost sends td over OTLP/HTTP protobuf and wants a 200.
func agPost(t *testing.T, s *service, td ptrace.Traces) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+s.http+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %d", resp.StatusCode)
	}
}

// TestAttackGraphReservedNames: services called "user" and "__overflow__"
// do not impersonate the synthetic nodes; they become "user~" and
// "__overflow__~", each series distinct, over the real binary.
func TestAttackGraphReservedNames(t *testing.T) {
	s := start(t, t.TempDir(), "--pair-wait", "1s")
	agPost(t, s, agTraces([]agSpan{
		// A root SERVER span of the real service "user": synthetic user → user~.
		{svc: "user", trace: 1, id: 1, kind: ptrace.SpanKindServer},
		// user~ calls web.
		{svc: "user", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient},
		{svc: "web", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer},
		// A root SERVER span of web: synthetic user → web.
		{svc: "web", trace: 2, id: 4, kind: ptrace.SpanKindServer},
		// web calls an uninstrumented peer named "user": web → user~.
		{svc: "web", trace: 2, id: 5, parent: 4, kind: ptrace.SpanKindClient, peer: "user"},
		// The service "__overflow__" queries a database "__overflow__".
		{svc: "__overflow__", trace: 3, id: 6, kind: ptrace.SpanKindServer},
		{svc: "__overflow__", trace: 3, id: 7, parent: 6, kind: ptrace.SpanKindClient, peer: "__overflow__", dbSys: "postgresql"},
	}))
	want := []string{
		"client=__overflow__~,connection_type=database,server=__overflow__~ 1",
		"client=user,connection_type=virtual_node,server=__overflow__~ 1",
		"client=user,connection_type=virtual_node,server=user~ 1",
		"client=user,connection_type=virtual_node,server=web 1",
		"client=user~,connection_type=,server=web 1",
		"client=web,connection_type=virtual_node,server=user~ 1",
	}
	var got []string
	if !poll(20*time.Second, func() bool {
		got = series(s.metrics(t), "traces_service_graph_request_total")
		return slices.Equal(got, want)
	}) {
		t.Fatalf("edges:\n%q\nwant\n%q", got, want)
	}
	fams := s.metrics(t)
	if v, _ := value(fams, "servicegraph_nodes"); v != 4 { // user, user~, web, __overflow__~ (the service and the database)
		t.Fatalf("servicegraph_nodes = %g, want 4", v)
	}
	if v, _ := value(fams, "servicegraph_nodes_overflow_total"); v != 0 {
		t.Fatalf("servicegraph_nodes_overflow_total = %g, want 0", v)
	}
}

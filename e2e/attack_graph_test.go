package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
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

// agSum sums a family's samples (counters and gauges) whose labels contain
// every given "name=value".
func agSum(fams map[string]*dto.MetricFamily, name string, match ...string) float64 {
	var sum float64
next:
	for _, m := range fams[name].GetMetric() {
		ls := labels(m.GetLabel())
		for _, kv := range match {
			k, v, _ := strings.Cut(kv, "=")
			if ls[k] != v {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// TestAttackGraphRestoreFolds: a graph of 30 services saved, then restored
// with --max-nodes 10, keeps every occurrence: the 22 services past the cap
// are summed into user → __overflow__, and a second save and restore keeps
// the same totals.
func TestAttackGraphRestoreFolds(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	var spans []agSpan
	id := uint32(1)
	for i := range 30 {
		for range i + 1 { // service i gets i+1 requests from user
			spans = append(spans, agSpan{svc: fmt.Sprintf("svc-%02d", i), trace: id, id: id, kind: ptrace.SpanKindServer})
			id++
		}
	}
	agPost(t, s, agTraces(spans))
	const total = 30 * 31 / 2
	eventually(t, 20*time.Second, "465 edge occurrences", func() bool {
		return agSum(s.metrics(t), "traces_service_graph_request_total") == total
	})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for round := range 2 {
		s = start(t, dir, "--max-nodes", "10") // user, 8 services, __overflow__
		fams := s.metrics(t)
		got := map[string]float64{
			"total":             agSum(fams, "traces_service_graph_request_total"),
			"user→__overflow__": agSum(fams, "traces_service_graph_request_total", "client=user", "server=__overflow__"),
			"user→svc-07":       agSum(fams, "traces_service_graph_request_total", "client=user", "server=svc-07"),
			"overflow series":   float64(len(series(fams, "servicegraph_edge_first_seen_timestamp_seconds"))),
			"nodes":             agSum(fams, "servicegraph_nodes"),
			"edges folded":      agSum(fams, "servicegraph_edges_folded_total"),
			"nodes overflowed":  agSum(fams, "servicegraph_nodes_overflow_total"),
		}
		want := map[string]float64{
			"total":             total,
			"user→__overflow__": 429, // 9 + 10 + … + 30
			"user→svc-07":       8,
			"overflow series":   9, // 8 services and __overflow__
			"nodes":             10,
			"edges folded":      21, // the first restored overflow edge, then 21 summed into it
			"nodes overflowed":  22,
		}
		if round == 1 { // the saved graph already fits: nothing more folds
			want["edges folded"], want["nodes overflowed"] = 0, 0
		}
		if !maps.Equal(got, want) {
			t.Fatalf("round %d after restore with --max-nodes 10:\n%v\nwant\n%v", round, got, want)
		}
		if code := s.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("exit %d", code)
		}
	}
}

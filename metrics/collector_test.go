package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExposition(t *testing.T) {
	now := time.Unix(1767225600, 0)
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, g)
	if err != nil {
		t.Fatal(err)
	}
	td := ptrace.NewTraces()
	add := func(svc string, trace, id, parent byte, kind ptrace.SpanKind, durMs int64, link byte) {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID([16]byte{0: 1, 15: trace})
		s.SetSpanID([8]byte{0: 1, 7: id})
		if parent != 0 {
			s.SetParentSpanID([8]byte{0: 1, 7: parent})
		}
		s.SetKind(kind)
		s.SetStartTimestamp(1_000_000_000)
		s.SetEndTimestamp(pcommon.Timestamp(1_000_000_000 + 1e6*uint64(durMs)))
		if link != 0 {
			l := s.Links().AppendEmpty()
			l.SetTraceID([16]byte{0: 1, 15: 1})
			l.SetSpanID([8]byte{0: 1, 7: link})
		}
	}
	add("web", 1, 1, 0, ptrace.SpanKindClient, 300, 0)
	add("api", 1, 2, 1, ptrace.SpanKindServer, 150, 0)
	add("batch", 2, 3, 0, ptrace.SpanKindInternal, 1, 2)
	if err := p.ConsumeTraces(context.Background(), td); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := metrics.Register(reg, g, p); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP traces_service_graph_request_failed_total Edge occurrences where either side's span had status ERROR.
# TYPE traces_service_graph_request_failed_total counter
traces_service_graph_request_failed_total{client="api",connection_type="span_link",server="batch"} 0
traces_service_graph_request_failed_total{client="web",connection_type="",server="api"} 0
# HELP traces_service_graph_request_total Edge occurrences: requests between two nodes, messages, resolved span links.
# TYPE traces_service_graph_request_total counter
traces_service_graph_request_total{client="api",connection_type="span_link",server="batch"} 1
traces_service_graph_request_total{client="web",connection_type="",server="api"} 1
# HELP traces_service_graph_request_server_seconds Server-side span duration (consumer, linking span; of a database or uninstrumented peer: the client's).
# TYPE traces_service_graph_request_server_seconds histogram
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="0.1"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="0.2"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="0.4"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="0.8"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="1.6"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="3.2"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="6.4"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="12.8"} 1
traces_service_graph_request_server_seconds_bucket{client="api",connection_type="span_link",server="batch",le="+Inf"} 1
traces_service_graph_request_server_seconds_sum{client="api",connection_type="span_link",server="batch"} 0.001
traces_service_graph_request_server_seconds_count{client="api",connection_type="span_link",server="batch"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="0.1"} 0
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="0.2"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="0.4"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="0.8"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="1.6"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="3.2"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="6.4"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="12.8"} 1
traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="+Inf"} 1
traces_service_graph_request_server_seconds_sum{client="web",connection_type="",server="api"} 0.15
traces_service_graph_request_server_seconds_count{client="web",connection_type="",server="api"} 1
# HELP servicegraph_span_links_total Span links declared by a service's spans, by outcome: resolved, unresolved (target never seen within the link wait), invalid (zero or malformed ids), dropped (a bound was hit).
# TYPE servicegraph_span_links_total counter
servicegraph_span_links_total{result="dropped",service="batch"} 0
servicegraph_span_links_total{result="invalid",service="batch"} 0
servicegraph_span_links_total{result="resolved",service="batch"} 1
servicegraph_span_links_total{result="unresolved",service="batch"} 0
# HELP servicegraph_edge_first_seen_timestamp_seconds When the edge was first seen, Unix seconds; survives restarts.
# TYPE servicegraph_edge_first_seen_timestamp_seconds gauge
servicegraph_edge_first_seen_timestamp_seconds{client="api",connection_type="span_link",server="batch"} 1.7672256e+09
servicegraph_edge_first_seen_timestamp_seconds{client="web",connection_type="",server="api"} 1.7672256e+09
# HELP servicegraph_pending_items Items waiting: spans for their parent (children), CLIENT spans for a server side (clients), links for their target (links).
# TYPE servicegraph_pending_items gauge
servicegraph_pending_items{queue="children"} 0
servicegraph_pending_items{queue="clients"} 0
servicegraph_pending_items{queue="links"} 0
# HELP servicegraph_pending_capacity Items a pending queue holds at most (--max-pending-spans, --max-pending-links): at it the oldest waiting item is dropped (servicegraph_dropped_total).
# TYPE servicegraph_pending_capacity gauge
servicegraph_pending_capacity{queue="children"} 1048576
servicegraph_pending_capacity{queue="clients"} 1048576
servicegraph_pending_capacity{queue="links"} 1048576
# HELP servicegraph_spans_received_total Spans received by pairing, refused ones included.
# TYPE servicegraph_spans_received_total counter
servicegraph_spans_received_total 3
`
	names := []string{"traces_service_graph_request_total", "traces_service_graph_request_failed_total",
		"traces_service_graph_request_server_seconds", "servicegraph_span_links_total",
		"servicegraph_edge_first_seen_timestamp_seconds", "servicegraph_pending_items", "servicegraph_pending_capacity", "servicegraph_spans_received_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

type fakePairing struct{ st pairing.Stats }

func (f fakePairing) Stats() pairing.Stats { return f.st }

// TestSpansRejected: both refusals pairing counts reach
// servicegraph_spans_rejected_total, each under its reason.
func TestSpansRejected(t *testing.T) {
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(g, fakePairing{pairing.Stats{SpansRejected: 3, SpansNodeOverflow: 7}}))
	want := `# HELP servicegraph_spans_rejected_total Spans refused, by reason.
# TYPE servicegraph_spans_rejected_total counter
servicegraph_spans_rejected_total{reason="invalid_id"} 3
servicegraph_spans_rejected_total{reason="node_id_overflow"} 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "servicegraph_spans_rejected_total"); err != nil {
		t.Fatal(err)
	}
}

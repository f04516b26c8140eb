package metrics_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// virtualGraph has an edge of each side of a virtual node: user → web and
// cron → worker (a root span's named caller: client), web → stripe (an
// uninstrumented peer: server), and web → api, a call (none).
func virtualGraph(t *testing.T) (*graph.Store, *pairing.Processor) {
	t.Helper()
	now := time.Unix(1767225600, 0)
	clock := func() time.Time { return now }
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: clock})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: clock}, g)
	if err != nil {
		t.Fatal(err)
	}
	td := ptrace.NewTraces()
	add := func(svc string, id, parent byte, kind ptrace.SpanKind, attrs map[string]any) {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID([16]byte{0: 1, 15: 1})
		s.SetSpanID([8]byte{0: 1, 7: id})
		if parent != 0 {
			s.SetParentSpanID([8]byte{0: 1, 7: parent})
		}
		s.SetKind(kind)
		s.SetStartTimestamp(1_000_000_000)
		s.SetEndTimestamp(1_020_000_000)
		if err := s.Attributes().FromRaw(attrs); err != nil {
			t.Fatal(err)
		}
	}
	add("web", 1, 0, ptrace.SpanKindServer, nil)
	add("web", 2, 1, ptrace.SpanKindClient, map[string]any{"peer.service": "stripe"})
	add("web", 3, 1, ptrace.SpanKindClient, nil)
	add("api", 4, 3, ptrace.SpanKindServer, nil)
	add("worker", 5, 0, ptrace.SpanKindServer, map[string]any{"peer.service": "cron"})
	if err := p.ConsumeTraces(context.Background(), td); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	return g, p
}

// TestVirtualNodeLabel: with virtual_node_label, every edge series has the
// label virtual_node (Tempo's enable_virtual_node_label): client, server,
// or empty; the streamed exposition is promhttp's over NewCollectorWith.
// Without it, no series has the label.
func TestVirtualNodeLabel(t *testing.T) {
	g, p := virtualGraph(t)
	cfg := metrics.NewDefaultConfig()
	cfg.VirtualNodeLabel = true
	regA := prometheus.NewPedanticRegistry()
	regA.MustRegister(metrics.NewCollectorWith(g, p, cfg))
	old := httptest.NewServer(promhttp.HandlerFor(regA, promhttp.HandlerOpts{Registry: regA}))
	defer old.Close()
	_, want := get(t, old.URL)

	for _, on := range []bool{true, false} {
		cfg.VirtualNodeLabel = on
		reg := prometheus.NewPedanticRegistry()
		h, err := metrics.NewHandler(cfg, metrics.Settings{Registerer: reg, Gatherer: reg}, g, p)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		_, got := get(t, srv.URL)
		srv.Close()
		lines := regexp.MustCompile(`(?m)^traces_service_graph_request_total\{.*$`).FindAll(got, -1)
		var total []string
		for _, l := range lines {
			total = append(total, string(l))
		}
		wantTotal := []string{
			`traces_service_graph_request_total{client="cron",connection_type="virtual_node",server="worker",virtual_node="client"} 1`,
			`traces_service_graph_request_total{client="user",connection_type="virtual_node",server="web",virtual_node="client"} 1`,
			`traces_service_graph_request_total{client="web",connection_type="",server="api",virtual_node=""} 1`,
			`traces_service_graph_request_total{client="web",connection_type="virtual_node",server="stripe",virtual_node="server"} 1`,
		}
		if !on {
			re := regexp.MustCompile(`,virtual_node="[a-z]*"`)
			for i := range wantTotal {
				wantTotal[i] = re.ReplaceAllString(wantTotal[i], "")
			}
			if bytes.Contains(got, []byte("virtual_node=")) {
				t.Errorf("label off: virtual_node in\n%s", got)
			}
		}
		if !slices.Equal(total, wantTotal) {
			t.Errorf("label %v: request_total\n%q\nwant\n%q", on, total, wantTotal)
		}
		if on && !bytes.Equal(dropFamily(got, "servicegraph_scrapes_refused_total"), want) {
			t.Errorf("streamed exposition differs from promhttp's:\n%s\nwant\n%s", got, want)
		}
	}
}

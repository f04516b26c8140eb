package metrics_test

import (
	"context"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// dimGraph: web (namespace shop) calls api twice, once from a span of
// env prod, once of env canary (failed); api (namespace core) calls db
// with a span whose resource names no namespace; a third namespace past
// --max-dimension-values 2 folds into __overflow__.
func dimGraph(t *testing.T) (*graph.Store, *pairing.Processor) {
	t.Helper()
	now := time.Unix(1767225600, 0)
	clock := func() time.Time { return now }
	gcfg := graph.NewDefaultConfig()
	gcfg.Dimensions, gcfg.MaxDimensionValues = []string{"service.namespace", "deployment.environment"}, 2
	g := graph.MustNew(gcfg, graph.Settings{Now: clock})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: clock}, g)
	if err != nil {
		t.Fatal(err)
	}
	td := ptrace.NewTraces()
	add := func(svc string, res map[string]any, id, parent byte, kind ptrace.SpanKind, attrs map[string]any, failed bool) {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		if err := rs.Resource().Attributes().FromRaw(res); err != nil {
			t.Fatal(err)
		}
		rs.Resource().Attributes().PutStr("service.name", svc)
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID([16]byte{0: 1, 15: 1})
		s.SetSpanID([8]byte{0: 1, 7: id})
		if parent != 0 {
			s.SetParentSpanID([8]byte{0: 1, 7: parent})
		}
		s.SetKind(kind)
		s.SetStartTimestamp(1_000_000_000)
		s.SetEndTimestamp(1_150_000_000)
		if failed {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
		if err := s.Attributes().FromRaw(attrs); err != nil {
			t.Fatal(err)
		}
	}
	shop, core := map[string]any{"service.namespace": "shop"}, map[string]any{"service.namespace": "core"}
	add("web", shop, 1, 0, ptrace.SpanKindClient, map[string]any{"deployment.environment": "prod"}, false)
	add("api", core, 2, 1, ptrace.SpanKindServer, nil, false)
	add("web", shop, 3, 0, ptrace.SpanKindClient, map[string]any{"deployment.environment": "canary"}, true)
	add("api", core, 4, 3, ptrace.SpanKindServer, nil, false)
	add("api", map[string]any{"service.namespace": "bank"}, 5, 0, ptrace.SpanKindClient, nil, false) // a third namespace
	add("db", nil, 6, 5, ptrace.SpanKindServer, nil, false)
	if err := p.ConsumeTraces(context.Background(), td); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	return g, p
}

// graphLines returns the sorted sample lines of the families named by
// prefix in text.
func graphLines(text []byte, prefix string) []string {
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// TestDimensionLabels checks the exposition with --dimensions: the exact
// request series with client_ and server_ labels (service.namespace as
// client_service_namespace and server_service_namespace, the labels
// Grafana's service graph groups namespaces by), the folded value and its
// counter, first/last seen per edge; and that the streamed text holds
// the same series as promhttp over NewCollectorWith.
func TestDimensionLabels(t *testing.T) {
	g, p := dimGraph(t)
	for _, vnode := range []bool{false, true} {
		cfg := metrics.NewDefaultConfig()
		cfg.Dimensions, cfg.VirtualNodeLabel = g.Dimensions(), vnode
		reg := prometheus.NewPedanticRegistry()
		h, err := metrics.NewHandler(cfg, metrics.Settings{Registerer: reg, Gatherer: reg}, g, p)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		_, got := get(t, srv.URL)
		srv.Close()
		want := []string{
			`traces_service_graph_request_failed_total{client="api",client_deployment_environment="",client_service_namespace="__overflow__",connection_type="",server="db",server_deployment_environment="",server_service_namespace=""} 0`,
			`traces_service_graph_request_failed_total{client="web",client_deployment_environment="canary",client_service_namespace="shop",connection_type="",server="api",server_deployment_environment="",server_service_namespace="core"} 1`,
			`traces_service_graph_request_failed_total{client="web",client_deployment_environment="prod",client_service_namespace="shop",connection_type="",server="api",server_deployment_environment="",server_service_namespace="core"} 0`,
			`traces_service_graph_request_total{client="api",client_deployment_environment="",client_service_namespace="__overflow__",connection_type="",server="db",server_deployment_environment="",server_service_namespace=""} 1`,
			`traces_service_graph_request_total{client="web",client_deployment_environment="canary",client_service_namespace="shop",connection_type="",server="api",server_deployment_environment="",server_service_namespace="core"} 1`,
			`traces_service_graph_request_total{client="web",client_deployment_environment="prod",client_service_namespace="shop",connection_type="",server="api",server_deployment_environment="",server_service_namespace="core"} 1`,
		}
		if vnode {
			for i := range want {
				want[i] = strings.Replace(want[i], `"} `, `",virtual_node=""} `, 1)
			}
		}
		gotReq := graphLines(got, "traces_service_graph_request_")
		gotReq = slices.DeleteFunc(gotReq, func(l string) bool { return !strings.Contains(l, "_total{") })
		if !slices.Equal(gotReq, want) {
			t.Errorf("vnode %v: request series\n%s\nwant\n%s", vnode, strings.Join(gotReq, "\n"), strings.Join(want, "\n"))
		}
		for _, l := range []string{
			`servicegraph_dimension_values_overflow_total{dimension="deployment.environment"} 0`,
			`servicegraph_dimension_values_overflow_total{dimension="service.namespace"} 1`,
			`servicegraph_dimension_series 3`,
			`servicegraph_dimension_series_overflow_total 0`,
		} {
			if !slices.Contains(strings.Split(string(got), "\n"), l) {
				t.Errorf("no line %q", l)
			}
		}
		// first and last seen stay per edge, without dimension labels.
		if n := len(regexp.MustCompile(`(?m)^servicegraph_edge_last_seen_timestamp_seconds\{client="web",connection_type="",server="api"(,virtual_node="")?\} `).FindAll(got, -1)); n != 1 {
			t.Errorf("vnode %v: %d last-seen series of web -> api, want 1", vnode, n)
		}
		// The registry path has the same graph series.
		regB := prometheus.NewPedanticRegistry()
		regB.MustRegister(metrics.NewCollectorWith(g, p, cfg))
		ref := httptest.NewServer(promhttp.HandlerFor(regB, promhttp.HandlerOpts{}))
		_, wantText := get(t, ref.URL)
		ref.Close()
		for _, prefix := range []string{"traces_service_graph_", "servicegraph_edge_", "servicegraph_dimension_"} {
			if a, b := graphLines(got, prefix), graphLines(wantText, prefix); !slices.Equal(a, b) {
				t.Errorf("vnode %v: %s series differ from the registry's:\n%s\nwant\n%s", vnode, prefix, strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
		}
	}
}

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TestSDKDimensions: --dimensions service.namespace,deployment.environment
// end to end with the OpenTelemetry Go SDK over both OTLP transports: web
// (resource service.namespace=shop, gRPC) serves a root request and calls
// api (resource service.namespace=core, HTTP) from a span of
// deployment.environment=prod; the request series carry
// client_service_namespace and server_service_namespace (the labels
// Grafana's service graph groups namespaces by) and the environment, and
// the per-edge gauges carry none.
func TestSDKDimensions(t *testing.T) {
	s := start(t, t.TempDir(), "--pair-wait", "2s", "--dimensions", "service.namespace,deployment.environment")
	a := &app{t: t, tracers: map[string]trace.Tracer{}}
	add := func(name, ns string, http bool) {
		res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name), semconv.ServiceNamespace(ns))
		a.add(s, name, http, res)
	}
	add("web", "shop", false)
	add("api", "core", true)

	_, root := a.span("web", "GET /", trace.SpanKindServer, trace.SpanContext{})
	_, call := a.span("web", "GET /items", trace.SpanKindClient, root.SpanContext(),
		trace.WithAttributes(attribute.String("deployment.environment", "prod")))
	_, srv := a.span("api", "GET /items", trace.SpanKindServer, call.SpanContext())
	srv.End()
	call.End()
	root.End()
	a.flush()

	want := []string{
		"client=user,client_deployment_environment=,client_service_namespace=,connection_type=virtual_node,server=web,server_deployment_environment=,server_service_namespace=shop 1",
		"client=web,client_deployment_environment=prod,client_service_namespace=shop,connection_type=,server=api,server_deployment_environment=,server_service_namespace=core 1",
	}
	var got []string
	if !poll(30*time.Second, func() bool {
		got = series(s.metrics(t), "traces_service_graph_request_total")
		return slices.Equal(got, want)
	}) {
		t.Fatalf("request series:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	fams := s.metrics(t)
	if got := series(fams, "traces_service_graph_request_server_seconds"); !slices.Equal(got, want) {
		t.Errorf("server durations:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, l := range series(fams, "servicegraph_edge_last_seen_timestamp_seconds") {
		if strings.Contains(l, "namespace") {
			t.Errorf("a per-edge gauge with dimension labels: %s", l)
		}
	}
}

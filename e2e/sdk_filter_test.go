package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TestSDKFilterPolicies: pairing.filter_policies from the configuration
// file, end to end with the OpenTelemetry Go SDK over both OTLP
// transports: health checks and a staging service are left out of the
// graph, and counted.
func TestSDKFilterPolicies(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "servicegraph.yaml")
	if err := os.WriteFile(cfg, []byte(`
pairing:
  filter_policies:
    - exclude:
        match_type: regex
        attributes:
          - key: name
            value: ^GET /health
    - include:
        match_type: strict
        attributes:
          - key: resource.deployment.environment
            value: prod
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, filepath.Join(dir, "data"), "--pair-wait", "2s", "--config", cfg)
	a := &app{t: t, tracers: map[string]trace.Tracer{}}
	add := func(name, env string, http bool) {
		res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name), attribute.String("deployment.environment", env))
		a.add(s, name, http, res)
	}
	add("web", "prod", false)
	add("api", "prod", true)
	add("loadgen", "staging", true)

	for range 2 {
		_, root := a.span("web", "GET /", trace.SpanKindServer, trace.SpanContext{})
		_, call := a.span("web", "GET /items", trace.SpanKindClient, root.SpanContext())
		_, srv := a.span("api", "GET /items", trace.SpanKindServer, call.SpanContext())
		srv.End()
		call.End()
		root.End()
	}
	// Filtered: a health check (by name) and a staging service (by its
	// resource); the staging caller's SERVER child in api waits for its
	// parent in vain, as if the parent had never been sent.
	_, health := a.span("web", "GET /healthz", trace.SpanKindServer, trace.SpanContext{})
	health.End()
	_, lg := a.span("loadgen", "POST /items", trace.SpanKindClient, trace.SpanContext{})
	_, lgSrv := a.span("api", "POST /items", trace.SpanKindServer, lg.SpanContext())
	lgSrv.End()
	lg.End()
	a.flush()

	want := []string{
		"client=user,connection_type=virtual_node,server=web 2",
		"client=web,connection_type=,server=api 2",
	}
	var got []string
	if !poll(30*time.Second, func() bool {
		got = series(s.metrics(t), "traces_service_graph_request_total")
		return slices.Equal(got, want) &&
			slices.Equal(series(s.metrics(t), "servicegraph_expired_total"), []string{"queue=children 1"})
	}) {
		t.Fatalf("edges:\n got %s\nwant %s\nexpired: %q", strings.Join(got, "\n     "), strings.Join(want, "\n     "),
			series(s.metrics(t), "servicegraph_expired_total"))
	}
	fams := s.metrics(t)
	if got, want := series(fams, "servicegraph_spans_filtered_total"), []string{" 2"}; !slices.Equal(got, want) {
		t.Errorf("filtered: got %q, want %q", got, want)
	}
	if got, want := series(fams, "servicegraph_spans_received_total"), []string{" 9"}; !slices.Equal(got, want) {
		t.Errorf("received: got %q, want %q", got, want)
	}
}

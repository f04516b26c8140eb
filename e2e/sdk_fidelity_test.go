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

// TestSDKFidelity: the behaviours issue 15 brought in line with Tempo and
// the Collector connector, end to end with the OpenTelemetry Go SDK over
// both OTLP transports: a consumer both child of and linked to its
// producer counts once; a database named by its server.address; a SERVER
// without service.name under a CLIENT naming its peer; a root SERVER naming
// its caller; a span multiplier; server and client durations on every
// kind; the virtual_node label.
func TestSDKFidelity(t *testing.T) {
	s := start(t, t.TempDir(), "--pair-wait", "2s", "--virtual-node-label", "--span-multiplier-key", "sampling.weight")
	a := &app{t: t, tracers: map[string]trace.Tracer{}}
	add := func(name string, http bool) {
		res := resource.NewWithAttributes(semconv.SchemaURL) // "": no service.name
		if name != "" {
			res = resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name))
		}
		a.add(s, name, http, res)
	}
	add("web", false)
	add("", false)
	add("orders-api", false)
	add("mailer", true)
	add("cron-target", true)

	_, root := a.span("web", "GET /", trace.SpanKindServer, trace.SpanContext{})
	// An uninstrumented-looking peer: its spans carry no service.name.
	_, pay := a.span("web", "POST pay", trace.SpanKindClient, root.SpanContext(),
		trace.WithAttributes(attribute.String("peer.service", "payments")))
	_, anon := a.span("", "POST /pay", trace.SpanKindServer, pay.SpanContext())
	anon.End()
	pay.End()
	// A database named by the address it is reached at, not its system.
	_, db := a.span("web", "SELECT", trace.SpanKindClient, root.SpanContext(),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("server.address", "pg-main")))
	db.End()
	// A consumer both child of and linked to its producer.
	_, pub := a.span("web", "mail publish", trace.SpanKindProducer, root.SpanContext())
	pub.End()
	root.End()
	_, mail := a.span("mailer", "mail process", trace.SpanKindConsumer, pub.SpanContext(),
		trace.WithLinks(trace.Link{SpanContext: pub.SpanContext()}))
	mail.End()
	// A root SERVER naming its caller.
	_, cron := a.span("cron-target", "POST /tick", trace.SpanKindServer, trace.SpanContext{},
		trace.WithAttributes(attribute.String("peer.service", "cron")))
	cron.End()
	// A sampled root span standing for five.
	_, sampled := a.span("orders-api", "GET /orders", trace.SpanKindServer, trace.SpanContext{},
		trace.WithAttributes(attribute.Int("sampling.weight", 5)))
	sampled.End()
	a.flush()

	norm := func(ss []string) []string { // an empty label value is no label to Prometheus
		for i := range ss {
			ss[i] = strings.Replace(ss[i], ",virtual_node= ", " ", 1)
		}
		return ss
	}
	wantTotal := []string{
		"client=cron,connection_type=virtual_node,server=cron-target,virtual_node=client 1",
		"client=user,connection_type=virtual_node,server=orders-api,virtual_node=client 5",
		"client=user,connection_type=virtual_node,server=web,virtual_node=client 1",
		"client=web,connection_type=database,server=pg-main 1",
		"client=web,connection_type=messaging_system,server=mailer 1",
		"client=web,connection_type=virtual_node,server=payments,virtual_node=server 1",
	}
	var got []string
	if !poll(30*time.Second, func() bool {
		got = norm(series(s.metrics(t), "traces_service_graph_request_total"))
		return slices.Equal(got, wantTotal)
	}) {
		t.Fatalf("edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantTotal, "\n     "))
	}
	fams := s.metrics(t)
	// Every edge has a server duration, one observation per occurrence.
	if got := norm(series(fams, "traces_service_graph_request_server_seconds")); !slices.Equal(got, wantTotal) {
		t.Errorf("server durations:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantTotal, "\n     "))
	}
	wantClient := []string{
		"client=web,connection_type=database,server=pg-main 1",
		"client=web,connection_type=messaging_system,server=mailer 1",
		"client=web,connection_type=virtual_node,server=payments,virtual_node=server 1",
	}
	if got := norm(series(fams, "traces_service_graph_request_client_seconds")); !slices.Equal(got, wantClient) {
		t.Errorf("client durations:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantClient, "\n     "))
	}
	var links []string
	for _, l := range series(fams, "servicegraph_span_links_total") {
		if !strings.HasSuffix(l, " 0") {
			links = append(links, l)
		}
	}
	if want := []string{"result=resolved,service=mailer 1"}; !slices.Equal(links, want) {
		t.Errorf("links: got %q, want %q", links, want)
	}
}

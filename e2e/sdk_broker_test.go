package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TestSDKBrokerNodes: --broker-nodes end to end with the OpenTelemetry Go
// SDK over both OTLP transports: one message published to orders-topic,
// consumed by billing (a child of the producer) and by audit (a link from
// a trace of its own), is producer → topic → consumers on /metrics, and the
// topic is a node of kind topic in the Node Graph API.
func TestSDKBrokerNodes(t *testing.T) {
	s := start(t, t.TempDir(), "--pair-wait", "2s", "--broker-nodes")
	a := &app{t: t, tracers: map[string]trace.Tracer{}}
	add := func(name string, http bool) {
		res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name))
		a.add(s, name, http, res)
	}
	add("orders", false)
	add("billing", true)
	add("audit", true)
	topic := trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("messaging.destination.name", "orders-topic"))

	_, root := a.span("orders", "POST /orders", trace.SpanKindServer, trace.SpanContext{})
	_, pub := a.span("orders", "orders-topic publish", trace.SpanKindProducer, root.SpanContext(), topic)
	pub.End()
	root.End()
	_, bill := a.span("billing", "orders-topic process", trace.SpanKindConsumer, pub.SpanContext(), topic)
	bill.End()
	_, aud := a.span("audit", "orders-topic process", trace.SpanKindConsumer, trace.SpanContext{}, topic,
		trace.WithLinks(trace.Link{SpanContext: pub.SpanContext()}))
	aud.End()
	a.flush()

	want := []string{
		"client=orders,connection_type=messaging_system,server=orders-topic 2",
		"client=orders-topic,connection_type=messaging_system,server=audit 1",
		"client=orders-topic,connection_type=messaging_system,server=billing 1",
		"client=user,connection_type=virtual_node,server=orders 1",
	}
	var got []string
	if !poll(30*time.Second, func() bool {
		got = series(s.metrics(t), "traces_service_graph_request_total")
		return slices.Equal(got, want)
	}) {
		t.Fatalf("edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	fams := s.metrics(t)
	// The delay on topic → consumer only (producer → topic's is empty);
	// producer → topic has the producer's durations.
	if got, want := series(fams, "traces_service_graph_request_messaging_system_seconds"), []string{
		"client=orders,connection_type=messaging_system,server=orders-topic 0",
		"client=orders-topic,connection_type=messaging_system,server=audit 1",
		"client=orders-topic,connection_type=messaging_system,server=billing 1",
	}; !slices.Equal(got, want) {
		t.Errorf("delays: got %q, want %q", got, want)
	}
	if got, want := series(fams, "traces_service_graph_request_client_seconds"), []string{
		"client=orders,connection_type=messaging_system,server=orders-topic 2",
	}; !slices.Equal(got, want) {
		t.Errorf("client durations: got %q, want %q", got, want)
	}
	code, body := s.get(t, "/api/graph/nodes")
	if code != 200 {
		t.Fatalf("nodes: %d %s", code, body)
	}
	var rows []struct{ ID, Subtitle string }
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var kinds []string
	for _, r := range rows {
		kinds = append(kinds, r.ID+" "+r.Subtitle)
	}
	slices.Sort(kinds)
	if want := []string{"audit service", "billing service", "orders service", "orders-topic topic (kafka)", "user virtual"}; !slices.Equal(kinds, want) {
		t.Errorf("nodes: got %q, want %q", kinds, want)
	}
	// The picture draws the topic as a pennant (Graphviz's cds: a polygon).
	code, svg := s.get(t, "/graph.svg")
	if code != 200 {
		t.Fatalf("graph.svg: %d %s", code, svg)
	}
	i := strings.Index(string(svg), `<title>orders&#45;topic</title>`)
	if i < 0 || !strings.Contains(string(svg[i:min(len(svg), i+400)]), "<polygon") {
		t.Errorf("no topic node drawn as a polygon in:\n%s", svg)
	}
}

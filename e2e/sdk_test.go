package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// app is a set of instrumented services, each with its own TracerProvider
// exporting over OTLP/gRPC or OTLP/HTTP, as real applications do.
type app struct {
	t         *testing.T
	providers []*sdktrace.TracerProvider
	tracers   map[string]trace.Tracer
}

func newApp(t *testing.T, s *service, grpcServices, httpServices []string) *app {
	a := &app{t: t, tracers: map[string]trace.Tracer{}}
	for _, name := range grpcServices {
		a.add(s, name, false, resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name)))
	}
	for _, name := range httpServices {
		a.add(s, name, true, resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name)))
	}
	return a
}

// add instruments service name with resource res, exporting to s over
// OTLP/HTTP (http) or OTLP/gRPC.
func (a *app) add(s *service, name string, http bool, res *resource.Resource) {
	t := a.t
	var exp sdktrace.SpanExporter
	var err error
	if http {
		exp, err = otlptracehttp.New(ctx(t), otlptracehttp.WithInsecure(), otlptracehttp.WithEndpoint(s.http))
	} else {
		exp, err = otlptracegrpc.New(ctx(t), otlptracegrpc.WithInsecure(), otlptracegrpc.WithEndpoint(s.grpc))
	}
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
	a.providers = append(a.providers, tp)
	a.tracers[name] = tp.Tracer("e2e")
}

// span starts a span of service svc; parent may be a remote span context.
func (a *app) span(svc, name string, kind trace.SpanKind, parent trace.SpanContext, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	c := context.Background()
	if parent.IsValid() {
		c = trace.ContextWithRemoteSpanContext(c, parent)
	}
	return a.tracers[svc].Start(c, name, append(opts, trace.WithSpanKind(kind))...)
}

// abandon shuts every provider down within a second, dropping what cannot
// be exported (the service is gone).
func (a *app) abandon() {
	c, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, tp := range a.providers {
		_ = tp.Shutdown(c)
	}
}

// flush shuts every provider down, which exports what is buffered.
func (a *app) flush() {
	for _, tp := range a.providers {
		if err := tp.Shutdown(ctx(a.t)); err != nil {
			a.t.Fatal(err)
		}
	}
}

// TestSDKServices runs a small shop instrumented with the OpenTelemetry Go
// SDK, exporting over both OTLP transports, and checks every edge and link
// result on /metrics exactly.
func TestSDKServices(t *testing.T) {
	s := start(t, t.TempDir(), "--pair-wait", "5s")
	a := newApp(t, s, []string{"frontend", "shipping", "dispatcher"}, []string{"checkout", "notifications", "reporting", "worker"})
	var frontendServers []trace.SpanContext
	for i := range 3 {
		_, root := a.span("frontend", "GET /buy", trace.SpanKindServer, trace.SpanContext{})
		frontendServers = append(frontendServers, root.SpanContext())
		_, call := a.span("frontend", "POST checkout", trace.SpanKindClient, root.SpanContext())
		_, srv := a.span("checkout", "POST /checkout", trace.SpanKindServer, call.SpanContext())
		if i == 0 {
			srv.SetStatus(codes.Error, "out of stock")
		}
		_, db := a.span("checkout", "INSERT orders", trace.SpanKindClient, srv.SpanContext(),
			trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.namespace", "orders")))
		db.End()
		_, pub := a.span("checkout", "orders publish", trace.SpanKindProducer, srv.SpanContext())
		pub.End()
		srv.End()
		call.End()
		root.End()
		// The consumer starts a new trace and links to the producer; it
		// publishes in turn to a downstream consumer.
		_, ship := a.span("shipping", "orders process", trace.SpanKindConsumer, trace.SpanContext{},
			trace.WithLinks(trace.Link{SpanContext: pub.SpanContext()}))
		_, fwd := a.span("shipping", "shipments publish", trace.SpanKindProducer, ship.SpanContext())
		fwd.End()
		ship.End()
		_, note := a.span("notifications", "shipments process", trace.SpanKindConsumer, trace.SpanContext{},
			trace.WithLinks(trace.Link{SpanContext: fwd.SpanContext()}))
		note.End()
	}
	// A batch job links to the requests that queued its work.
	var links []trace.Link
	for _, sc := range frontendServers {
		links = append(links, trace.Link{SpanContext: sc})
	}
	_, job := a.span("reporting", "nightly rollup", trace.SpanKindInternal, trace.SpanContext{}, trace.WithLinks(links...))
	job.End()
	// A dispatcher fans out to workers that link back to it.
	_, disp := a.span("dispatcher", "dispatch", trace.SpanKindInternal, trace.SpanContext{})
	disp.End()
	for range 3 {
		_, w := a.span("worker", "work", trace.SpanKindInternal, trace.SpanContext{},
			trace.WithLinks(trace.Link{SpanContext: disp.SpanContext()}))
		w.End()
	}
	a.flush()

	wantEdges := []string{
		"client=checkout,connection_type=database,server=orders 3",
		"client=checkout,connection_type=messaging_system,server=shipping 3",
		"client=dispatcher,connection_type=span_link,server=worker 3",
		"client=frontend,connection_type=,server=checkout 3",
		"client=frontend,connection_type=span_link,server=reporting 3",
		"client=shipping,connection_type=messaging_system,server=notifications 3",
		"client=user,connection_type=virtual_node,server=frontend 3",
	}
	var got []string
	if !poll(60*time.Second, func() bool {
		got = series(s.metrics(t), "traces_service_graph_request_total")
		return slices.Equal(got, wantEdges)
	}) {
		t.Fatalf("edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantEdges, "\n     "))
	}
	fams := s.metrics(t)
	failed := series(fams, "traces_service_graph_request_failed_total")
	wantFailed := []string{
		"client=checkout,connection_type=database,server=orders 0",
		"client=checkout,connection_type=messaging_system,server=shipping 0",
		"client=dispatcher,connection_type=span_link,server=worker 0",
		"client=frontend,connection_type=,server=checkout 1",
		"client=frontend,connection_type=span_link,server=reporting 0",
		"client=shipping,connection_type=messaging_system,server=notifications 0",
		"client=user,connection_type=virtual_node,server=frontend 0",
	}
	if !slices.Equal(failed, wantFailed) {
		t.Errorf("failed:\n got %s\nwant %s", strings.Join(failed, "\n     "), strings.Join(wantFailed, "\n     "))
	}
	var resolved []string
	for _, l := range series(fams, "servicegraph_span_links_total") {
		if strings.Contains(l, "result=resolved") {
			resolved = append(resolved, l)
		} else if !strings.HasSuffix(l, " 0") {
			t.Errorf("unexpected link result %s", l)
		}
	}
	wantLinks := []string{
		"result=resolved,service=notifications 3",
		"result=resolved,service=reporting 3",
		"result=resolved,service=shipping 3",
		"result=resolved,service=worker 3",
	}
	if !slices.Equal(resolved, wantLinks) {
		t.Errorf("links: got %q, want %q", resolved, wantLinks)
	}
	if h := series(fams, "traces_service_graph_request_messaging_system_seconds"); len(h) != 2 {
		t.Errorf("messaging delay histograms: %q", h)
	}
	if h := series(fams, "traces_service_graph_span_link_delay_seconds"); len(h) != 2 {
		t.Errorf("span link delay histograms: %q", h)
	}
	if v, _ := value(fams, "servicegraph_spans_received_total"); v != 3*8+1+1+3 {
		t.Errorf("spans received = %g, want %d", v, 3*8+5)
	}
}

package receiver_test

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"
)

// exporterOpts selects how the SDK exporter talks to the receiver.
type exporterOpts struct {
	transport string // "grpc" or "http"
	gzip      bool
	json      bool        // http only
	tls       *tls.Config // nil: plaintext
	headers   map[string]string
}

// newExporter builds a real OpenTelemetry SDK OTLP exporter, without
// retries so that refusals surface at once.
func newExporter(t *testing.T, addr net.Addr, o exporterOpts) sdktrace.SpanExporter {
	t.Helper()
	ctx := t.Context()
	var exp sdktrace.SpanExporter
	var err error
	switch o.transport {
	case "grpc":
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(addr.String()),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
			otlptracegrpc.WithTimeout(10 * time.Second),
			otlptracegrpc.WithHeaders(o.headers),
		}
		if o.tls != nil {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(o.tls)))
		} else {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if o.gzip {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	case "http":
		opts := []otlptracehttp.Option{
			otlptracehttp.WithEndpoint(addr.String()),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
			otlptracehttp.WithTimeout(10 * time.Second),
			otlptracehttp.WithHeaders(o.headers),
		}
		if o.tls != nil {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(o.tls))
		} else {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if o.gzip {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		if o.json {
			opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	default:
		t.Fatalf("unknown transport %q", o.transport)
	}
	if err != nil {
		t.Fatalf("new %s exporter: %v", o.transport, err)
	}
	return exp
}

// emitTwoServices emits a checkout → payments call and a queued job from
// two TracerProviders with their own service.name, through exporters made
// by mk, and returns the first export error.
func emitTwoServices(t *testing.T, mk func() sdktrace.SpanExporter) error {
	t.Helper()
	ctx := context.Background()
	var firstErr error
	for _, svc := range []string{"checkout", "payments"} {
		exp := mk()
		res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(svc))
		// A batcher exports on ForceFlush and reports its error; export
		// failures are not lost to the global error handler.
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(
			sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBatchTimeout(time.Hour))))
		tr := tp.Tracer("receiver_test")
		switch svc {
		case "checkout":
			ctx, server := tr.Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer))
			_, client := tr.Start(ctx, "POST /charge", trace.WithSpanKind(trace.SpanKindClient))
			client.End()
			_, producer := tr.Start(ctx, "publish order", trace.WithSpanKind(trace.SpanKindProducer))
			producer.End()
			server.End()
		case "payments":
			_, server := tr.Start(ctx, "POST /charge", trace.WithSpanKind(trace.SpanKindServer))
			server.End()
			_, cons := tr.Start(ctx, "process order", trace.WithSpanKind(trace.SpanKindConsumer))
			cons.End()
		}
		if err := tp.ForceFlush(ctx); err != nil && firstErr == nil {
			firstErr = err
		}
		if err := tp.Shutdown(ctx); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

var twoServicesWant = []got{
	{"checkout", "GET /cart", ptrace.SpanKindServer},
	{"checkout", "POST /charge", ptrace.SpanKindClient},
	{"checkout", "publish order", ptrace.SpanKindProducer},
	{"payments", "POST /charge", ptrace.SpanKindServer},
	{"payments", "process order", ptrace.SpanKindConsumer},
}

func TestSDKExporters(t *testing.T) {
	tests := []exporterOpts{
		{transport: "grpc"},
		{transport: "grpc", gzip: true},
		{transport: "http"},
		{transport: "http", gzip: true},
		{transport: "http", json: true},
	}
	for _, o := range tests {
		name := o.transport
		if o.gzip {
			name += "/gzip"
		}
		if o.json {
			name += "/json"
		}
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			r, _ := start(t, testConfig(), rec)
			addr := r.HTTPAddr()
			if o.transport == "grpc" {
				addr = r.GRPCAddr()
			}
			if err := emitTwoServices(t, func() sdktrace.SpanExporter { return newExporter(t, addr, o) }); err != nil {
				t.Fatalf("export: %v", err)
			}
			if gotSpans := rec.received(); !slices.Equal(gotSpans, twoServicesWant) {
				t.Fatalf("received %v\nwant %v", gotSpans, twoServicesWant)
			}
		})
	}
}

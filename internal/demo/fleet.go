package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const (
	// instrumentationScope names the tracers of every simulated service.
	instrumentationScope = "github.com/servicegraph/servicegraph/internal/demo"

	// batchTimeout is how long a span waits in a processor before export:
	// short, so that the graph fills within a second.
	batchTimeout = 200 * time.Millisecond
	// maxQueueSize bounds the spans a processor holds; past it, spans are
	// dropped (never blocking the generator).
	maxQueueSize = 8192
	// exportTimeout bounds one export attempt, retries included.
	exportTimeout = 5 * time.Second
	// shutdownTimeout bounds the final flush of every provider together.
	shutdownTimeout = 3 * time.Second
)

// retry makes exports survive a receiver that starts a moment after the
// generator or restarts, without holding a batch for a minute (the default).
var retry = otlptracegrpc.RetryConfig{
	Enabled:         true,
	InitialInterval: 100 * time.Millisecond,
	MaxInterval:     time.Second,
	MaxElapsedTime:  exportTimeout,
}

// member is one simulated service: its SDK provider and exporter.
type member struct {
	name     string
	provider *sdktrace.TracerProvider
	exporter *otlptrace.Exporter
}

// fleet is the set of simulated services, each with its own provider.
type fleet struct {
	members []member
}

// newFleet builds one TracerProvider per service name, each exporting to
// endpoint over its own OTLP/gRPC connection. Connections are made lazily.
func newFleet(ctx context.Context, endpoint string, names []string) (*fleet, error) {
	f := &fleet{}
	for _, name := range names {
		m, err := newMember(ctx, endpoint, name)
		if err != nil {
			_ = f.shutdown(shutdownTimeout)
			return nil, err
		}
		f.members = append(f.members, m)
	}
	return f, nil
}

func newMember(ctx context.Context, endpoint, name string) (member, error) {
	exp, err := otlptracegrpc.New(ctx,
		otlptracegrpc.WithEndpoint(endpoint),
		otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithTimeout(exportTimeout),
		otlptracegrpc.WithRetry(retry),
	)
	if err != nil {
		return member{}, fmt.Errorf("demo: otlp exporter for %s: %w", name, err)
	}
	// resource.New without WithFromEnv: OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES of the demo process must not rename the
	// simulated services.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName(name),
			semconv.ServiceNamespace("shop"),
			semconv.ServiceVersion("1.4.2"),
			semconv.ServiceInstanceID(name+"-0"),
			semconv.DeploymentEnvironmentNameKey.String("demo"),
		),
	)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return member{}, fmt.Errorf("demo: resource for %s: %w", name, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithBatcher(exp,
			sdktrace.WithBatchTimeout(batchTimeout),
			sdktrace.WithMaxQueueSize(maxQueueSize),
			sdktrace.WithExportTimeout(exportTimeout),
		),
	)
	return member{name: name, provider: tp, exporter: exp}, nil
}

// tracer returns the tracer of the named service; it panics on a name the
// fleet was not built with, which is a bug in this package.
func (f *fleet) tracer(name string) trace.Tracer {
	for _, m := range f.members {
		if m.name == name {
			return m.provider.Tracer(instrumentationScope)
		}
	}
	panic("demo: no simulated service " + name)
}

// shutdown flushes and shuts every provider down concurrently, within
// timeout in total. Past the deadline, exports still in flight (an
// unreachable endpoint) are cancelled and connections closed, so nothing
// outlives the call for long.
func (f *fleet) shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make([]error, len(f.members))
	var wg sync.WaitGroup
	for i, m := range f.members {
		wg.Go(func() {
			err := m.provider.Shutdown(ctx)
			// A no-op after a clean provider shutdown; after a timeout it
			// cancels the export the processor is stuck in and closes the
			// connection, letting the processor's goroutine finish.
			err = errors.Join(err, m.exporter.Shutdown(ctx))
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", m.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/servicegraph/servicegraph/internal/tlsconfig/tlstest"
)

// TestTLSAndTokens runs the binary with mTLS on every listener and bearer
// tokens for ingestion and the API, and drives it with the SDK exporters.
func TestTLSAndTokens(t *testing.T) {
	dir := t.TempDir()
	files := tlstest.Write(t, dir)
	ingest, api := filepath.Join(dir, "ingest"), filepath.Join(dir, "api")
	writeFile(t, ingest, "# senders\ningest-secret\n")
	writeFile(t, api, "api-secret\n")
	s := start(t, filepath.Join(dir, "data"), "--tls-cert-file", files.ServerCert, "--tls-key-file", files.ServerKey,
		"--tls-client-ca-file", files.CA, "--ingest-token-file", ingest, "--api-token-file", api)

	withCert := files.ClientConfig(t, true)
	// send exports one span with exp and returns the exporter's answer
	// (an SDK provider would hand it to the global error handler instead).
	send := func(svc string, exp sdktrace.SpanExporter) error {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
			sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(svc))))
		_, span := tp.Tracer("e2e").Start(context.Background(), "GET /", trace.WithSpanKind(trace.SpanKindServer))
		span.End()
		err := exp.ExportSpans(ctx(t), rec.Ended())
		exp.Shutdown(ctx(t))
		tp.Shutdown(ctx(t))
		return err
	}
	grpcExp := func(cfg *tls.Config, token string) sdktrace.SpanExporter {
		e, err := otlptracegrpc.New(ctx(t), otlptracegrpc.WithEndpoint(s.grpc), otlptracegrpc.WithTLSCredentials(credentials.NewTLS(cfg)),
			otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + token}), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	httpExp := func(cfg *tls.Config, token string) sdktrace.SpanExporter {
		e, err := otlptracehttp.New(ctx(t), otlptracehttp.WithEndpoint(s.http), otlptracehttp.WithTLSClientConfig(cfg),
			otlptracehttp.WithHeaders(map[string]string{"Authorization": "Bearer " + token}), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if err := send("grpc-ok", grpcExp(withCert, "ingest-secret")); err != nil {
		t.Fatalf("gRPC with certificate and token: %v", err)
	}
	if err := send("http-ok", httpExp(withCert, "ingest-secret")); err != nil {
		t.Fatalf("HTTP with certificate and token: %v", err)
	}
	if err := send("grpc-bad-token", grpcExp(withCert, "wrong")); err == nil {
		t.Fatal("gRPC with a wrong token accepted")
	}
	if err := send("http-bad-token", httpExp(withCert, "api-secret")); err == nil {
		t.Fatal("HTTP with the API token accepted for ingestion")
	}
	if err := send("http-no-cert", httpExp(files.ClientConfig(t, false), "ingest-secret")); err == nil {
		t.Fatal("HTTP without a client certificate accepted under mTLS")
	}

	get := func(cfg *tls.Config, path, token string) (int, string) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		req, _ := http.NewRequest(http.MethodGet, "https://"+s.api+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var body string
	eventually(t, 30*time.Second, "the two accepted services", func() bool {
		var code int
		code, body = get(withCert, "/api/graph/nodes", "api-secret")
		return code == 200 && strings.Contains(body, `"grpc-ok"`) && strings.Contains(body, `"http-ok"`)
	})
	for _, bad := range []string{"grpc-bad-token", "http-bad-token", "http-no-cert"} {
		if strings.Contains(body, bad) {
			t.Errorf("refused sender %s reached the graph", bad)
		}
	}
	if code, _ := get(withCert, "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without token: %d, want 401", code)
	}
	if code, _ := get(withCert, "/-/ready", ""); code != http.StatusOK {
		t.Errorf("/-/ready without token: %d, want 200", code)
	}
	if code, msg := get(files.ClientConfig(t, false), "/-/healthy", ""); code != 0 {
		t.Errorf("API without client certificate: %d %s, want a failed handshake", code, msg)
	}
	if _, err := os.Stat(files.CA); err != nil {
		t.Fatal(err)
	}
}

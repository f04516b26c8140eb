package receiver_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/servicegraph/servicegraph/internal/tlsconfig"
	"github.com/servicegraph/servicegraph/internal/tlsconfig/tlstest"
)

func writeTokens(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSecuritySDK drives both SDK exporters against TLS, mutual TLS and
// bearer-token configurations.
func TestSecuritySDK(t *testing.T) {
	files := tlstest.Write(t, t.TempDir())
	tokenFile := writeTokens(t, "# CI\nsecret-one\nsecret-two\n")
	serverTLS := tlsconfig.Config{CertFile: files.ServerCert, KeyFile: files.ServerKey}
	mutualTLS := tlsconfig.Config{CertFile: files.ServerCert, KeyFile: files.ServerKey, ClientCAFile: files.CA}

	tests := []struct {
		name       string
		serverTLS  tlsconfig.Config
		tokenFile  string
		clientTLS  string // "", "ca" (trust only), "cert" (trust + client certificate)
		token      string
		wantExport bool
	}{
		{name: "tls", serverTLS: serverTLS, clientTLS: "ca", wantExport: true},
		{name: "mtls with client cert", serverTLS: mutualTLS, clientTLS: "cert", wantExport: true},
		{name: "mtls without client cert", serverTLS: mutualTLS, clientTLS: "ca", wantExport: false},
		{name: "plaintext client to tls server", serverTLS: serverTLS, wantExport: false},
		{name: "bearer token", tokenFile: tokenFile, token: "secret-two", wantExport: true},
		{name: "wrong bearer token", tokenFile: tokenFile, token: "secret-three", wantExport: false},
		{name: "missing bearer token", tokenFile: tokenFile, wantExport: false},
		{name: "mtls and bearer token", serverTLS: mutualTLS, clientTLS: "cert", tokenFile: tokenFile, token: "secret-one", wantExport: true},
	}
	for _, tt := range tests {
		for _, transport := range []string{"grpc", "http"} {
			t.Run(tt.name+"/"+transport, func(t *testing.T) {
				// Parallel: an HTTP/2 server waits up to a second for a
				// client to close after GOAWAY, and the SDK keeps its
				// connections open.
				t.Parallel()
				cfg := testConfig()
				cfg.TLS = tt.serverTLS
				cfg.Auth.BearerTokenFile = tt.tokenFile
				rec := &recorder{}
				r, _ := start(t, cfg, rec)
				o := exporterOpts{transport: transport}
				if tt.clientTLS != "" {
					o.tls = files.ClientConfig(t, tt.clientTLS == "cert")
				}
				if tt.token != "" {
					o.headers = map[string]string{"Authorization": "Bearer " + tt.token}
				}
				addr := r.HTTPAddr()
				if transport == "grpc" {
					addr = r.GRPCAddr()
				}
				err := emitTwoServices(t, func() sdktrace.SpanExporter { return newExporter(t, addr, o) })
				if gotExport := err == nil; gotExport != tt.wantExport {
					t.Fatalf("export error = %v, want success %v", err, tt.wantExport)
				}
				if n := len(rec.received()); tt.wantExport != (n > 0) {
					t.Fatalf("consumer received %d spans, want success %v", n, tt.wantExport)
				}
			})
		}
	}
}

// TestBearerCodes checks the exact refusals: HTTP 401 with
// WWW-Authenticate: Bearer, gRPC Unauthenticated.
func TestBearerCodes(t *testing.T) {
	cfg := testConfig()
	cfg.Auth.BearerTokenFile = writeTokens(t, "letmein\n")
	rec := &recorder{}
	r, _ := start(t, cfg, rec)
	client := httpClient(t, nil)
	grpcC := grpcClient(t, r.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	body := mustProto(t, sampleTraces())

	tests := []struct {
		name     string
		header   string // Authorization; "": absent
		wantHTTP int
		wantGRPC codes.Code
	}{
		{name: "correct", header: "Bearer letmein", wantHTTP: http.StatusOK, wantGRPC: codes.OK},
		{name: "wrong", header: "Bearer letmeout", wantHTTP: http.StatusUnauthorized, wantGRPC: codes.Unauthenticated},
		{name: "basic scheme", header: "Basic letmein", wantHTTP: http.StatusUnauthorized, wantGRPC: codes.Unauthenticated},
		{name: "missing", wantHTTP: http.StatusUnauthorized, wantGRPC: codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": ctProto}
			if tt.header != "" {
				h["Authorization"] = tt.header
			}
			resp := post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), h, body)
			if resp.status != tt.wantHTTP {
				t.Fatalf("HTTP status = %d, want %d", resp.status, tt.wantHTTP)
			}
			if tt.wantHTTP == http.StatusUnauthorized {
				if got := resp.header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("WWW-Authenticate = %q, want Bearer", got)
				}
				checkStatus(t, resp, codes.Unauthenticated, "bearer token")
			}

			ctx := t.Context()
			if tt.header != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.header)
			}
			_, err := grpcC.Export(ctx, ptraceotlp.NewExportRequestFromTraces(sampleTraces()))
			if got := status.Code(err); got != tt.wantGRPC {
				t.Fatalf("gRPC code = %v (%v), want %v", got, err, tt.wantGRPC)
			}
			if err != nil && strings.Contains(err.Error(), "letmein") {
				t.Fatalf("error %q echoes the token", err)
			}
		})
	}
}

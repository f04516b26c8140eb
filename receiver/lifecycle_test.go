package receiver_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/receiver"
)

func TestShutdownWithoutStart(t *testing.T) {
	r, err := receiver.New(testConfig(), receiver.Settings{Logger: quietLogger}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := r.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown #%d: %v", i+1, err)
		}
	}
	if err := r.Start(t.Context()); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
	if r.GRPCAddr() != nil || r.HTTPAddr() != nil {
		t.Fatal("addresses set without Start")
	}
}

func TestStartTwiceAndShutdownTwice(t *testing.T) {
	r, err := receiver.New(testConfig(), receiver.Settings{Logger: quietLogger}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
	for i := range 2 {
		if err := r.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown #%d: %v", i+1, err)
		}
	}
}

// TestRestartOnSamePorts starts, stops, and starts a new receiver on the
// ports the first one was given.
func TestRestartOnSamePorts(t *testing.T) {
	reg := prometheus.NewRegistry() // shared: series are reused, not duplicated
	set := receiver.Settings{Logger: quietLogger, Registerer: reg}
	first, err := receiver.New(testConfig(), set, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = first.GRPCAddr().String(), first.HTTPAddr().String()
	if err := first.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	second, err := receiver.New(cfg, set, rec)
	if err != nil {
		t.Fatalf("New on a shared registry: %v", err)
	}
	if err := second.Start(t.Context()); err != nil {
		t.Fatalf("Start on the same ports: %v", err)
	}
	defer func() {
		if err := second.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	if got := second.GRPCAddr().String(); got != cfg.GRPCAddr {
		t.Errorf("gRPC bound %s, want %s", got, cfg.GRPCAddr)
	}
	resp := post(t, httpClient(t, nil), http.MethodPost, tracesURL(second.HTTPAddr()),
		map[string]string{"Content-Type": ctProto}, mustProto(t, sampleTraces()))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d after restart", resp.status)
	}
	if _, err := grpcClient(t, second.GRPCAddr()).Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(sampleTraces())); err != nil {
		t.Fatalf("gRPC after restart: %v", err)
	}
	if got := metricSum(t, reg, "servicegraph_receiver_requests_total", "outcome", "accepted"); got != 2 {
		t.Errorf("accepted requests = %v, want 2", got)
	}
}

// TestStartPortInUse: a bind error comes back from Start, and the listener
// bound before it is released.
func TestStartPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()

	cfg := testConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = freeAddr, busy.Addr().String()
	r, err := receiver.New(cfg, receiver.Settings{Logger: quietLogger}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "http_addr") {
		t.Fatalf("Start = %v, want an http_addr bind error", err)
	}
	if err := r.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("gRPC port not released after failed Start: %v", err)
	}
	ln.Close()
}

// waitRefused returns once addr no longer accepts connections: Shutdown
// has closed its listener.
func waitRefused(addr net.Addr) {
	for {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			return
		}
		c.Close()
	}
}

// TestShutdownDrains: requests in flight when Shutdown begins complete
// normally, and Shutdown then returns nil.
func TestShutdownDrains(t *testing.T) {
	b := newBlocker()
	r, err := receiver.New(testConfig(), receiver.Settings{Logger: quietLogger}, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	client := httpClient(t, nil)
	grpcC := grpcClient(t, r.GRPCAddr())
	httpDone := make(chan response, 1)
	go func() {
		httpDone <- postNoFatal(client, tracesURL(r.HTTPAddr()), map[string]string{"Content-Type": ctJSON}, mustJSON(t, sampleTraces()))
	}()
	grpcDone := make(chan error, 1)
	go func() {
		_, err := grpcC.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(sampleTraces()))
		grpcDone <- err
	}()
	<-b.entered
	<-b.entered

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- r.Shutdown(ctx) }()
	waitRefused(r.HTTPAddr())
	waitRefused(r.GRPCAddr())
	close(b.release)

	if resp := <-httpDone; resp.status != http.StatusOK {
		t.Errorf("in-flight HTTP request: status %d (%s), want 200", resp.status, resp.body)
	}
	if err := <-grpcDone; err != nil {
		t.Errorf("in-flight gRPC request: %v", err)
	}
	if err := <-shutdownDone; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
}

// TestShutdownDeadline: when ctx ends first, Shutdown closes what is left
// and reports ctx's error.
func TestShutdownDeadline(t *testing.T) {
	b := newBlocker()
	r, err := receiver.New(testConfig(), receiver.Settings{Logger: quietLogger}, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	grpcC := grpcClient(t, r.GRPCAddr())
	client := httpClient(t, nil)
	grpcDone := make(chan error, 1)
	go func() {
		_, err := grpcC.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(sampleTraces()))
		grpcDone <- err
	}()
	httpDone := make(chan response, 1)
	go func() {
		httpDone <- postNoFatal(client, tracesURL(r.HTTPAddr()), map[string]string{"Content-Type": ctProto}, mustProto(t, sampleTraces()))
	}()
	<-b.entered
	<-b.entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	// Closed connections cancel the handlers' contexts, so the blocked
	// consumers return; the clients see errors, not hangs.
	if err := <-grpcDone; err == nil {
		t.Error("gRPC request cut by Shutdown succeeded")
	}
	<-httpDone
	close(b.release)
}

func TestNewErrors(t *testing.T) {
	bad := testConfig()
	bad.MaxRequestBytes = 0
	tests := []struct {
		name    string
		cfg     receiver.Config
		nilNext bool
		wantHas string
	}{
		{name: "invalid config", cfg: bad, wantHas: "max_request_bytes"},
		{name: "nil consumer", cfg: testConfig(), nilNext: true, wantHas: "nil consumer"},
		{name: "missing token file", cfg: func() receiver.Config {
			c := testConfig()
			c.Auth.BearerTokenFile = "/nonexistent/tokens"
			return c
		}(), wantHas: "/nonexistent/tokens"},
		{name: "missing cert file", cfg: func() receiver.Config {
			c := testConfig()
			c.TLS.CertFile, c.TLS.KeyFile = "/nonexistent/cert.pem", "/nonexistent/key.pem"
			return c
		}(), wantHas: "/nonexistent/cert.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.nilNext {
				_, err = receiver.New(tt.cfg, receiver.Settings{}, nil)
			} else {
				_, err = receiver.New(tt.cfg, receiver.Settings{}, &recorder{})
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantHas) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantHas)
			}
		})
	}
}

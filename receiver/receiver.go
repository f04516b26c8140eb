package receiver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/auth"
	"github.com/servicegraph/servicegraph/internal/logging"
	"github.com/servicegraph/servicegraph/internal/netlimit"
)

// Settings are what the code, not the configuration, supplies.
type Settings struct {
	// Logger receives start, stop and serve-failure records, never one per
	// request. Nil discards.
	Logger *slog.Logger
	// Registerer receives the receiver's metrics. Nil means a private
	// registry (the metrics are then not exported anywhere).
	Registerer prometheus.Registerer
}

// Receiver serves OTLP/gRPC and OTLP/HTTP and hands the spans to a
// consumer.Traces. Create it with New.
type Receiver struct {
	cfg     Config
	logger  *slog.Logger
	next    consumer.Traces
	tlsConf *tls.Config // nil: plaintext
	tokens  *auth.Tokens
	metrics *metrics
	limit   *limiter
	budget  *budget

	mu sync.Mutex // guards the fields below
	// state moves new → started → stopped, or new → stopped.
	state   int
	grpcLn  net.Listener
	httpLn  net.Listener
	grpcSrv *grpc.Server
	httpSrv *http.Server

	wg sync.WaitGroup // serving goroutines
}

const (
	stateNew = iota
	stateStarted
	stateStopped
)

// New validates cfg, loads the TLS and token files it names and registers
// the metrics. Nothing listens before Start.
func New(cfg Config, set Settings, next consumer.Traces) (*Receiver, error) {
	if next == nil {
		return nil, errors.New("receiver: nil consumer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("receiver: invalid config: %w", err)
	}
	tlsConf, err := cfg.TLS.Server()
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	tokens, err := cfg.Auth.Load()
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	logger := set.Logger
	logger = logging.OrDiscard(logger)
	reg := set.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("receiver: register metrics: %w", err)
	}
	return &Receiver{
		cfg:     cfg,
		logger:  logger,
		next:    next,
		tlsConf: tlsConf,
		tokens:  tokens,
		metrics: m,
		limit:   newLimiter(cfg.MaxConcurrentRequests, m.inflight),
		budget:  newBudget(cfg.MaxInflightBytes, m.inflightBytes),
	}, nil
}

// Start binds the configured listeners (so an address in use is reported
// here) and serves them in the background. A Receiver starts once; after
// Shutdown, create a new one. ctx bounds binding only.
func (r *Receiver) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("receiver: start: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != stateNew {
		return errors.New("receiver: Start called twice or after Shutdown")
	}
	var lc net.ListenConfig
	listen := func(key, addr, transport string) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("receiver: listen on %s %q: %w", key, addr, err)
		}
		capped, err := netlimit.NewListener(ln, r.cfg.MaxConnections, func() { r.metrics.refuseConn(transport) },
			r.metrics.connections.WithLabelValues(transport))
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("receiver: %s: %w", key, err)
		}
		return capped, nil
	}
	grpcLn, err := listen("grpc_addr", r.cfg.GRPCAddr, transportGRPC)
	if err != nil {
		return err
	}
	httpLn, err := listen("http_addr", r.cfg.HTTPAddr, transportHTTP)
	if err != nil {
		if grpcLn != nil {
			_ = grpcLn.Close()
		}
		return err
	}
	r.state = stateStarted
	r.grpcLn, r.httpLn = grpcLn, httpLn

	if grpcLn != nil {
		r.grpcSrv = r.newGRPCServer()
		srv := r.grpcSrv
		r.wg.Go(func() {
			if err := srv.Serve(grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				r.logger.Error("OTLP/gRPC server stopped serving", "addr", grpcLn.Addr().String(), "err", err)
			}
		})
	}
	if httpLn != nil {
		r.httpSrv = r.newHTTPServer()
		srv := r.httpSrv
		r.wg.Go(func() {
			var err error
			if srv.TLSConfig != nil {
				err = srv.ServeTLS(httpLn, "", "")
			} else {
				err = srv.Serve(httpLn)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.logger.Error("OTLP/HTTP server stopped serving", "addr", httpLn.Addr().String(), "err", err)
			}
		})
	}
	r.logger.Info("OTLP receiver started",
		"grpc_addr", addrString(grpcLn), "http_addr", addrString(httpLn),
		"tls", r.tlsConf != nil, "mutual_tls", r.cfg.TLS.MutualTLS(), "bearer_auth", r.tokens != nil,
		"max_request_bytes", r.cfg.MaxRequestBytes, "max_concurrent_requests", r.cfg.MaxConcurrentRequests,
		"max_inflight_bytes", r.cfg.MaxInflightBytes, "max_connections", r.cfg.MaxConnections)
	if r.tokens != nil && r.tlsConf == nil {
		r.logger.Warn("OTLP receiver checks bearer tokens over plaintext connections; configure tls to keep tokens secret")
	}
	return nil
}

func (r *Receiver) newHTTPServer() *http.Server {
	srv := &http.Server{
		Handler:           r.httpHandler(),
		ReadHeaderTimeout: r.cfg.ReadHeaderTimeout,
		// A backstop: serveExport sets the body's own deadline.
		ReadTimeout: r.cfg.ReadHeaderTimeout + r.cfg.ReadTimeout,
		// Room to write the answer after the consumer's deadline.
		WriteTimeout:   r.cfg.RequestTimeout + r.cfg.ReadHeaderTimeout,
		IdleTimeout:    r.cfg.IdleTimeout,
		MaxHeaderBytes: 1 << 20,
		// Per-connection errors (TLS handshakes, resets) are not worth a
		// record each at the default level.
		ErrorLog: slog.NewLogLogger(r.logger.Handler(), slog.LevelDebug),
	}
	if r.tlsConf != nil {
		srv.TLSConfig = r.tlsConf.Clone()
	}
	return srv
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// then closes the remaining connections (which cancels the consumer's
// contexts) and returns ctx's error. It does not wait for a consumer that
// ignores its context. It is safe without Start and when called more than
// once; a second call returns nil at once.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.state != stateStarted {
		r.state = stateStopped
		r.mu.Unlock()
		return nil
	}
	r.state = stateStopped
	grpcSrv, httpSrv := r.grpcSrv, r.httpSrv
	r.mu.Unlock()

	var wg sync.WaitGroup
	var grpcErr, httpErr error
	if grpcSrv != nil {
		wg.Go(func() { grpcErr = stopGRPC(ctx, grpcSrv) })
	}
	if httpSrv != nil {
		wg.Go(func() {
			if err := httpSrv.Shutdown(ctx); err != nil {
				_ = httpSrv.Close()
				httpErr = fmt.Errorf("receiver: HTTP drain: %w", err)
			}
		})
	}
	wg.Wait()
	r.wg.Wait()
	err := errors.Join(grpcErr, httpErr)
	r.logger.Info("OTLP receiver stopped", "err", err)
	return err
}

// stopGRPC drains with GracefulStop, and falls back to Stop when ctx ends.
func stopGRPC(ctx context.Context, s *grpc.Server) error {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Stop()
		<-done
		return fmt.Errorf("receiver: gRPC drain: %w", ctx.Err())
	}
}

// GRPCAddr is the bound OTLP/gRPC address, nil before Start or when disabled.
func (r *Receiver) GRPCAddr() net.Addr { return r.addr(func() net.Listener { return r.grpcLn }) }

// HTTPAddr is the bound OTLP/HTTP address, nil before Start or when disabled.
func (r *Receiver) HTTPAddr() net.Addr { return r.addr(func() net.Listener { return r.httpLn }) }

func (r *Receiver) addr(ln func() net.Listener) net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := ln(); l != nil {
		return l.Addr()
	}
	return nil
}

func addrString(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

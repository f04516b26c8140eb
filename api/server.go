package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/auth"
	"github.com/servicegraph/servicegraph/internal/logging"
	"github.com/servicegraph/servicegraph/internal/netlimit"
	"github.com/servicegraph/servicegraph/pairing"
)

// Snapshotter hands out immutable graph snapshots; *graph.Store is one.
type Snapshotter interface {
	Snapshot() *graph.Snapshot
}

var _ Snapshotter = (*graph.Store)(nil)

// Sources are what the API serves. Graph is required; the others may be
// nil: no problems, rendering answered with 501, no /metrics (404), always
// ready. Ready is called on every request (it gates the endpoints while
// the graph loads): it must be cheap and safe for concurrent use.
type Sources struct {
	Graph    Snapshotter
	Problems func() []pairing.Problem // recent unresolved and invalid span links
	Renderer Renderer                 // draws /graph.svg, /graph.dot, /graph.png
	Metrics  http.Handler             // serves /metrics
	Ready    func() Readiness         // what /-/ready answers; nil: always ready
	// Peers, when not nil, are the instances the graph endpoints fan
	// out to (e.g. the Kafka group's members); nil: Config.Cluster.Peers.
	Peers PeerSource
}

// Server is the HTTP API. Create it with New; serve it with Start, or mount
// Handler in a server of your own.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	src     Sources
	tlsConf *tls.Config  // nil: plaintext
	tokens  *auth.Tokens // nil: no authentication
	metrics *metrics
	queries *queryLimit
	cluster *cluster   // nil: no peers
	reads   *readCache // nil: neither Config.ReadMaxStaleness nor Config.ReadBudget
	page    *template.Template
	handler http.Handler

	mu   sync.Mutex    // guards the fields below
	srv  *http.Server  // nil when not serving
	ln   net.Listener  // the listener srv serves
	done chan struct{} // closed when srv's serve goroutine returns
}

// New validates cfg, loads the TLS and token files it names and registers
// the metrics. Nothing listens before Start.
func New(cfg Config, set Settings, src Sources) (*Server, error) {
	if src.Graph == nil {
		return nil, errors.New("api: nil graph source")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api: invalid config: %w", err)
	}
	tlsConf, err := cfg.TLS.Server()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	tokens, err := cfg.Auth.Load()
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	set.Logger = logging.OrDiscard(set.Logger)
	if set.Registerer == nil {
		set.Registerer = prometheus.NewRegistry()
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	m, err := newMetrics(set.Registerer)
	if err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	queries, err := newQueryLimit(cfg.MaxConcurrentQueries, cfg.RequestTimeout, set.Registerer)
	if err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	var reads *readCache
	if cfg.ReadMaxStaleness > 0 || cfg.ReadBudget > 0 {
		var budget *readBudget
		if cfg.ReadBudget > 0 {
			if budget, err = newReadBudget(cfg.ReadBudget, cfg.RequestTimeout/3, set.Now, set.Registerer); err != nil {
				return nil, fmt.Errorf("api: register metrics: %w", err)
			}
		}
		if reads, err = newReadCache(cfg.ReadMaxStaleness, cfg.ReadCacheBytes, budget, set.Now, set.Registerer); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}
	cl, err := newCluster(cfg.Cluster, src.Peers, set.Registerer)
	if err != nil {
		return nil, fmt.Errorf("api: cluster: %w", err)
	}
	page, err := template.ParseFS(staticFS, "static/index.html")
	if err != nil {
		return nil, fmt.Errorf("api: page template: %w", err)
	}
	s := &Server{cfg: cfg, log: set.Logger, now: set.Now, src: src, tlsConf: tlsConf, tokens: tokens, metrics: m, queries: queries, reads: reads, page: page}
	s.cluster = cl
	s.handler = s.routes()
	return s, nil
}

// Handler serves every endpoint, with the security headers, the method
// check, authentication and the request metrics. It needs no Start.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds Config.Addr (so an address in use is reported here) and
// serves in the background. ctx bounds binding only. After Shutdown the
// Server may be started again.
func (s *Server) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("api: start: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("api: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: listen on addr %q: %w", s.cfg.Addr, err)
	}
	if ln, err = netlimit.NewListener(ln, s.cfg.MaxConnections, s.metrics.connectionsRefused.Inc, s.metrics.connections); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       2 * s.cfg.ReadHeaderTimeout,
		WriteTimeout:      s.cfg.ReadHeaderTimeout + s.cfg.RequestTimeout,
		IdleTimeout:       2 * s.cfg.RequestTimeout,
		MaxHeaderBytes:    64 << 10,
		// Per-connection errors (TLS handshakes, resets) are not worth a
		// record each at the default level.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.tlsConf != nil {
		srv.TLSConfig = s.tlsConf.Clone()
	}
	done := make(chan struct{})
	s.srv, s.ln, s.done = srv, ln, done
	go func() {
		defer close(done)
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP API stopped serving", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.log.Info("HTTP API started", "addr", ln.Addr().String(), "tls", s.tlsConf != nil,
		"mutual_tls", s.cfg.TLS.MutualTLS(), "probes_without_client_cert", s.cfg.TLS.HealthWithoutClientCert, "bearer_auth", s.tokens != nil,
		"renderer", s.src.Renderer != nil, "metrics", s.src.Metrics != nil)
	if s.tokens != nil && s.tlsConf == nil {
		s.log.Warn("HTTP API checks bearer tokens over plaintext connections; configure tls to keep tokens secret")
	}
	return nil
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// then closes what is left and returns ctx's error. It is safe without
// Start and when called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv, s.ln, s.done = nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	var err error
	if err = srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		err = fmt.Errorf("api: drain: %w", err)
	}
	<-done
	s.log.Info("HTTP API stopped", "err", err)
	return err
}

// Addr is the bound address, nil when not serving. With port 0 in
// Config.Addr it tells the port the system chose.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

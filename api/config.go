package api

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/internal/auth"
	"github.com/servicegraph/servicegraph/internal/tlsconfig"
	"github.com/servicegraph/servicegraph/internal/traceurl"
)

// Defaults of NewDefaultConfig.
const (
	DefaultAddr              = "127.0.0.1:8080"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
	DefaultMaxDepth          = 10
	DefaultPageRefresh       = 10 * time.Second
	// DefaultReadMaxStaleness and DefaultReadCacheBytes are the read
	// cache's defaults: answers up to 1 s old, 128 MiB (at 100k edges a
	// gzipped scrape is ~10 MB, an /api/graph/data answer ~31 MB).
	DefaultReadMaxStaleness       = time.Second
	DefaultReadCacheBytes   int64 = 128 << 20
	// DefaultReadBudget is a quarter of a core: it cut the export p99
	// while /metrics and /api/graph/data are hammered on the 2-core bench
	// VM to a fraction of what it is without (README, "Steady state
	// (issue 12)"). A read pauses at most a third of RequestTimeout, a
	// Prometheus scrape at most a third of the timeout it announces, and
	// the write deadline follows the answer's progress (progressDeadline),
	// so a scrape at the edge cap is slowed, never cut (e2e
	// TestAttackGraphScrapeAtEdgeCap).
	DefaultReadBudget     = 250 * time.Millisecond
	DefaultMaxConnections = 1024
)

// DefaultMaxConcurrentQueries is half the CPUs Go may use, at least 1:
// graph queries never take more than half the machine from ingestion.
func DefaultMaxConcurrentQueries() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// Config configures the HTTP API server. Build it with NewDefaultConfig.
type Config struct {
	// Addr is the listen address, host:port.
	Addr string `yaml:"addr"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// RequestTimeout bounds one request: it is the deadline of the
	// handler's context (a render that outlives it answers 503) and the
	// server's write timeout, plus ReadHeaderTimeout.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxDepth is the largest accepted `depth` filter.
	MaxDepth int `yaml:"max_depth"`
	// MaxConnections caps the listener's open connections; one accepted
	// past it is closed at once and counted, so a flood of idle
	// connections cannot take the descriptors that saves and probes need.
	MaxConnections int `yaml:"max_connections"`
	// MaxConcurrentQueries caps the graph queries (Grafana rows, Jaeger
	// dependencies, renders) computed at once; more wait for a slot, up
	// to RequestTimeout, then get 503 with Retry-After.
	MaxConcurrentQueries int `yaml:"max_concurrent_queries"`
	// ReadMaxStaleness is how old an answer of /metrics, /api/graph/data,
	// /api/graph/nodes or /api/graph/edges may be when served again from
	// the read cache: readers polling them share one encoding per period
	// (the graph routes' answers also while the graph is unchanged).
	// 0 disables the cache: every read encodes its own answer.
	ReadMaxStaleness time.Duration `yaml:"read_max_staleness"`
	// ReadCacheBytes bounds the read cache's memory (bodies, keys,
	// headers); the least recently served answers go first, and an answer
	// larger than it is streamed, not kept.
	ReadCacheBytes int64 `yaml:"read_cache_bytes"`
	// ReadBudget is the serving time the reads of those routes may take
	// per second, summed over the reads in progress (250ms: a quarter of
	// a core); reads past it pause between 64 KiB pieces. 0: no budget.
	ReadBudget time.Duration `yaml:"read_budget"`
	// PageRefresh is the built-in page's auto-refresh period.
	PageRefresh time.Duration `yaml:"page_refresh"`
	// TraceURLTemplate links sample traces to a trace viewer: a URL
	// holding {trace_id} (and optionally {span_id}), e.g. Jaeger's
	// http://localhost:16686/trace/{trace_id}. Empty: ids only, no URLs.
	TraceURLTemplate string `yaml:"trace_url_template"`
	// TLS serves HTTPS; client_ca_file turns on mutual TLS.
	TLS TLSConfig `yaml:"tls"`
	// Auth requires a bearer token on every endpoint but /-/healthy and
	// /-/ready.
	Auth auth.Config `yaml:"auth"`
	// Cluster makes the graph endpoints answer for every instance of a
	// scale-out (fan-out to the peers, merged answers).
	Cluster ClusterConfig `yaml:"cluster"`
}

// TLSConfig is the API listener's TLS: the files, and whether the probes
// are exempt from mutual TLS.
type TLSConfig struct {
	tlsconfig.Config `yaml:",inline"`
	// HealthWithoutClientCert, with mutual TLS (client_ca_file), serves
	// /-/healthy and /-/ready to clients without a certificate, for
	// probes (kubelet, load balancers) that cannot present one. The
	// handshake then asks for a certificate without requiring it (a
	// certificate that is presented must still verify), and every other
	// path answers 403 to a client that presented none.
	HealthWithoutClientCert bool `yaml:"health_without_client_cert"`
}

// Validate reports every problem of c at once.
func (c TLSConfig) Validate() error {
	err := c.Config.Validate()
	if c.HealthWithoutClientCert && !c.MutualTLS() {
		err = errors.Join(err, errors.New("tls: health_without_client_cert needs client_ca_file (it exempts the probes from mutual TLS)"))
	}
	return err
}

// Server is tlsconfig.Config.Server, with client certificates asked for
// but not required when HealthWithoutClientCert is set (the handler then
// requires one on every path but the probes).
func (c TLSConfig) Server() (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	conf, err := c.Config.Server()
	if err == nil && conf != nil && c.HealthWithoutClientCert {
		conf.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return conf, err
}

// NewDefaultConfig returns the defaults: 127.0.0.1:8080, plaintext, no
// authentication, 30 s per request, depth up to 10, page refresh 10 s,
// graph queries on half the CPUs.
func NewDefaultConfig() Config {
	return Config{
		Addr:                 DefaultAddr,
		ReadHeaderTimeout:    DefaultReadHeaderTimeout,
		RequestTimeout:       DefaultRequestTimeout,
		MaxDepth:             DefaultMaxDepth,
		MaxConnections:       DefaultMaxConnections,
		MaxConcurrentQueries: DefaultMaxConcurrentQueries(),
		PageRefresh:          DefaultPageRefresh,
		Cluster:              NewDefaultClusterConfig(),
		ReadMaxStaleness:     DefaultReadMaxStaleness,
		ReadCacheBytes:       DefaultReadCacheBytes,
		ReadBudget:           DefaultReadBudget,
	}
}

// Validate reports every problem of c at once. It reads no file: New loads
// the TLS and token files and names the one that fails.
func (c Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: port must be a number from 0 to 65535", c.Addr))
	}
	if c.ReadHeaderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("read_header_timeout must be positive, got %s", c.ReadHeaderTimeout))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request_timeout must be positive, got %s", c.RequestTimeout))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("max_connections must be at least 1, got %d", c.MaxConnections))
	}
	if c.MaxConcurrentQueries < 1 {
		errs = append(errs, fmt.Errorf("max_concurrent_queries must be at least 1, got %d", c.MaxConcurrentQueries))
	}
	if c.MaxDepth < 0 || c.MaxDepth > 1000 {
		errs = append(errs, fmt.Errorf("max_depth must be between 0 and 1000, got %d", c.MaxDepth))
	}
	if c.ReadMaxStaleness < 0 {
		errs = append(errs, fmt.Errorf("read_max_staleness must not be negative, got %s", c.ReadMaxStaleness))
	}
	if c.ReadBudget != 0 && c.ReadBudget < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("read_budget must be 0 (none) or at least 10ms, got %s", c.ReadBudget))
	}
	if c.ReadCacheBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("read_cache_bytes must be at least 1048576 (1 MiB), got %d", c.ReadCacheBytes))
	}
	if err := c.Cluster.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("cluster: %w", err))
	}
	if c.PageRefresh < time.Second {
		errs = append(errs, fmt.Errorf("page_refresh must be at least 1s, got %s", c.PageRefresh))
	}
	if _, err := traceurl.Parse(c.TraceURLTemplate); err != nil {
		errs = append(errs, fmt.Errorf("trace_url_template: %w", err))
	}
	errs = append(errs, c.TLS.Validate())
	return errors.Join(errs...)
}

// Settings are what the code, not the configuration, supplies. Nil fields
// mean the default.
type Settings struct {
	// Logger receives start, stop and failure records, never one per
	// request. Nil discards.
	Logger *slog.Logger
	// Registerer receives the API's metrics. Nil means a private registry.
	Registerer prometheus.Registerer
	// Now is the clock that default time windows end at. Nil means
	// time.Now.
	Now func() time.Time
}

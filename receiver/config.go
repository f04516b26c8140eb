package receiver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/servicegraph/servicegraph/internal/auth"
	"github.com/servicegraph/servicegraph/internal/tlsconfig"
)

// Defaults of NewDefaultConfig.
const (
	DefaultGRPCAddr              = "127.0.0.1:4317"
	DefaultHTTPAddr              = "127.0.0.1:4318"
	DefaultMaxRequestBytes       = 16 << 20
	DefaultMaxConcurrentRequests = 64
	DefaultMaxInflightBytes      = 256 << 20
	DefaultReadHeaderTimeout     = 10 * time.Second
	DefaultRequestTimeout        = 30 * time.Second
	DefaultReadTimeout           = 30 * time.Second
	DefaultMaxStreams            = 4
	DefaultMaxConnections        = 4096
	DefaultIdleTimeout           = 2 * time.Minute
)

// Config configures both OTLP transports. Build it with NewDefaultConfig.
type Config struct {
	// GRPCAddr is the OTLP/gRPC listen address; empty disables gRPC.
	GRPCAddr string `yaml:"grpc_addr"`
	// HTTPAddr is the OTLP/HTTP listen address; empty disables HTTP.
	HTTPAddr string `yaml:"http_addr"`
	// MaxRequestBytes bounds one request: the gRPC message (after
	// decompression), the HTTP body as sent, and the HTTP body after gzip
	// decompression. Larger requests are refused (HTTP 413, gRPC
	// ResourceExhausted), never inflated past the limit.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxConcurrentRequests bounds the requests being decoded and consumed
	// at once, both transports together. Past it requests are refused at
	// once as retryable (HTTP 429, gRPC Unavailable with RetryInfo).
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// MaxInflightBytes bounds the memory of all requests in flight, both
	// transports together: each reserves what it can cost, from the bytes
	// of its body as they arrive (gRPC: max_request_bytes until its message
	// has arrived) to the estimated cost of decoding and consuming it
	// (budget.go). Requests that cannot reserve are refused at once as
	// retryable; one that would need more than all of it, as too large.
	// It must hold a protobuf request of max_request_bytes.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// ReadHeaderTimeout bounds reading HTTP request headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// RequestTimeout bounds handing a request to the consumer on either
	// transport (the consumer's context deadline).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ReadTimeout bounds receiving a request's body (HTTP) or message
	// (gRPC) once its headers have arrived: a slower request is refused
	// (HTTP 503) or cancelled (gRPC), counted as a timeout, and its
	// reservation freed. A body being received holds no concurrency slot.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MaxStreamsPerConnection bounds the gRPC streams (calls) one
	// connection has open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS;
	// clients queue the rest), so that one connection cannot reserve the
	// whole memory budget.
	MaxStreamsPerConnection int `yaml:"max_streams_per_connection"`
	// MaxConnections bounds the connections each listener holds open; one
	// accepted past it is closed at once and counted. Both listeners'
	// caps, with a reserve for the rest of the service, must fit the
	// open-file limit (netlimit.CheckFiles).
	MaxConnections int `yaml:"max_connections"`
	// IdleTimeout closes a connection without requests for that long
	// (HTTP keep-alive; gRPC max connection idle, with GOAWAY).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// TLS applies to both listeners; client_ca_file turns on mutual TLS.
	TLS tlsconfig.Config `yaml:"tls"`
	// Auth requires a bearer token on both transports.
	Auth auth.Config `yaml:"auth"`
}

// NewDefaultConfig returns the defaults: both transports on localhost, 16 MiB
// requests, 64 concurrent requests, 256 MiB for requests in flight, 30 s to
// receive a body or message, 4 gRPC streams per connection, 4,096
// connections per listener, idle connections closed after 2 minutes, no
// TLS, no auth.
func NewDefaultConfig() Config {
	return Config{
		GRPCAddr:                DefaultGRPCAddr,
		HTTPAddr:                DefaultHTTPAddr,
		MaxRequestBytes:         DefaultMaxRequestBytes,
		MaxConcurrentRequests:   DefaultMaxConcurrentRequests,
		MaxInflightBytes:        DefaultMaxInflightBytes,
		ReadHeaderTimeout:       DefaultReadHeaderTimeout,
		RequestTimeout:          DefaultRequestTimeout,
		ReadTimeout:             DefaultReadTimeout,
		MaxStreamsPerConnection: DefaultMaxStreams,
		MaxConnections:          DefaultMaxConnections,
		IdleTimeout:             DefaultIdleTimeout,
	}
}

// Validate reports every problem of c at once. It reads no file: New loads
// the TLS and token files and names the one that fails.
func (c Config) Validate() error {
	var errs []error
	if c.GRPCAddr == "" && c.HTTPAddr == "" {
		errs = append(errs, errors.New("grpc_addr and http_addr are both empty: nothing to listen on"))
	}
	errs = append(errs, checkAddr("grpc_addr", c.GRPCAddr), checkAddr("http_addr", c.HTTPAddr))
	if c.GRPCAddr != "" && c.GRPCAddr == c.HTTPAddr && !hasPortZero(c.GRPCAddr) {
		errs = append(errs, fmt.Errorf("grpc_addr and http_addr are both %q", c.GRPCAddr))
	}
	if c.MaxRequestBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_request_bytes must be positive, got %d", c.MaxRequestBytes))
	}
	if c.MaxConcurrentRequests <= 0 {
		errs = append(errs, fmt.Errorf("max_concurrent_requests must be positive, got %d", c.MaxConcurrentRequests))
	}
	switch {
	case c.MaxInflightBytes <= 0:
		errs = append(errs, fmt.Errorf("max_inflight_bytes must be positive, got %d", c.MaxInflightBytes))
	case c.MaxRequestBytes > 0 && c.MaxInflightBytes/protoCostPerByte < c.MaxRequestBytes:
		errs = append(errs, fmt.Errorf("max_inflight_bytes (%d) must be at least %d × max_request_bytes (%d): a protobuf request of max_request_bytes costs that much",
			c.MaxInflightBytes, protoCostPerByte, c.MaxRequestBytes))
	}
	if c.ReadHeaderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("read_header_timeout must be positive, got %s", c.ReadHeaderTimeout))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request_timeout must be positive, got %s", c.RequestTimeout))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("read_timeout must be positive, got %s", c.ReadTimeout))
	}
	if c.MaxStreamsPerConnection <= 0 {
		errs = append(errs, fmt.Errorf("max_streams_per_connection must be positive, got %d", c.MaxStreamsPerConnection))
	}
	if c.MaxConnections <= 0 {
		errs = append(errs, fmt.Errorf("max_connections must be positive, got %d", c.MaxConnections))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("idle_timeout must be positive, got %s", c.IdleTimeout))
	}
	errs = append(errs, c.TLS.Validate())
	return errors.Join(errs...)
}

// Connections is the most connections the receiver holds open: the cap
// of each enabled listener. With netlimit.Reserve it must fit the
// open-file limit.
func (c Config) Connections() int {
	n := 0
	for _, addr := range []string{c.GRPCAddr, c.HTTPAddr} {
		if addr != "" {
			n += c.MaxConnections
		}
	}
	return n
}

// checkAddr accepts "host:port" and ":port" with a numeric port 0-65535.
func checkAddr(key, addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", key, addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s %q: port must be a number from 0 to 65535", key, addr)
	}
	return nil
}

func hasPortZero(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

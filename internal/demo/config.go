package demo

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
)

const (
	// DefaultRate is the request rate used when Config.Rate is 0.
	DefaultRate = 20.0
	// MaxRate is the highest accepted Config.Rate.
	MaxRate = 10000.0
	// DefaultEndpoint is the servicegraph OTLP/gRPC receiver's default address.
	DefaultEndpoint = "127.0.0.1:4317"
)

// Config configures the traffic generator.
type Config struct {
	// Endpoint is the OTLP/gRPC receiver as host:port, without a scheme,
	// e.g. "127.0.0.1:4317". The connection is plaintext (insecure).
	Endpoint string `yaml:"endpoint"`
	// Rate is the number of simulated user requests per second, at most
	// MaxRate; 0 means DefaultRate.
	Rate float64 `yaml:"rate"`
	// Seed seeds the traffic's shape (routes, durations, errors, retries,
	// batch sizes); 0 picks a random seed, which Run logs.
	Seed uint64 `yaml:"seed"`
	// MaxRequests stops the traffic after this many user requests;
	// 0 means until the context passed to Run is done.
	MaxRequests int `yaml:"max_requests"`
}

// NewDefaultConfig returns the configuration `servicegraph demo` starts from.
func NewDefaultConfig() Config {
	return Config{Endpoint: DefaultEndpoint, Rate: DefaultRate}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if err := validateEndpoint(c.Endpoint); err != nil {
		errs = append(errs, err)
	}
	switch {
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		errs = append(errs, fmt.Errorf("demo: rate %v is not a finite number", c.Rate))
	case c.Rate < 0 || c.Rate > MaxRate:
		errs = append(errs, fmt.Errorf("demo: rate %v is outside [0, %v] requests per second", c.Rate, MaxRate))
	}
	if c.MaxRequests < 0 {
		errs = append(errs, fmt.Errorf("demo: max_requests %d is negative", c.MaxRequests))
	}
	return errors.Join(errs...)
}

func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("demo: endpoint is empty, want host:port")
	}
	if strings.Contains(endpoint, "/") {
		return fmt.Errorf("demo: endpoint %q: want host:port without scheme or path", endpoint)
	}
	_, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("demo: endpoint %q: %w", endpoint, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("demo: endpoint %q: port must be a number in 1-65535", endpoint)
	}
	return nil
}

// rate returns the effective request rate.
func (c Config) rate() float64 {
	if c.Rate == 0 {
		return DefaultRate
	}
	return c.Rate
}

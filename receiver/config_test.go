package receiver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/receiver"
)

func TestNewDefaultConfig(t *testing.T) {
	cfg := receiver.NewDefaultConfig()
	want := receiver.Config{
		GRPCAddr:                "127.0.0.1:4317",
		HTTPAddr:                "127.0.0.1:4318",
		MaxRequestBytes:         16 << 20,
		MaxConcurrentRequests:   64,
		MaxInflightBytes:        256 << 20,
		ReadHeaderTimeout:       10 * time.Second,
		RequestTimeout:          30 * time.Second,
		ReadTimeout:             30 * time.Second,
		MaxStreamsPerConnection: 4,
		MaxConnections:          4096,
		IdleTimeout:             2 * time.Minute,
	}
	if cfg != want {
		t.Fatalf("NewDefaultConfig() = %+v, want %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*receiver.Config)
		wantErr []string // every substring must appear; nil: valid
	}{
		{name: "defaults", mutate: func(*receiver.Config) {}},
		{name: "grpc only", mutate: func(c *receiver.Config) { c.HTTPAddr = "" }},
		{name: "http only on all interfaces", mutate: func(c *receiver.Config) { c.GRPCAddr, c.HTTPAddr = "", ":4318" }},
		{name: "ipv6", mutate: func(c *receiver.Config) { c.GRPCAddr = "[::1]:4317" }},
		{name: "both ephemeral", mutate: func(c *receiver.Config) { c.GRPCAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0" }},
		{
			name:    "nothing to listen on",
			mutate:  func(c *receiver.Config) { c.GRPCAddr, c.HTTPAddr = "", "" },
			wantErr: []string{"both empty"},
		},
		{
			name:    "bad addresses",
			mutate:  func(c *receiver.Config) { c.GRPCAddr, c.HTTPAddr = "localhost", "127.0.0.1:http" },
			wantErr: []string{`grpc_addr "localhost"`, `http_addr "127.0.0.1:http"`},
		},
		{
			name:    "port out of range",
			mutate:  func(c *receiver.Config) { c.GRPCAddr = "127.0.0.1:70000" },
			wantErr: []string{"port must be a number"},
		},
		{
			name:    "same address twice",
			mutate:  func(c *receiver.Config) { c.HTTPAddr = c.GRPCAddr },
			wantErr: []string{"are both"},
		},
		{
			name: "every limit wrong at once",
			mutate: func(c *receiver.Config) {
				c.MaxRequestBytes, c.MaxConcurrentRequests = 0, -1
				c.ReadHeaderTimeout, c.RequestTimeout = 0, -time.Second
				c.ReadTimeout, c.MaxStreamsPerConnection = 0, 0
				c.MaxConnections, c.IdleTimeout = 0, 0
			},
			wantErr: []string{"max_request_bytes", "max_concurrent_requests", "read_header_timeout", "request_timeout",
				"read_timeout must be positive", "max_streams_per_connection must be positive",
				"max_connections must be positive", "idle_timeout must be positive"},
		},
		{
			name:    "no memory budget",
			mutate:  func(c *receiver.Config) { c.MaxInflightBytes = 0 },
			wantErr: []string{"max_inflight_bytes must be positive"},
		},
		{
			name:    "budget smaller than one maximal request",
			mutate:  func(c *receiver.Config) { c.MaxInflightBytes = 16*c.MaxRequestBytes - 1 },
			wantErr: []string{"max_inflight_bytes (268435455) must be at least 16 × max_request_bytes (16777216)"},
		},
		{name: "budget of one maximal request", mutate: func(c *receiver.Config) { c.MaxInflightBytes = 16 * c.MaxRequestBytes }},
		{
			name:    "cert without key",
			mutate:  func(c *receiver.Config) { c.TLS.CertFile = "server.pem" },
			wantErr: []string{"key_file is empty"},
		},
		{
			name:    "client CA without server certificate",
			mutate:  func(c *receiver.Config) { c.TLS.ClientCAFile = "ca.pem" },
			wantErr: []string{"client_ca_file needs cert_file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := receiver.NewDefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestConnections(t *testing.T) {
	tests := []struct {
		name       string
		grpc, http string
		want       int
	}{
		{"both", "127.0.0.1:4317", "127.0.0.1:4318", 2 * 4096},
		{"grpc only", "127.0.0.1:4317", "", 4096},
		{"http only", "", "127.0.0.1:4318", 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := receiver.NewDefaultConfig()
			cfg.GRPCAddr, cfg.HTTPAddr = tt.grpc, tt.http
			if got := cfg.Connections(); got != tt.want {
				t.Errorf("Connections() = %d, want %d", got, tt.want)
			}
		})
	}
}

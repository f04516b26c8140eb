package tlsconfig_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/internal/tlsconfig"
	"github.com/servicegraph/servicegraph/internal/tlsconfig/tlstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     tlsconfig.Config
		wantErr []string // substrings, all of which must appear
	}{
		{name: "disabled", cfg: tlsconfig.Config{}},
		{name: "cert and key", cfg: tlsconfig.Config{CertFile: "c", KeyFile: "k"}},
		{name: "mtls", cfg: tlsconfig.Config{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}},
		{name: "cert without key", cfg: tlsconfig.Config{CertFile: "c"}, wantErr: []string{"key_file is empty"}},
		{name: "key without cert", cfg: tlsconfig.Config{KeyFile: "k"}, wantErr: []string{"cert_file is empty"}},
		{
			name:    "client CA alone reports both problems",
			cfg:     tlsconfig.Config{KeyFile: "k", ClientCAFile: "ca"},
			wantErr: []string{"cert_file is empty", "client_ca_file needs cert_file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestServer(t *testing.T) {
	dir := t.TempDir()
	f := tlstest.Write(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name       string
		cfg        tlsconfig.Config
		wantNil    bool
		wantMTLS   bool
		wantErrHas string
	}{
		{name: "disabled", cfg: tlsconfig.Config{}, wantNil: true},
		{name: "tls", cfg: tlsconfig.Config{CertFile: f.ServerCert, KeyFile: f.ServerKey}},
		{name: "mtls", cfg: tlsconfig.Config{CertFile: f.ServerCert, KeyFile: f.ServerKey, ClientCAFile: f.CA}, wantMTLS: true},
		{name: "missing cert", cfg: tlsconfig.Config{CertFile: missing, KeyFile: f.ServerKey}, wantErrHas: missing},
		{name: "key of another cert", cfg: tlsconfig.Config{CertFile: f.ServerCert, KeyFile: f.ClientKey}, wantErrHas: f.ClientKey},
		{name: "missing client CA", cfg: tlsconfig.Config{CertFile: f.ServerCert, KeyFile: f.ServerKey, ClientCAFile: missing}, wantErrHas: missing},
		{name: "client CA without PEM", cfg: tlsconfig.Config{CertFile: f.ServerCert, KeyFile: f.ServerKey, ClientCAFile: garbage}, wantErrHas: garbage},
		{name: "invalid shape", cfg: tlsconfig.Config{CertFile: f.ServerCert}, wantErrHas: "key_file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.cfg.Server()
			if tt.wantErrHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrHas) {
					t.Fatalf("Server() error = %v, want it to name %q", err, tt.wantErrHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Server() error = %v", err)
			}
			if tt.wantNil {
				if cfg != nil {
					t.Fatalf("Server() = %v, want nil", cfg)
				}
				return
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			if len(cfg.Certificates) != 1 {
				t.Errorf("got %d certificates, want 1", len(cfg.Certificates))
			}
			gotMTLS := cfg.ClientAuth == tls.RequireAndVerifyClientCert && cfg.ClientCAs != nil
			if gotMTLS != tt.wantMTLS {
				t.Errorf("mutual TLS = %v, want %v", gotMTLS, tt.wantMTLS)
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	f := tlstest.Write(t, t.TempDir())
	srvCfg, err := tlsconfig.Config{CertFile: f.ServerCert, KeyFile: f.ServerKey, ClientCAFile: f.CA}.Server()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		withCert bool
		wantOK   bool
	}{
		{name: "client certificate", withCert: true, wantOK: true},
		{name: "no client certificate", withCert: false, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", srvCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			srvErr := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					srvErr <- err
					return
				}
				defer c.Close()
				srvErr <- c.(*tls.Conn).Handshake()
			}()
			c, err := tls.Dial("tcp", ln.Addr().String(), f.ClientConfig(t, tt.withCert))
			if err == nil {
				// TLS 1.3: the client learns of a refused certificate on read.
				_, err = c.Read(make([]byte, 1))
				c.Close()
			}
			serr := <-srvErr
			if gotOK := serr == nil; gotOK != tt.wantOK {
				t.Fatalf("server handshake error = %v (client: %v), want success %v", serr, err, tt.wantOK)
			}
		})
	}
}

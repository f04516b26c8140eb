package api_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/internal/tlsconfig/tlstest"
)

// TestMutualTLSProbesExempt runs a real mTLS listener and real TLS clients
// with and without a certificate (and with one from another CA): by
// default a client without a certificate is refused at the handshake on
// every path; with HealthWithoutClientCert the probes answer it and every
// other path is 403, while a client with a certificate is served everywhere
// and a certificate that does not verify never gets in.
func TestMutualTLSProbesExempt(t *testing.T) {
	dir := t.TempDir()
	files := tlstest.Write(t, dir)
	other := tlstest.Write(t, t.TempDir()) // a client certificate of another CA
	st, c := fixture(t)
	const forbidden = `{"error":"client certificate required: this API uses mutual TLS; only /-/healthy and /-/ready are served without one"}` + "\n"
	type answer struct {
		code int // 0: refused at the TLS handshake
		body string
	}
	tests := []struct {
		name   string
		exempt bool
		client func() *tls.Config
		want   map[string]answer
	}{
		{"mTLS, no certificate", false, func() *tls.Config { return files.ClientConfig(t, false) }, map[string]answer{
			"/-/healthy": {0, ""}, "/-/ready": {0, ""}, "/api/graph/data": {0, ""},
		}},
		{"probes exempt, no certificate", true, func() *tls.Config { return files.ClientConfig(t, false) }, map[string]answer{
			"/-/healthy":      {200, "ok"},
			"/-/ready":        {200, `{"status":"ready"}` + "\n"},
			"/api/graph/data": {403, forbidden},
			"/metrics":        {403, forbidden},
			"/":               {403, forbidden},
			"/no/such/page":   {403, forbidden},
		}},
		{"probes exempt, certificate", true, func() *tls.Config { return files.ClientConfig(t, true) }, map[string]answer{
			"/-/healthy": {200, "ok"}, "/-/ready": {200, `{"status":"ready"}` + "\n"}, "/api/graph/data": {200, ""}, "/no/such/page": {404, `{"error":"not found"}` + "\n"},
		}},
		{"probes exempt, certificate of another CA", true, func() *tls.Config {
			cfg := files.ClientConfig(t, false)
			cfg.Certificates = other.ClientConfig(t, true).Certificates
			return cfg
		}, map[string]answer{
			"/-/healthy": {0, ""}, "/api/graph/data": {0, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) {
				cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile = files.ServerCert, files.ServerKey, files.CA
				cfg.TLS.HealthWithoutClientCert = tt.exempt
			})
			if err := s.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tt.client()}}
			for path, want := range tt.want {
				var got answer
				resp, err := client.Get("https://" + s.Addr().String() + path)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					got = answer{resp.StatusCode, string(b)}
					if path == "/api/graph/data" && got.code == 200 {
						got.body = ""
					}
				} else if !strings.Contains(err.Error(), "tls") && !strings.Contains(err.Error(), "certificate") {
					t.Errorf("GET %s: %v, want a TLS refusal", path, err)
				}
				if got != want {
					t.Errorf("GET %s = %+v, want %+v", path, got, want)
				}
			}
		})
	}
}

func TestTLSConfigValidate(t *testing.T) {
	cfg := api.NewDefaultConfig()
	cfg.TLS.HealthWithoutClientCert = true
	cfg.TLS.CertFile, cfg.TLS.KeyFile = "c.pem", "k.pem"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "health_without_client_cert needs client_ca_file") {
		t.Fatalf("err = %v", err)
	}
	cfg.TLS.ClientCAFile = "ca.pem"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

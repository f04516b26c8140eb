package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config names the PEM files of a TLS server. The zero value disables TLS.
type Config struct {
	// CertFile is the server certificate chain (PEM). Setting it turns TLS on.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key of CertFile (PEM).
	KeyFile string `yaml:"key_file"`
	// ClientCAFile, when set, is a PEM bundle of CAs: clients must present a
	// certificate signed by one of them (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether TLS is configured.
func (c Config) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// MutualTLS reports whether client certificates are required.
func (c Config) MutualTLS() bool { return c.ClientCAFile != "" }

// Validate reports every inconsistency of c at once. It does not read files:
// Server does, and names the file that failed.
func (c Config) Validate() error {
	var errs []error
	if c.CertFile != "" && c.KeyFile == "" {
		errs = append(errs, errors.New("tls: cert_file is set but key_file is empty"))
	}
	if c.KeyFile != "" && c.CertFile == "" {
		errs = append(errs, errors.New("tls: key_file is set but cert_file is empty"))
	}
	if c.ClientCAFile != "" && c.CertFile == "" {
		errs = append(errs, errors.New("tls: client_ca_file needs cert_file and key_file (mutual TLS is TLS first)"))
	}
	return errors.Join(errs...)
}

// Server loads the files and returns a server configuration (TLS 1.2+,
// client certificates required and verified when ClientCAFile is set).
// It returns nil, nil when TLS is not enabled.
func (c Config) Server() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load cert_file %q with key_file %q: %w", c.CertFile, c.KeyFile, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if c.ClientCAFile != "" {
		pool, err := loadPool(c.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: read client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: client_ca_file %q holds no PEM certificate", path)
	}
	return pool, nil
}

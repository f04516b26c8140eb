package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// Defaults of ClusterConfig.
const (
	DefaultPeerTimeout        = 5 * time.Second
	DefaultMaxPeerBytes int64 = 256 << 20
)

// ClusterConfig makes every instance of a scale-out answer for the whole
// cluster: graph endpoints fan out to the peers and merge their graphs.
type ClusterConfig struct {
	// Peers are the base URLs (http://host:port or https://…) of the
	// instances to merge. The list may name this instance too (the same
	// list on every instance): it is recognised by its instance id and
	// skipped. Empty: no fan-out (unless the service supplies a
	// PeerSource, e.g. the Kafka group's members).
	Peers []string `yaml:"peers"`
	// PeerTimeout bounds the fan-out of one request: a peer that has not
	// answered by then is left out and the answer is marked partial.
	PeerTimeout time.Duration `yaml:"peer_timeout"`
	// MaxPeerBytes bounds one peer's answer (its graph of the window); a
	// larger one is left out (partial), never read whole.
	MaxPeerBytes int64 `yaml:"max_peer_bytes"`
	// PeerCAFile (PEM) verifies the peers' certificates (https peers);
	// empty: the system's roots. PeerCertFile and PeerKeyFile are the
	// client certificate presented to peers that require one (mutual
	// TLS); its extended key usage must allow client authentication.
	PeerCAFile   string `yaml:"peer_ca_file"`
	PeerCertFile string `yaml:"peer_cert_file"`
	PeerKeyFile  string `yaml:"peer_key_file"`
	// Limits bound the merged graph: the service sets them from
	// graph.max_nodes and graph.max_edges.
	Limits graph.MergeLimits `yaml:"-"`
}

// NewDefaultClusterConfig returns the defaults: no peers, 5 s, 256 MiB,
// the graph's default caps.
func NewDefaultClusterConfig() ClusterConfig {
	g := graph.NewDefaultConfig()
	return ClusterConfig{PeerTimeout: DefaultPeerTimeout, MaxPeerBytes: DefaultMaxPeerBytes,
		Limits: graph.MergeLimits{MaxNodes: g.MaxNodes, MaxEdges: g.MaxEdges}}
}

// Validate reports every problem at once.
func (c ClusterConfig) Validate() error {
	var errs []error
	for _, p := range c.Peers {
		if err := checkPeerURL(p); err != nil {
			errs = append(errs, fmt.Errorf("peers: %w", err))
		}
	}
	if c.PeerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("peer_timeout must be positive, got %s", c.PeerTimeout))
	}
	if c.MaxPeerBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max_peer_bytes must be at least 1024, got %d", c.MaxPeerBytes))
	}
	if (c.PeerCertFile == "") != (c.PeerKeyFile == "") {
		errs = append(errs, errors.New("peer_cert_file and peer_key_file go together"))
	}
	if c.Limits.MaxNodes < 2 || c.Limits.MaxEdges < 1 {
		errs = append(errs, fmt.Errorf("merge limits: max_nodes %d (at least 2), max_edges %d (at least 1)", c.Limits.MaxNodes, c.Limits.MaxEdges))
	}
	return errors.Join(errs...)
}

// clientTLS is the TLS configuration of the peer requests: nil for the
// defaults (system roots, no client certificate).
func (c ClusterConfig) clientTLS() (*tls.Config, error) {
	if c.PeerCAFile == "" && c.PeerCertFile == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.PeerCAFile != "" {
		pem, err := os.ReadFile(c.PeerCAFile)
		if err != nil {
			return nil, fmt.Errorf("peer_ca_file: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("peer_ca_file %s: no PEM certificate in it", c.PeerCAFile)
		}
	}
	if c.PeerCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.PeerCertFile, c.PeerKeyFile)
		if err != nil {
			return nil, fmt.Errorf("peer_cert_file, peer_key_file: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// checkPeerURL accepts http(s)://host[:port][/prefix], no query or
// fragment.
func checkPeerURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q: %w", cut(s, maxEcho), err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want http://host:port or https://host:port", cut(s, maxEcho))
	case u.Host == "":
		return fmt.Errorf("%q: no host", cut(s, maxEcho))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q: no user, query or fragment allowed", cut(s, maxEcho))
	}
	return nil
}

// PeerSource names the instances a fanned-out request asks. Peers is
// called once per request: it must be cheap and safe for concurrent use.
// The list may include this instance (skipped by its instance id).
type PeerSource interface {
	Peers() []string
}

// StaticPeers is a fixed list of peer base URLs (ClusterConfig.Peers).
type StaticPeers []string

// Peers returns the list.
func (p StaticPeers) Peers() []string { return p }

var _ PeerSource = StaticPeers(nil)

// peerBase is s without a trailing slash.
func peerBase(s string) string { return strings.TrimRight(s, "/") }

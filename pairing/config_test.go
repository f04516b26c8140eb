package pairing_test

import (
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/pairing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*pairing.Config)
		want string // "" when valid
	}{
		{"defaults", func(*pairing.Config) {}, ""},
		{"recent problems at the bound", func(c *pairing.Config) { c.RecentProblems = pairing.MaxRecentProblems }, ""},
		{"no recent problems", func(c *pairing.Config) { c.RecentProblems = 0 }, ""},
		{"recent problems past the bound", func(c *pairing.Config) { c.RecentProblems = pairing.MaxRecentProblems + 1 },
			"recent_problems must be between 0 and 10000, got 10001"},
		{"negative recent problems", func(c *pairing.Config) { c.RecentProblems = -1 }, "recent_problems must be between 0 and 10000, got -1"},
		{"names cut too short", func(c *pairing.Config) { c.MaxNameBytes = 15 }, "max_name_bytes must be at least 16, got 15"},
		{"Tempo's database order", func(c *pairing.Config) {
			c.DatabaseNameAttributes = []string{"peer.service", "server.address", "network.peer.address", "db.name"}
		}, ""},
		{"the connector's database order", func(c *pairing.Config) { c.DatabaseNameAttributes = []string{"db.name"} }, ""},
		{"no caller attributes", func(c *pairing.Config) { c.CallerAttributes = nil }, ""},
		{"unknown attribute", func(c *pairing.Config) { c.PeerAttributes = []string{"peer.service", "http.host"} },
			`peer_attributes: unknown attribute "http.host": must be one of db.system.name, db.system, db.namespace, db.name, ` +
				"peer.service, service.peer.name, server.address, network.peer.address, network.peer.port, net.peer.name, " +
				"net.sock.peer.addr, client.address"},
		{"port alone, twice", func(c *pairing.Config) {
			c.DatabaseNameAttributes = []string{"network.peer.port", "db.name", "db.name"}
		}, "database_name_attributes: network.peer.port must not stand alone (it is read with network.peer.address)\n" +
			`database_name_attributes: "db.name" must appear once, got it twice`},
		{"a span multiplier key", func(c *pairing.Config) { c.SpanMultiplierKey = "sampling.weight" }, ""},
		{"a naming attribute as multiplier", func(c *pairing.Config) { c.SpanMultiplierKey = "peer.service" },
			`span_multiplier_key must not be a naming attribute, got "peer.service"`},
		{"every problem at once", func(c *pairing.Config) { c.MaxNameBytes, c.RecentProblems = 0, -1 },
			"recent_problems must be between 0 and 10000, got -1\nmax_name_bytes must be at least 16, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pairing.NewDefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			if tt.want != "" && !strings.Contains(err.Error(), "must") {
				t.Fatal("message does not say what is wanted")
			}
		})
	}
}

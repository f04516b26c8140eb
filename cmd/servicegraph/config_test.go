package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "servicegraph.yaml")
	yaml := `
pairing:
  pair_wait: 3s
  link_wait: 2m
receiver:
  grpc_addr: 127.0.0.1:5317
state:
  dir: /var/lib/sg
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		check func(c Config) string
	}{
		{"defaults", nil, func(c Config) string {
			if c.Pairing.PairWait != 10*time.Second || c.Pairing.LinkWait != 5*time.Minute || c.Receiver.GRPCAddr != "127.0.0.1:4317" ||
				c.Receiver.HTTPAddr != "127.0.0.1:4318" || c.API.Addr != "127.0.0.1:8080" || c.State.Dir != "./data" {
				return "unexpected defaults"
			}
			return ""
		}},
		{"yaml over defaults", []string{"--config", path}, func(c Config) string {
			if c.Pairing.PairWait != 3*time.Second || c.Pairing.LinkWait != 2*time.Minute || c.Receiver.GRPCAddr != "127.0.0.1:5317" ||
				c.State.Dir != "/var/lib/sg" || c.API.Addr != "127.0.0.1:8080" {
				return "yaml not applied"
			}
			return ""
		}},
		{"flags over yaml, wherever they stand", []string{"--pair-wait", "7s", "--config", path, "--data-dir", ""}, func(c Config) string {
			if c.Pairing.PairWait != 7*time.Second || c.Pairing.LinkWait != 2*time.Minute || c.State.Dir != "" {
				return "flags did not win"
			}
			return ""
		}},
		{"one tls flag sets every listener", []string{"--tls-cert-file", "c.pem", "--tls-key-file", "k.pem"}, func(c Config) string {
			if c.Receiver.TLS.CertFile != "c.pem" || c.API.TLS.CertFile != "c.pem" || c.Receiver.TLS.KeyFile != "k.pem" || c.API.TLS.KeyFile != "k.pem" {
				return "tls flags not applied to both"
			}
			return ""
		}},
		{"a bare bool flag", []string{"--tls-cert-file", "c.pem", "--tls-key-file", "k.pem", "--tls-client-ca-file", "ca.pem",
			"--api-health-without-client-cert"}, func(c Config) string {
			if !c.API.TLS.HealthWithoutClientCert || c.API.TLS.ClientCAFile != "ca.pem" {
				return "--api-health-without-client-cert not applied"
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c, err := parseConfig(fs, tc.args, io.Discard, newDefaultConfig)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Fatalf("%s: %+v", msg, c)
			}
		})
	}
}

// Every flag names the YAML key(s) it mirrors, and they are real: a YAML
// file setting each key to a value parses strictly and gives the same
// configuration as the flag.
func TestFlagsMirrorYAML(t *testing.T) {
	for _, o := range options {
		t.Run(o.name, func(t *testing.T) {
			def := newDefaultConfig()
			val := (fieldsValue{o.fields(&def)}).String()
			if val == "" {
				val = "x" // an empty default (a file path): any value will do
			}
			var doc strings.Builder
			for _, key := range strings.Split(o.key, ", ") {
				parts := strings.Split(key, ".")
				for i, p := range parts[:len(parts)-1] {
					doc.WriteString(strings.Repeat("  ", i) + p + ":\n")
				}
				v := val
				switch (fieldsValue{o.fields(&def)}).typeName() {
				case "string":
					v = `"` + v + `"`
				case "list":
					v = "[" + v + "]"
				}
				doc.WriteString(strings.Repeat("  ", len(parts)-1) + parts[len(parts)-1] + ": " + v + "\n")
			}
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(doc.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			fromYAML := newDefaultConfig()
			if _, probs, err := loadYAML(path, &fromYAML); err != nil || len(probs) > 0 {
				t.Fatalf("key %q is not a YAML key: %v %v\n%s", o.key, err, probs, doc.String())
			}
			fromFlag := newDefaultConfig()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			bind(fs, &fromFlag)
			if err := fs.Set(o.name, val); err != nil {
				t.Fatal(err)
			}
			got, want := (fieldsValue{o.fields(&fromYAML)}).String(), (fieldsValue{o.fields(&fromFlag)}).String()
			if got != want {
				t.Fatalf("yaml gives %q, flag gives %q", got, want)
			}
		})
	}
}

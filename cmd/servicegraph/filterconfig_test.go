package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilterPoliciesConfig: pairing.filter_policies in the configuration
// file, Tempo's form; a bad policy is refused at start with its line or
// key and what is wrong.
func TestFilterPoliciesConfig(t *testing.T) {
	parse := func(t *testing.T, doc string) (Config, error) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "servicegraph.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return parseConfig(fs, []string{"--config", path}, io.Discard, newDefaultConfig)
	}
	c, err := parse(t, `
pairing:
  filter_policies:
    - exclude:
        match_type: regex
        attributes:
          - key: name
            value: ^/health
    - include:
        match_type: strict
        attributes:
          - key: resource.deployment.environment
            value: prod
`)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Pairing.FilterPolicies; len(p) != 2 || p[0].Exclude == nil || p[0].Exclude.Attributes[0].Value != "^/health" ||
		p[1].Include == nil || p[1].Include.Attributes[0].Key != "resource.deployment.environment" {
		t.Fatalf("policies not read: %+v", p)
	}
	for _, bad := range []struct{ name, doc, want string }{
		{"unknown key", `
pairing:
  filter_policies:
    - exclude:
        match_type: regex
        atributes: []
`, "invalid configuration in PATH:\n  line 4: pairing.filter_policies: line 6: unknown key \"atributes\" (known: match_type, attributes)"},
		{"bad regex and match type", `
pairing:
  filter_policies:
    - exclude:
        match_type: regex
        attributes: [{key: name, value: "a("}]
    - include: {match_type: exact}
`, "invalid configuration in PATH:\n  line 3: pairing.filter_policies: policy 1: exclude: attribute 1 (\"name\"): bad regex: error parsing regexp: missing closing ): `a(`" +
			"\n  line 3: pairing.filter_policies: policy 2: include: match_type must be strict or regex, got \"exact\""},
	} {
		t.Run(bad.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "servicegraph.yaml")
			if err := os.WriteFile(path, []byte(bad.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			_, err := parseConfig(fs, []string{"--config", path}, io.Discard, newDefaultConfig)
			want := replacePath(bad.want, path)
			if err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
		})
	}
}

func replacePath(s, path string) string {
	const p = "PATH"
	for i := 0; i+len(p) <= len(s); i++ {
		if s[i:i+len(p)] == p {
			return s[:i] + path + s[i+len(p):]
		}
	}
	return s
}

// TestREADMEFilterPolicyExample: the README's filter policy example is a
// valid configuration file, as pasted.
func TestREADMEFilterPolicyExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "### Filter policies")
	if i < 0 {
		t.Fatal("README has no Filter policies section")
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\n")
	end := strings.Index(s[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no yaml block in the Filter policies section")
	}
	path := filepath.Join(t.TempDir(), "servicegraph.yaml")
	if err := os.WriteFile(path, []byte(s[start+8:start+8+end]), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, err := parseConfig(fs, []string{"--config", path}, io.Discard, newDefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Pairing.FilterPolicies); n != 2 {
		t.Errorf("%d policies, want 2", n)
	}
}

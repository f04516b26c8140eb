// Package deploy_test checks the shipped Prometheus configuration and alert
// rules in deploy/prometheus with promtool: syntax, config and the rule unit
// tests in servicegraph-rules.test.yml.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	promDir   = "prometheus"
	rulesFile = "servicegraph-rules.yml"
	testsFile = "servicegraph-rules.test.yml"
	config    = "prometheus.yml"
)

// promtool returns the path of promtool. Without it the test is skipped on a
// developer machine, but fails in CI (CI set), which must install it.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	if _, ci := os.LookupEnv("CI"); ci {
		t.Fatalf("promtool not found on PATH (%v); CI must install it: apt-get install -y prometheus", err)
	}
	t.Skipf("promtool not found on PATH (%v); install it with: apt-get install prometheus", err)
	return ""
}

// runPromtool runs promtool with args and fails the test with its output on a
// non-zero exit.
func runPromtool(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out.String())
}

func TestPromtoolCheckRules(t *testing.T) {
	bin := promtool(t)
	runPromtool(t, bin, "check", "rules", filepath.Join(promDir, rulesFile))
}

func TestPromtoolCheckConfig(t *testing.T) {
	bin := promtool(t)
	runPromtool(t, bin, "check", "config", filepath.Join(promDir, config))
}

func TestPromtoolTestRules(t *testing.T) {
	bin := promtool(t)
	runPromtool(t, bin, "test", "rules", filepath.Join(promDir, testsFile))
}

var alertRE = regexp.MustCompile(`^\s*-\s*alert:\s*(\S+)\s*$`)

// TestEveryAlertTestedBothWays keeps the unit tests complete: every alert in
// the rules file needs at least one promtool test case where it fires and
// one where it must not. It reads the YAML line by line (standard library
// only), which is enough for the layout of the test file.
func TestEveryAlertTestedBothWays(t *testing.T) {
	alerts := readAlertNames(t, filepath.Join(promDir, rulesFile))
	if len(alerts) == 0 {
		t.Fatalf("no alerts found in %s", rulesFile)
	}
	firing, silent := readTestCases(t, filepath.Join(promDir, testsFile))
	for _, a := range alerts {
		if !firing[a] {
			t.Errorf("%s: no test case where alert %s fires", testsFile, a)
		}
		if !silent[a] {
			t.Errorf("%s: no test case where alert %s must not fire (exp_alerts: [])", testsFile, a)
		}
	}
	for a := range firing {
		if !contains(alerts, a) {
			t.Errorf("%s: test case for unknown alert %s", testsFile, a)
		}
	}
}

func readAlertNames(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if m := alertRE.FindStringSubmatch(sc.Text()); m != nil {
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

// readTestCases returns, per alert name, whether some alert_rule_test expects
// it firing (a non-empty exp_alerts list) and whether some expects it silent
// (exp_alerts: [] or an empty value).
func readTestCases(t *testing.T, path string) (firing, silent map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	firing, silent = map[string]bool{}, map[string]bool{}
	current := ""
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, "alertname:"); ok {
			current = strings.TrimSpace(v)
			continue
		}
		v, ok := strings.CutPrefix(l, "exp_alerts:")
		if !ok || current == "" {
			continue
		}
		v = strings.TrimSpace(v)
		switch {
		case v == "[]":
			silent[current] = true
		case v == "" && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "- exp_"):
			firing[current] = true
		case v == "":
			silent[current] = true
		default:
			t.Fatalf("%s: unexpected exp_alerts value %q for %s", path, v, current)
		}
		current = ""
	}
	return firing, silent
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

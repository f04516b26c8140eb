package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newEdgeWindow is the alert window the test gives the shipped rules, in
// seconds, so that an edge becomes old within the test.
const newEdgeWindow = 20

// TestPrometheusNewAsyncEdgeAlert runs a real Prometheus server with the
// shipped rules against the service: a new link edge fires
// ServiceGraphNewAsyncEdge for exactly that edge, and once the edge is old
// a restart of the service does not make it fire again.
func TestPrometheusNewAsyncEdgeAlert(t *testing.T) {
	// Parallel: waits on a real Prometheus (scrapes, rule evaluations) with
	// little CPU; parallel tests run together once every other test is done.
	t.Parallel()
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not installed (apt-get install prometheus); .ci/run installs it")
		}
		t.Skip("prometheus not installed: apt-get install prometheus")
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	s := start(t, dataDir)

	rules, err := os.ReadFile("../deploy/prometheus/servicegraph-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rules), "< 15 * 60"); n != 2 {
		t.Fatalf("expected the 15-minute window twice in the rules, found %d", n)
	}
	shortRules := strings.ReplaceAll(string(rules), "< 15 * 60", fmt.Sprintf("< %d", newEdgeWindow))
	writeFile(t, filepath.Join(dir, "rules.yml"), shortRules)
	// The service's port changes across restarts; Prometheus follows it
	// through a file-based service discovery target list.
	targets := filepath.Join(dir, "targets.json")
	writeTargets(t, targets, s.api)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: servicegraph
    file_sd_configs:
      - files: [%q]
        refresh_interval: 1s
`, targets))
	promAddr := freeAddr(t)
	runPrometheus(t, promBin, dir, promAddr)

	sendLink(t, s, "orders", "invoicing")
	want := "ServiceGraphNewAsyncEdge client=orders server=invoicing connection_type=span_link"
	eventually(t, 60*time.Second, "ServiceGraphNewAsyncEdge firing", func() bool {
		return slicesContain(firing(t, promAddr), want)
	})
	async := 0
	for _, a := range firing(t, promAddr) {
		if strings.HasPrefix(a, "ServiceGraphNewAsyncEdge ") {
			async++
		}
	}
	if async != 1 {
		t.Fatalf("firing = %q, want exactly one ServiceGraphNewAsyncEdge", firing(t, promAddr))
	}
	// Once the edge is older than the window the alert resolves.
	eventually(t, 60*time.Second, "the alert to resolve", func() bool { return !slicesContain(firing(t, promAddr), want) })
	// A restart on the same data directory keeps the first-seen time:
	// the known edge does not fire again.
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	s2 := start(t, dataDir)
	writeTargets(t, targets, s2.api)
	eventually(t, 30*time.Second, "Prometheus to scrape the restarted service", func() bool {
		return scrapedUp(t, promAddr, s2.api)
	})
	// Let the rules run a few more times on the new scrapes, then check
	// that nothing fired.
	after := time.Now().Add(3 * time.Second)
	eventually(t, 30*time.Second, "three more rule evaluations", func() bool { return lastEvaluation(t, promAddr).After(after) })
	if f := firing(t, promAddr); slicesContain(f, want) {
		t.Fatalf("known edge fired again after restart: %q", f)
	}
	s2.stop(t, syscall.SIGTERM)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeTargets(t *testing.T, path, addr string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, fmt.Sprintf(`[{"targets": [%q]}]`, addr))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func promGet(t *testing.T, addr, path string, v any) bool {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return false // not up yet
	}
	defer resp.Body.Close()
	return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(v) == nil
}

// firing lists the firing alerts as "name client=.. server=.. connection_type=..".
func firing(t *testing.T, addr string) []string {
	var r struct {
		Data struct {
			Alerts []struct {
				State  string            `json:"state"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if !promGet(t, addr, "/api/v1/alerts", &r) {
		return nil
	}
	var out []string
	for _, a := range r.Data.Alerts {
		if a.State == "firing" {
			out = append(out, fmt.Sprintf("%s client=%s server=%s connection_type=%s", a.Labels["alertname"],
				a.Labels["client"], a.Labels["server"], a.Labels["connection_type"]))
		}
	}
	return out
}

func scrapedUp(t *testing.T, addr, target string) bool {
	var r struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL  string `json:"scrapeUrl"`
				Health     string `json:"health"`
				LastScrape string `json:"lastScrape"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if !promGet(t, addr, "/api/v1/targets", &r) {
		return false
	}
	for _, tg := range r.Data.ActiveTargets {
		if strings.Contains(tg.ScrapeURL, target) && tg.Health == "up" {
			return true
		}
	}
	return false
}

// lastEvaluation is when the rule group last ran.
func lastEvaluation(t *testing.T, addr string) time.Time {
	var r struct {
		Data struct {
			Groups []struct {
				LastEvaluation time.Time `json:"lastEvaluation"`
			} `json:"groups"`
		} `json:"data"`
	}
	if !promGet(t, addr, "/api/v1/rules", &r) || len(r.Data.Groups) == 0 {
		return time.Time{}
	}
	return r.Data.Groups[0].LastEvaluation
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// startScraper starts a real Prometheus (promBin) in dir scraping target every
// second, with flags (e.g. a feature), and returns its address; its log
// is shown when the test fails.
func startScraper(t *testing.T, promBin, dir, target string, flags ...string) string {
	t.Helper()
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: servicegraph
    static_configs:
      - targets: [%q]
`, target))
	addr := freeAddr(t)
	runPrometheus(t, promBin, dir, addr, flags...)
	return addr
}

// runPrometheus runs promBin with dir/prometheus.yml, its TSDB in dir,
// listening on addr, until the test ends (its log shown if the test
// failed).
func runPrometheus(t *testing.T, promBin, dir, addr string, flags ...string) {
	t.Helper()
	prom := exec.Command(promBin, append([]string{"--config.file=" + filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(dir, "tsdb"), "--web.listen-address=" + addr}, flags...)...)
	var promLog strings.Builder
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		prom.Process.Signal(syscall.SIGTERM)
		prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})
}

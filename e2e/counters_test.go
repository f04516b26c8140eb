package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestCountersAcrossRestarts runs a real Prometheus against the service
// through a clean restart (SIGTERM) and an unclean one (kill -9), and
// checks what Prometheus makes of traces_service_graph_request_total
// (DESIGN.md "Counters and restarts"):
//
//   - A (--save-interval 1h) counts 5 occurrences and stops cleanly;
//   - B starts from A's final save and continues: Prometheus sees no reset;
//     B counts 3 more (8) and is killed before any periodic save, so its
//     file holds 5;
//   - C starts from that unclean file: its counter restarts from zero (one
//     reset) and counts 2 more, and stops cleanly;
//   - D starts from C's final save and continues from 2 (no second reset)
//     to 3, while its API keeps the restored totals (5 saved + 2 + 1 = 8;
//     the 3 after B's last save died with B).
//
// Prometheus's increase() extrapolates to the window's edges, so it is not
// exact; the test takes the raw samples of the whole run (an instant query
// of a range selector) and adds them up as Prometheus does across resets
// (a drop counts the new value): that sum is exactly the 11 occurrences
// sent, where a counter restored from the stale file (5, below the 8
// Prometheus saw) would add a false 5.
func TestCountersAcrossRestarts(t *testing.T) {
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
	s := start(t, dataDir, "--save-interval", "1h")
	targets := filepath.Join(dir, "targets.json")
	writeTargets(t, targets, s.api)
	// instance is fixed, so that the series stays one across the
	// restarts (the port changes).
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: servicegraph
    file_sd_configs:
      - files: [%q]
        refresh_interval: 1s
    relabel_configs:
      - target_label: instance
        replacement: servicegraph
`, targets))
	promAddr := freeAddr(t)
	runPrometheus(t, promBin, dir, promAddr)
	const series = `traces_service_graph_request_total{client="user",server="counted"}`
	lbl := edgeLabels("user", "counted", "virtual_node")
	next := uint32(1)
	send := func(sv *service, n int) {
		t.Helper()
		var spans []agSpan
		for range n {
			spans = append(spans, agSpan{svc: "counted", trace: next, id: next, kind: ptrace.SpanKindServer})
			next++
		}
		agPost(t, sv, agTraces(spans))
	}
	exported := func(sv *service) float64 {
		v, _ := value(sv.metrics(t), "traces_service_graph_request_total", lbl...)
		return v
	}
	// scraped waits until Prometheus's latest sample is what sv exports.
	scraped := func(sv *service, want float64) {
		t.Helper()
		eventually(t, 30*time.Second, fmt.Sprintf("the service to export %g", want), func() bool { return exported(sv) == want })
		eventually(t, 30*time.Second, fmt.Sprintf("Prometheus to scrape %g", want), func() bool {
			v, ok := ctInstant(t, promAddr, series)
			return ok && v == want
		})
	}

	send(s, 5)
	scraped(s, 5)
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	s = start(t, dataDir, "--save-interval", "1h")
	writeTargets(t, targets, s.api)
	send(s, 3)
	scraped(s, 8)
	if r, ok := ctInstant(t, promAddr, "resets("+series+"[10m])"); !ok || r != 0 {
		t.Fatalf("resets after a clean restart = %g (%v), want 0", r, ok)
	}
	s.stop(t, syscall.SIGKILL)

	s = start(t, dataDir)
	writeTargets(t, targets, s.api)
	if v := exported(s); v != 0 {
		t.Fatalf("after kill -9 the counter starts at %g, want 0 (restored totals are behind what Prometheus saw)", v)
	}
	send(s, 2)
	scraped(s, 2)
	if r, ok := ctInstant(t, promAddr, "resets("+series+"[10m])"); !ok || r != 1 {
		t.Fatalf("resets after kill -9 = %g (%v), want 1", r, ok)
	}
	// D starts from C's final save: C counted from a base, saved with
	// the graph, so D continues from it too (no reset, no jump).
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	s = start(t, dataDir)
	writeTargets(t, targets, s.api)
	if v := exported(s); v != 2 {
		t.Fatalf("after a clean restart from a base the counter is %g, want 2 (where it stopped)", v)
	}
	send(s, 1)
	scraped(s, 3)
	if r, ok := ctInstant(t, promAddr, "resets("+series+"[10m])"); !ok || r != 1 {
		t.Fatalf("resets after the last clean restart = %g (%v), want 1", r, ok)
	}
	samples := ctSamples(t, promAddr, series+"[10m]")
	total := samples[0]
	for i := 1; i < len(samples); i++ {
		if d := samples[i] - samples[i-1]; d >= 0 {
			total += d
		} else {
			total += samples[i] // a reset: the counter counted from zero
		}
	}
	if total != 11 {
		t.Fatalf("Prometheus counts %g occurrences over the run, want the 11 sent; samples %v", total, samples)
	}
	// The API keeps the restored totals.
	code, body := s.get(t, "/api/dependencies")
	var deps struct {
		Data []struct {
			Parent, Child string
			CallCount     int `json:"callCount"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal(body, &deps) != nil {
		t.Fatalf("/api/dependencies: %d %s", code, body)
	}
	got := -1
	for _, d := range deps.Data {
		if d.Parent == "user" && d.Child == "counted" {
			got = d.CallCount
		}
	}
	if got != 8 {
		t.Fatalf("API call count user → counted = %d, want 8 (5 restored + 2 + 1): %s", got, body)
	}
	s.stop(t, syscall.SIGTERM)
}

// ctInstant is the value of an instant query's single result.
func ctInstant(t *testing.T, addr, query string) (float64, bool) {
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if !promGet(t, addr, "/api/v1/query?query="+url.QueryEscape(query), &r) || len(r.Data.Result) != 1 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// ctSamples returns the raw samples of a range selector's single series.
func ctSamples(t *testing.T, addr, query string) []float64 {
	t.Helper()
	var r struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if !promGet(t, addr, "/api/v1/query?query="+url.QueryEscape(query), &r) || len(r.Data.Result) != 1 {
		t.Fatalf("%s: no single series", query)
	}
	var out []float64
	for _, v := range r.Data.Result[0].Values {
		s, _ := v[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

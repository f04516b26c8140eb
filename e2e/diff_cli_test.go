package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDiffCLI diffs two trace files with the binary, as DOT and as JSON,
// each compared exactly with a golden file; then saves a snapshot of a
// running service fed the first file and diffs it against the second:
// the same nodes and edges are added, removed and changed.
func TestDiffCLI(t *testing.T) {
	calls, links := "../testdata/traces/calls.json", "../testdata/traces/links.json"
	dir := t.TempDir()
	for _, tc := range []struct{ name, out string }{
		{"diff-cli.golden.dot", filepath.Join(dir, "diff.dot")},
		{"diff-cli.golden.json", filepath.Join(dir, "diff.json")},
	} {
		if b, err := exec.Command(sgBin, "diff", "-o", tc.out, calls, links).CombinedOutput(); err != nil {
			t.Fatalf("diff -o %s: %v\n%s", tc.out, err, b)
		}
		got, err := os.ReadFile(tc.out)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", tc.name)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (run go test ./e2e -run TestDiffCLI -update):\n%s", tc.out, golden, got)
		}
	}

	// Usage errors exit 2, bad input 1.
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"diff", calls}, 2},
		{[]string{"diff", "-o", "x.gif", calls, links}, 2},
		{[]string{"diff", calls, "../testdata/traces/not-json.json"}, 1},
		{[]string{"snapshot", "-url", "ftp://x"}, 2},
	} {
		err := exec.Command(sgBin, tc.args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tc.code {
			t.Errorf("%q: %v, want exit %d", tc.args, err, tc.code)
		}
	}

	// A snapshot of the live graph fed calls.json, against links.json.
	s := start(t, t.TempDir(), "--pair-wait", "1s", "--link-wait", "1s")
	body, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+s.http+"/v1/traces", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %d", resp.StatusCode)
	}
	eventually(t, 30*time.Second, "the 8 edges of calls.json", func() bool {
		code, b := s.get(t, "/api/graph/edges")
		var rows []json.RawMessage
		return code == http.StatusOK && json.Unmarshal(b, &rows) == nil && len(rows) == 8
	})
	snap := filepath.Join(dir, "review.json")
	if b, err := exec.Command(sgBin, "snapshot", "-url", "http://"+s.api, "-o", snap).CombinedOutput(); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, b)
	}
	out, err := exec.Command(sgBin, "diff", "-format", "json", snap, links).Output()
	if err != nil {
		t.Fatalf("diff snapshot: %v", err)
	}
	type side struct {
		P50 *float64 `json:"p50_seconds"`
		P95 *float64 `json:"p95_seconds"`
	}
	var live, files struct {
		Summary json.RawMessage `json:"summary"`
		Edges   []struct {
			Client, Server, Kind string
			Baseline             *side `json:"baseline"`
		} `json:"edges"`
	}
	golden, _ := os.ReadFile(filepath.Join("testdata", "diff-cli.golden.json"))
	if err := json.Unmarshal(out, &live); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(golden, &files); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(live.Summary, files.Summary) {
		t.Errorf("snapshot against links.json: %s, want the files' %s", live.Summary, files.Summary)
	}
	// The snapshot's percentiles are its window's (history histograms):
	// every baseline edge has them, equal to the trace file's.
	if len(live.Edges) != len(files.Edges) {
		t.Fatalf("%d edges, want %d", len(live.Edges), len(files.Edges))
	}
	for i, e := range live.Edges {
		f := files.Edges[i]
		if e.Baseline == nil {
			continue
		}
		if e.Baseline.P95 == nil || f.Baseline == nil || f.Baseline.P95 == nil ||
			*e.Baseline.P50 != *f.Baseline.P50 || *e.Baseline.P95 != *f.Baseline.P95 {
			t.Errorf("edge %s>%s baseline percentiles %+v, want the file's %+v", e.Client, e.Server, e.Baseline, f.Baseline)
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffCommand runs servicegraph diff in process: its messages and exit
// statuses (2 for a wrong command line, 1 for inputs it cannot compare),
// and a diff of two trace files as JSON.
func TestDiffCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	calls, links := "../../testdata/traces/calls.json", "../../testdata/traces/links.json"
	other := write("other.json", `{"kind": "not traces"}`)
	notJSON := write("bad.json", `{"resourceSpans": [`)
	empty := write("empty.json", "")
	noSpans := write("nospans.json", `{"resourceSpans":[]}`)
	newer := write("newer.json", `{"format":"servicegraph-snapshot","version":9}`)
	usage := "\nrun 'servicegraph diff --help' for the flags\n"
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"one input", []string{calls}, exitUsage, "servicegraph: want two inputs, OLD and NEW, got 1" + usage},
		{"every problem at once", []string{"-o", "d.gif", "-rate-change", "0", "-label", "bytes", "-", "-"}, exitUsage,
			`servicegraph: -o "d.gif": unknown extension ".gif": want .dot, .svg or .png, or .json (or give -format)` + "\n" +
				`-label must be count or rate, got "bytes"` + "\n" +
				"rate threshold must be a positive number, got 0\nonly one input can be stdin (-)" + usage},
		{"bad format", []string{"-format", "gif", calls, links}, exitUsage,
			`servicegraph: -format: unknown format "gif" (want dot, svg or png) (or json)` + usage},
		{"missing file", []string{calls, filepath.Join(dir, "nope.json")}, exitFailure,
			fmt.Sprintf("servicegraph: open %s: no such file or directory\n", filepath.Join(dir, "nope.json"))},
		{"neither kind", []string{calls, other}, exitFailure,
			fmt.Sprintf(`servicegraph: %s: neither OTLP/JSON traces (no "resourceSpans") nor a servicegraph snapshot (no "format": "servicegraph-snapshot")`+"\n", other)},
		{"not JSON", []string{notJSON, calls}, exitFailure,
			fmt.Sprintf("servicegraph: %s: not JSON (want OTLP/JSON traces or a servicegraph snapshot): unexpected EOF\n", notJSON)},
		{"empty", []string{empty, calls}, exitFailure,
			fmt.Sprintf("servicegraph: %s: empty file, want OTLP/JSON traces or a servicegraph snapshot\n", empty)},
		{"no spans", []string{noSpans, calls}, exitFailure, fmt.Sprintf("servicegraph: %s: no spans\n", noSpans)},
		{"newer snapshot", []string{newer, calls}, exitFailure,
			fmt.Sprintf("servicegraph: %s: snapshot version 9 is newer than this servicegraph reads (up to 1): upgrade servicegraph\n", newer)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, append([]string{"diff"}, tt.args...)...)
			if code != tt.code || stderr != tt.stderr || stdout != "" {
				t.Errorf("exit %d, stderr:\n%s\nstdout %.60q\nwant exit %d, stderr:\n%s", code, stderr, stdout, tt.code, tt.stderr)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		stdout, stderr, code := runMain(t, "diff", "-format", "json", calls, links)
		if code != exitOK || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		var body struct {
			Summary struct{ Edges map[string]int } `json:"summary"`
			Edges   []struct {
				ID, Status string
				Reasons    []string
			} `json:"edges"`
		}
		if err := json.Unmarshal([]byte(stdout), &body); err != nil {
			t.Fatal(err)
		}
		// Only payments→stripe-api is in both: 1 → 2 requests (over
		// different spans of time), 0% → 50% errors.
		if want := map[string]int{"added": 8, "removed": 7, "changed": 1, "same": 0}; fmt.Sprint(body.Summary.Edges) != fmt.Sprint(want) {
			t.Errorf("summary %v, want %v", body.Summary.Edges, want)
		}
		for _, e := range body.Edges {
			if e.Status == "changed" && (e.ID != "payments>stripe-api:virtual_node" || strings.Join(e.Reasons, ",") != "rate,errors") {
				t.Errorf("changed edge %+v", e)
			}
		}
	})
}

// TestSnapshotCommand saves a snapshot from a server (here a stand-in
// that checks the request) and reports what it refuses.
func TestSnapshotCommand(t *testing.T) {
	doc, err := os.ReadFile("../../graph/testdata/snapshot-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.String()+" "+r.Header.Get("Authorization"))
		switch r.URL.Query().Get("service") {
		case "nope":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"unknown service \"nope\"","parameter":"service"}`))
		case "broken":
			w.Write([]byte(`{"resourceSpans":[]}`))
		default:
			w.Write(doc)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "review.json")
	_, stderr, code := runMain(t, "snapshot", "-url", srv.URL+"/", "-o", out, "-from", "1700000000", "-service", "a", "-depth", "1", "-token-file", token)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != string(doc) {
		t.Errorf("saved %q", b)
	}
	if want := "/api/graph/snapshot?depth=1&from=1700000000&service=a Bearer s3cret"; len(got) != 1 || got[0] != want {
		t.Errorf("requests %q, want %q", got, want)
	}
	usage := "\nrun 'servicegraph snapshot --help' for the flags\n"
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad url", []string{"-url", "ftp://x", "-timeout", "0s"}, exitUsage,
			`servicegraph: -url must be an http:// or https:// URL, got "ftp://x"` + "\n-timeout must be positive, got 0s" + usage},
		{"argument", []string{"review.json"}, exitUsage, `servicegraph: unexpected argument "review.json" (the command takes flags only)` + usage},
		{"refused filter", []string{"-url", srv.URL, "-service", "nope"}, exitUsage,
			`servicegraph: -service: the server refused it: unknown service "nope"` + usage},
		{"not a snapshot", []string{"-url", srv.URL, "-service", "broken"}, exitFailure,
			"servicegraph: GET " + srv.URL + `/api/graph/snapshot?service=broken: the answer is not a snapshot: not a servicegraph snapshot: want "format": "servicegraph-snapshot"` + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, append([]string{"snapshot"}, tt.args...)...)
			if code != tt.code || stderr != tt.stderr || stdout != "" {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

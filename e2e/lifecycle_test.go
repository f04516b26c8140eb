package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// sendLink makes one span_link edge from → to through the SDK.
func sendLink(t *testing.T, s *service, from, to string) {
	t.Helper()
	a := newApp(t, s, []string{from}, []string{to})
	_, target := a.span(from, "enqueue", trace.SpanKindInternal, trace.SpanContext{})
	target.End()
	_, job := a.span(to, "run", trace.SpanKindInternal, trace.SpanContext{}, trace.WithLinks(trace.Link{SpanContext: target.SpanContext()}))
	job.End()
	a.flush()
}

func edgeLabels(client, server, kind string) []string {
	return []string{"client=" + client, "connection_type=" + kind, "server=" + server}
}

func TestRestartKeepsFirstSeen(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	sendLink(t, s, "queue-writer", "batch")
	lbl := edgeLabels("queue-writer", "batch", "span_link")
	var first float64
	eventually(t, 20*time.Second, "the link edge", func() bool {
		v, ok := value(s.metrics(t), "servicegraph_edge_first_seen_timestamp_seconds", lbl...)
		first = v
		return ok
	})
	// The history over a fixed window, as the API serves it.
	window := fmt.Sprintf("/api/graph/edges?from=%d&to=%d", int64(first)-3600, int64(first)+3600)
	code, before := s.get(t, window)
	if code != 200 || !strings.Contains(string(before), "queue-writer") {
		t.Fatalf("%s before restart: %d %s", window, code, before)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d\n%s", code, s.logs())
	}
	if !strings.Contains(s.logs(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", s.logs())
	}
	s2 := start(t, dir)
	fams := s2.metrics(t)
	if v, ok := value(fams, "servicegraph_edge_first_seen_timestamp_seconds", lbl...); !ok || v != first {
		t.Fatalf("first seen after restart = %g (present %v), want %g", v, ok, first)
	}
	if v, _ := value(fams, "traces_service_graph_request_total", lbl...); v != 1 {
		t.Fatalf("count after restart = %g, want 1", v)
	}
	// The history came back too: the same window gives the same answer.
	if code, after := s2.get(t, window); code != 200 || string(after) != string(before) {
		t.Fatalf("%s after restart: %d\n%s\nbefore:\n%s", window, code, after, before)
	}
	s2.stop(t, syscall.SIGTERM)
}

func TestKill9RestoresLastSave(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, "--save-interval", "1s")
	sendLink(t, s, "cdc", "indexer")
	lbl := edgeLabels("cdc", "indexer", "span_link")
	var first float64
	eventually(t, 20*time.Second, "the link edge", func() bool {
		v, ok := value(s.metrics(t), "servicegraph_edge_first_seen_timestamp_seconds", lbl...)
		first = v
		return ok
	})
	saves := func(sv *service) float64 {
		v, _ := value(sv.metrics(t), "servicegraph_state_saves_total", "result=ok")
		return v
	}
	base := saves(s)
	eventually(t, 20*time.Second, "a save after the edge", func() bool { return saves(s) >= base+1 })
	s.stop(t, syscall.SIGKILL)
	s2 := start(t, dir)
	fams := s2.metrics(t)
	if v, ok := value(fams, "servicegraph_edge_first_seen_timestamp_seconds", lbl...); !ok || v != first {
		t.Fatalf("first seen after kill -9 = %g (present %v), want %g", v, ok, first)
	}
	if v, _ := value(fams, "servicegraph_state_load_failures_total"); v != 0 {
		t.Fatalf("load failures = %g after kill -9: the file was corrupt", v)
	}
	s2.stop(t, syscall.SIGTERM)
}

func TestCorruptStateStartsEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "graph.state"), []byte("not a state file at all, just noise"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, dir)
	fams := s.metrics(t)
	if v, _ := value(fams, "servicegraph_state_load_failures_total"); v != 1 {
		t.Fatalf("load failures = %g, want 1", v)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, "graph.state.corrupt-*"))
	if len(aside) != 1 {
		t.Fatalf("corrupt file not moved aside: %v", aside)
	}
	if v, _ := value(fams, "servicegraph_edges"); v != 0 {
		t.Fatalf("edges = %g, want an empty start", v)
	}
	s.stop(t, syscall.SIGTERM)
}

func TestNewerStateFormatRefused(t *testing.T) {
	dir := t.TempDir()
	hdr := append([]byte("SGSTATE\x00"), binary.BigEndian.AppendUint32(nil, 99)...)
	hdr = append(hdr, make([]byte, 12)...)
	if err := os.WriteFile(filepath.Join(dir, "graph.state"), hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sgBin, "serve", "--data-dir", dir, "--otlp-grpc-addr", "127.0.0.1:0",
		"--otlp-http-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit code 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "written by a newer version") {
		t.Fatalf("unclear error:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "graph.state")); err != nil {
		t.Fatalf("the newer file was touched: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "servicegraph.yaml")
	if err := os.WriteFile(cfgFile, []byte("pairing:\n  pair_wait: 3s\n  no_such_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"every bad flag at once", []string{"--pair-wait", "-1s", "--link-wait", "0s", "--max-nodes", "1"},
			[]string{"--pair-wait (pairing.pair_wait): must be positive, got -1s", "--link-wait (pairing.link_wait): must be positive, got 0s",
				"--max-nodes (graph.max_nodes): must be at least 2, got 1"}},
		{"unknown yaml key", []string{"--config", cfgFile}, []string{"line 3: pairing.no_such_key: unknown key"}},
		{"not a duration", []string{"--pair-wait", "soon"}, []string{"not a duration"}},
		{"unknown command", []string{"fly"}, []string{`unknown command "fly"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(sgBin, tc.args...).CombinedOutput()
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	out, _ := exec.Command(sgBin, "serve", "--help").CombinedOutput()
	for _, f := range []string{"-otlp-grpc-addr", "-otlp-http-addr", "-http-addr", "-data-dir", "-config", "-pair-wait",
		"-link-wait", "-max-index-spans", "-max-pending-spans", "-max-pending-links", "-tls-cert-file", "-tls-key-file",
		"-tls-client-ca-file", "-ingest-token-file", "-api-token-file", "(default 10s)", "(default 5m0s)", "127.0.0.1:4317"} {
		if !strings.Contains(string(out), f) {
			t.Errorf("--help lacks %q", f)
		}
	}
}

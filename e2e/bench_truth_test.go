package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/servicegraph/servicegraph/internal/workload"
)

// TestBenchTruth generates a workload with ../shared/bench/gen (exact truth
// included), replays it to the running service over OTLP/gRPC, and checks
// that every edge on /metrics (call, messaging, link, database, virtual;
// counts and failed) equals the truth, our user → X edges aside.
func TestBenchTruth(t *testing.T) {
	wl, _ := genBenchWorkload(t, "-seed", "3", "-services", "20", "-traces", "3000", "-batch", "256")
	recs, err := workload.ReadAll(wl)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := workload.LoadTruth(wl + ".truth.json")
	if err != nil {
		t.Fatal(err)
	}

	// The pair wait outlasts the slowest replay on a loaded CI machine: a
	// child whose parent comes later than that would (rightly) expire.
	s := start(t, t.TempDir(), append(workload.ServeFlags(), "--pair-wait", "5s")...)
	conn, err := grpc.NewClient(s.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)
	for i, r := range recs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(r); err != nil {
			t.Fatal(err)
		}
		resp, err := client.Export(ctx(t), req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if n := resp.PartialSuccess().RejectedSpans(); n != 0 {
			t.Fatalf("request %d: %d spans rejected: %s", i, n, resp.PartialSuccess().ErrorMessage())
		}
	}
	var diff []string
	if !poll(90*time.Second, func() bool {
		diff = workload.Diff(truth.Edges, metricEdges(t, s))
		return len(diff) == 0
	}) {
		t.Fatalf("after 90s, /metrics differs from the truth:\n%s", strings.Join(diff, "\n"))
	}
	if v, _ := value(s.metrics(t), "servicegraph_spans_received_total"); v != float64(truth.Spans) {
		t.Fatalf("spans received = %g, want %d", v, truth.Spans)
	}
	t.Logf("%d spans, %d edges: %s", truth.Spans, len(truth.Edges), workload.Summary(truth.Edges, metricEdges(t, s)))
}

// metricEdges reads the edges off /metrics in truth form, without user → X.
func metricEdges(t *testing.T, s *service) []workload.Edge {
	return workload.FromMetrics(s.metrics(t))
}

// genBenchWorkload builds ../shared/bench/gen and writes a workload with
// the given generator flags (and its .truth.json beside it) in a temporary
// folder: its path and what gen printed. Without ../shared/bench it skips,
// or fails in CI.
func genBenchWorkload(t *testing.T, args ...string) (string, []byte) {
	t.Helper()
	benchDir, err := filepath.Abs("../../shared/bench")
	if err == nil {
		_, err = os.Stat(filepath.Join(benchDir, "gen"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("../shared/bench not found beside the checkout: %v", err)
		}
		t.Skip("../shared/bench not found beside the checkout")
	}
	tmp := t.TempDir()
	gen := filepath.Join(tmp, "gen")
	build := exec.Command("go", "build", "-o", gen, "./gen")
	build.Dir = benchDir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build gen: %v\n%s", err, out)
	}
	wl := filepath.Join(tmp, "workload.otlp")
	out, err := exec.Command(gen, append(args, "-out", wl)...).CombinedOutput()
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	return wl, out
}

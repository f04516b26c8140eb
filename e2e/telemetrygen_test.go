package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTelemetrygen drives the service with telemetrygen, a real OTLP client
// that emits span links. Per its source (cmd/telemetrygen/pkg/traces/
// worker.go, v0.161.0): each trace is a CLIENT root with --child-spans
// SERVER children, so traces×children call edges; every span gets
// --span-links links to random earlier spans of the same run, except the
// very first span, which has none before it: (traces×(1+children)−1)×links
// span_link self-loops, all resolvable.
func TestTelemetrygen(t *testing.T) {
	bin, err := exec.LookPath("telemetrygen")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("telemetrygen not installed; .ci/run installs it")
		}
		t.Skip("telemetrygen not installed: go install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0")
	}
	s := start(t, t.TempDir())
	const traces, children, links = 5, 2, 2
	for _, tc := range []struct{ svc, endpoint, transport string }{
		{"tg-grpc", s.grpc, ""},
		{"tg-http", s.http, "--otlp-http"},
	} {
		args := []string{"traces", "--otlp-insecure", "--otlp-endpoint", tc.endpoint, "--service", tc.svc,
			"--traces", strconv.Itoa(traces), "--child-spans", strconv.Itoa(children), "--span-links", strconv.Itoa(links), "--rate", "0"}
		if tc.transport != "" {
			args = append(args, tc.transport)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("telemetrygen %v: %v\n%s", args, err, out)
		}
	}
	// A SERVER child whose random link targets its own parent (the root
	// CLIENT) adds no span_link: the pair's call edge is the edge (issue
	// 15), and servicegraph_span_links_to_parent_total counts it. Which
	// links do is random: the span_link edges are the links less those.
	spans := traces * (1 + children)
	var got, want []string
	defer func() {
		if t.Failed() {
			t.Logf("request_total series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}()
	eventually(t, 30*time.Second, "telemetrygen's edges", func() bool {
		fams := s.metrics(t)
		toParent, _ := value(fams, "servicegraph_span_links_to_parent_total")
		// Per service: a link to the parent is one of the service's own.
		var asLinks float64
		for _, svc := range []string{"tg-grpc", "tg-http"} {
			v, _ := value(fams, "servicegraph_span_links_total", "result=resolved", "service="+svc)
			asLinks += v
		}
		got = series(fams, "traces_service_graph_request_total")
		want = []string{}
		var edges float64
		for _, svc := range []string{"tg-grpc", "tg-http"} {
			n := 0
			for _, g := range got {
				var c int
				if _, err := fmt.Sscanf(g, "client="+svc+",connection_type=span_link,server="+svc+" %d", &c); err == nil {
					n = c
				}
			}
			edges += float64(n)
			want = append(want,
				fmt.Sprintf("client=%s,connection_type=,server=%s %d", svc, svc, traces*children),
				fmt.Sprintf("client=%s,connection_type=span_link,server=%s %d", svc, svc, n))
		}
		// Every link resolved; each made an edge or went to its parent.
		return slices.Equal(got, want) && asLinks == float64(2*(spans-1)*links) && edges+toParent == asLinks
	})
	fams := s.metrics(t)
	for _, svc := range []string{"tg-grpc", "tg-http"} {
		if v, _ := value(fams, "servicegraph_span_links_total", "result=resolved", "service="+svc); v != float64((spans-1)*links) {
			t.Errorf("%s resolved links = %g, want %d", svc, v, (spans-1)*links)
		}
	}
}

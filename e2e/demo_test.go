package e2e

import (
	"syscall"
	"testing"
	"time"
)

// TestDemo runs `servicegraph demo`: the service fed by its own generated
// traffic shows async edges within seconds and stops cleanly on SIGTERM.
func TestDemo(t *testing.T) {
	s := startCommand(t, "demo", t.TempDir(), "--demo-rate", "50")
	want := [][]string{
		edgeLabels("checkout", "shipping", "messaging_system"),
		edgeLabels("checkout", "reporting-batch", "span_link"),
		edgeLabels("frontend", "checkout", ""),
	}
	eventually(t, 30*time.Second, "the demo's async edges", func() bool {
		fams := s.metrics(t)
		for _, lbl := range want {
			if v, ok := value(fams, "traces_service_graph_request_total", lbl...); !ok || v == 0 {
				return false
			}
		}
		return true
	})
	if code, body := s.get(t, "/graph.svg"); code != 200 || len(body) == 0 {
		t.Fatalf("/graph.svg: %d", code)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("demo exit code after SIGTERM = %d\n%s", code, s.logs())
	}
}

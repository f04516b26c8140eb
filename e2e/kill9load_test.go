package e2e

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// TestKill9UnderLoad kills the service with SIGKILL while SDK clients are
// sending and a save may be in progress, then restarts it on the same data
// directory: the state file is intact (no load failure) and the edges of
// the last save are back.
func TestKill9UnderLoad(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, "--save-interval", "1s")
	a := newApp(t, s, []string{"web"}, []string{"jobs"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, w := a.span("web", "enqueue", trace.SpanKindProducer, trace.SpanContext{})
			w.End()
			_, j := a.span("jobs", "run", trace.SpanKindConsumer, trace.SpanContext{}, trace.WithLinks(trace.Link{SpanContext: w.SpanContext()}))
			j.End()
		}
	})
	lbl := edgeLabels("web", "jobs", "messaging_system")
	saves := func() float64 { v, _ := value(s.metrics(t), "servicegraph_state_saves_total", "result=ok"); return v }
	eventually(t, 30*time.Second, "the edge and two saves", func() bool {
		_, ok := value(s.metrics(t), "traces_service_graph_request_total", lbl...)
		return ok && saves() >= 2
	})
	s.stop(t, syscall.SIGKILL) // mid-load
	close(stop)
	wg.Wait()
	a.abandon() // the endpoint is dead: drop what is buffered

	s2 := start(t, dir)
	fams := s2.metrics(t)
	if v, _ := value(fams, "servicegraph_state_load_failures_total"); v != 0 {
		t.Fatalf("state file corrupt after kill -9 (%g load failures)\n%s", v, s2.logs())
	}
	// After kill -9 the exported counters restart from zero (DESIGN.md
	// "Counters and restarts"): the edge is there, with its first-seen time.
	if v, ok := value(fams, "servicegraph_edge_first_seen_timestamp_seconds", lbl...); !ok || v == 0 {
		t.Fatalf("edge lost after kill -9 under load: %g", v)
	}
	s2.stop(t, syscall.SIGTERM)
}

package e2e

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestSteadyAPIRenderCache: over the real binary (child-process renderer),
// the built-in page refreshing /graph.svg while spans keep arriving on the
// edges it shows is answered from the render cache: one layout for five
// refreshes within one history bucket; a new edge draws again. The bucket
// is an hour wide; an attempt that straddles a bucket boundary (a
// legitimate redraw) is repeated.
func TestSteadyAPIRenderCache(t *testing.T) {
	s := start(t, t.TempDir(), "--history-bucket", "1h", "--history-retention", "2h", "--pair-wait", "1s")
	trace := uint32(0)
	call := func(client, server string) {
		t.Helper()
		trace++
		agPost(t, s, agTraces([]agSpan{
			{svc: client, trace: trace, id: 1, kind: ptrace.SpanKindClient},
			{svc: server, trace: trace, id: 2, parent: 1, kind: ptrace.SpanKindServer},
		}))
	}
	counted := func(client, server string, want float64) {
		t.Helper()
		eventually(t, 10*time.Second, fmt.Sprintf("%s -> %s counted %g times", client, server, want), func() bool {
			v, _ := value(s.metrics(t), "traces_service_graph_request_total", edgeLabels(client, server, "")...)
			return v == want
		})
	}
	renders := func() (ok, cached float64) {
		fams := s.metrics(t)
		ok, _ = value(fams, "servicegraph_render_total", "format=svg", "result=ok")
		cached, _ = value(fams, "servicegraph_render_total", "format=svg", "result=cached")
		return ok, cached
	}
	refresh := func() {
		t.Helper()
		now := time.Now().Unix()
		if code, body := s.get(t, fmt.Sprintf("/graph.svg?from=%d&to=%d&rankdir=LR", now-3600, now)); code != 200 {
			t.Fatalf("/graph.svg: %d %s", code, body)
		}
	}
	const bucket = int64(3600)
	n := 0.0
	for attempt := 1; ; attempt++ {
		call("frontend", "checkout")
		n++
		counted("frontend", "checkout", n)
		b0 := time.Now().Unix() / bucket
		ok0, cached0 := renders()
		refresh()
		for range 4 { // spans keep arriving on the drawn edge
			call("frontend", "checkout")
			n++
			counted("frontend", "checkout", n)
			refresh()
		}
		ok1, cached1 := renders()
		if time.Now().Unix()/bucket != b0 && attempt < 3 {
			continue // a bucket closed meanwhile: a redraw was due
		}
		if ok1-ok0 != 1 || cached1-cached0 != 4 {
			t.Fatalf("five refreshes in one bucket: %g layouts and %g cache hits, want 1 and 4", ok1-ok0, cached1-cached0)
		}
		// A new edge: the picture changes, one more layout.
		call("frontend", "payments")
		counted("frontend", "payments", 1)
		refresh()
		if ok2, cached2 := renders(); ok2-ok1 != 1 || cached2 != cached1 {
			t.Fatalf("after a new edge: %g layouts and %g cache hits, want 1 and 0", ok2-ok1, cached2-cached1)
		}
		return
	}
}

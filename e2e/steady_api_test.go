package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
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

// TestSteadyAPIReadCache: over the real binary and Go's HTTP client
// (which asks for gzip, as Prometheus does), eight concurrent scrapes and
// four after them, within --read-max-staleness, make one encoding of
// /metrics that all twelve get byte for byte; a span sent meanwhile shows
// in the next answer of a client that asks for a fresh one (no-cache), and
// the rows of /api/graph/data are shared the same way.
func TestSteadyAPIReadCache(t *testing.T) {
	s := start(t, t.TempDir(), "--read-max-staleness", "1h", "--pair-wait", "1s")
	agPost(t, s, agTraces([]agSpan{
		{svc: "frontend", trace: 1, id: 1, kind: ptrace.SpanKindClient},
		{svc: "checkout", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindServer},
	}))
	eventually(t, 10*time.Second, "frontend -> checkout counted", func() bool {
		v, _ := value(s.metrics(t), "traces_service_graph_request_total", edgeLabels("frontend", "checkout", "")...)
		return v == 1
	})
	read := func(path string) []byte {
		t.Helper()
		resp, err := http.Get("http://" + s.api + path) // asks for gzip, inflates
		if err != nil {
			t.Error(err)
			return nil
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || !resp.Uncompressed {
			t.Errorf("GET %s: %d, inflated %v, %v", path, resp.StatusCode, resp.Uncompressed, err)
		}
		return b
	}
	for _, path := range []string{"/metrics", "/api/graph/data"} {
		bodies := make([][]byte, 12)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { bodies[i] = read(path) })
		}
		wg.Wait()
		for i := 8; i < 12; i++ {
			bodies[i] = read(path)
		}
		for i, b := range bodies {
			if !bytes.Equal(b, bodies[0]) || len(b) == 0 {
				t.Fatalf("GET %s %d: %d bytes, not those of the first (%d)", path, i, len(b), len(bodies[0]))
			}
		}
		handler := map[string]string{"/metrics": "metrics", "/api/graph/data": "graph_data"}[path]
		fams := s.metrics(t) // no-cache: bypasses, fresh
		miss, _ := value(fams, "servicegraph_read_cache_requests_total", "handler="+handler, "result=miss")
		hit, _ := value(fams, "servicegraph_read_cache_requests_total", "handler="+handler, "result=hit")
		shared, _ := value(fams, "servicegraph_read_cache_requests_total", "handler="+handler, "result=shared")
		// A read that waited for a processor slot to take the graph's
		// version (api readSlots) finds the answer kept by then, of the
		// same version: revalidated, not encoded again.
		revalidated, _ := value(fams, "servicegraph_read_cache_requests_total", "handler="+handler, "result=revalidated")
		if miss != 1 || hit+shared+revalidated != 11 {
			t.Fatalf("GET %s x12: %g encodings, %g hits + %g shared + %g revalidated; want 1 and 11", path, miss, hit, shared, revalidated)
		}
	}
	// A new edge: the kept answer (an hour's staleness allowed) does not
	// have it; a no-cache read does.
	agPost(t, s, agTraces([]agSpan{
		{svc: "frontend", trace: 2, id: 1, kind: ptrace.SpanKindClient},
		{svc: "payments", trace: 2, id: 2, parent: 1, kind: ptrace.SpanKindServer},
	}))
	eventually(t, 10*time.Second, "frontend -> payments counted", func() bool {
		v, _ := value(s.metrics(t), "traces_service_graph_request_total", edgeLabels("frontend", "payments", "")...)
		return v == 1
	})
	if b := read("/api/graph/data"); bytes.Contains(b, []byte(`"id":"payments"`)) {
		t.Fatal("the kept answer has the new edge: it was encoded again")
	}
	if _, b := s.get(t, "/api/graph/data"); !bytes.Contains(b, []byte(`"id":"payments"`)) {
		t.Fatalf("no-cache read without the new edge:\n%s", b)
	}
}

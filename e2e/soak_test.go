package e2e

import (
	"crypto/rand"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// soakDuration is how long the soak test loads the service: bounded for CI,
// longer with SERVICEGRAPH_SOAK=10m go test ./e2e -run TestSoak.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("SERVICEGRAPH_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SERVICEGRAPH_SOAK: %v", err)
		}
		return d
	}
	return 45 * time.Second
}

// TestSoak loads the service with real SDK clients sending a steady stream
// of calls, never-resolving links and unpaired spans, with small caps so
// that waits expire and caps are hit. Throughout, the heap stays under a
// fixed bound and the service answers /-/ready and /metrics; at the end no
// goroutine is left over and every acknowledged span is accounted for.
func TestSoak(t *testing.T) {
	s := start(t, t.TempDir(), "--pair-wait", "1s", "--link-wait", "2s",
		"--max-pending-spans", "4096", "--max-pending-links", "2048", "--max-index-spans", "65536", "--shards", "4")
	baseGoroutines := gauge(t, s, "go_goroutines")
	a := newApp(t, s, []string{"api", "orphans"}, []string{"backend", "linker"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	load := func(body func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
					body(i)
				}
			}
		})
	}
	load(func(i int) { // sync calls that pair
		_, root := a.span("api", "GET", trace.SpanKindServer, trace.SpanContext{})
		_, c := a.span("api", "call", trace.SpanKindClient, root.SpanContext())
		_, srv := a.span("backend", "serve", trace.SpanKindServer, c.SpanContext())
		srv.End()
		c.End()
		root.End()
	})
	load(func(i int) { // links to spans that never arrive
		var tid trace.TraceID
		var sid trace.SpanID
		rand.Read(tid[:])
		rand.Read(sid[:])
		ghost := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
		_, l := a.span("linker", "consume", trace.SpanKindConsumer, trace.SpanContext{}, trace.WithLinks(trace.Link{SpanContext: ghost}))
		l.End()
	})
	load(func(i int) { // children of parents that never arrive, and clients that never meet a server
		var tid trace.TraceID
		var sid trace.SpanID
		rand.Read(tid[:])
		rand.Read(sid[:])
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
		_, o := a.span("orphans", "child", trace.SpanKindServer, parent)
		o.End()
		_, c := a.span("orphans", "legacy call", trace.SpanKindClient, trace.SpanContext{},
			trace.WithAttributes(attribute.String("peer.service", "mainframe-"+strconv.Itoa(i%5))))
		c.End()
	})

	const heapBound = 512 << 20
	deadline := time.Now().Add(soakDuration(t))
	client := &http.Client{Timeout: 5 * time.Second}
	var maxHeap float64
	probe := time.NewTicker(500 * time.Millisecond) // the probes' pace
	defer probe.Stop()
	for time.Now().Before(deadline) {
		for _, path := range []string{"/-/ready", "/metrics"} {
			resp, err := client.Get("http://" + s.api + path)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s unresponsive under load: %v %v", path, err, resp)
			}
			resp.Body.Close()
		}
		h := gauge(t, s, "go_memstats_heap_inuse_bytes")
		maxHeap = max(maxHeap, h)
		if h > heapBound {
			t.Fatalf("heap in use %g bytes, above the bound %d", h, heapBound)
		}
		<-probe.C
	}
	close(stop)
	wg.Wait()
	a.flush()

	// Once every wait is over, the books balance.
	var st map[string]float64
	eventually(t, 30*time.Second, "the waits to end", func() bool {
		st = spanBooks(t, s)
		return st["pending_children"] == 0 && st["pending_links"] == 0 && st["pending_clients"] == 0
	})
	acked := st["accepted"]
	sum := st["rejected"] + st["duplicate"] + st["root"] + st["paired"] + st["expired"] + st["dropped"]
	if acked == 0 || st["received"] != acked || sum != acked {
		t.Fatalf("accounting: acknowledged %g, received %g, rejected+duplicate+root+paired+expired+dropped %g (%v)", acked, st["received"], sum, st)
	}
	if st["expired"] == 0 || st["unresolved"] == 0 {
		t.Fatalf("the load did not exercise expiry: %v", st)
	}
	t.Logf("acknowledged %g spans; max heap %.0f MiB; %v", acked, maxHeap/(1<<20), st)
	eventually(t, 30*time.Second, "goroutines back to the baseline", func() bool {
		return gauge(t, s, "go_goroutines") <= baseGoroutines+5
	})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func gauge(t *testing.T, s *service, name string) float64 {
	v, _ := value(s.metrics(t), name)
	return v
}

func spanBooks(t *testing.T, s *service) map[string]float64 {
	f := s.metrics(t)
	get := func(name string, labels ...string) float64 { v, _ := value(f, name, labels...); return v }
	unresolved := 0.0
	for _, m := range f["servicegraph_span_links_total"].GetMetric() {
		if labels(m.GetLabel())["result"] == "unresolved" {
			unresolved += m.GetCounter().GetValue()
		}
	}
	return map[string]float64{
		"accepted":         get("servicegraph_receiver_spans_total", "outcome=accepted", "transport=grpc") + get("servicegraph_receiver_spans_total", "outcome=accepted", "transport=http"),
		"received":         get("servicegraph_spans_received_total"),
		"rejected":         get("servicegraph_spans_rejected_total", "reason=invalid_id"),
		"duplicate":        get("servicegraph_spans_duplicate_total"),
		"root":             get("servicegraph_spans_root_total"),
		"paired":           get("servicegraph_spans_paired_total"),
		"expired":          get("servicegraph_expired_total", "queue=children"),
		"dropped":          get("servicegraph_dropped_total", "queue=children"),
		"pending_children": get("servicegraph_pending_items", "queue=children"),
		"pending_clients":  get("servicegraph_pending_items", "queue=clients"),
		"pending_links":    get("servicegraph_pending_items", "queue=links"),
		"unresolved":       unresolved,
	}
}

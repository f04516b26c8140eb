package demo_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/servicegraph/servicegraph/internal/demo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wantServices is every simulated service, as service.name.
var wantServices = []string{
	"analytics", "catalog", "checkout", "email-sender", "frontend", "inventory",
	"notifications", "payments", "reporting-batch", "shipping",
}

// spanKey identifies a span.
type spanKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// span is what the tests need of a received span, copied out of the
// request.
type span struct {
	service    string
	key        spanKey
	parent     pcommon.SpanID
	kind       ptrace.SpanKind
	name       string
	failed     bool
	start, end time.Time
	attrs      map[string]any
	links      []spanKey
}

func (s *span) String() string {
	return fmt.Sprintf("%s %s %q", s.service, s.kind, s.name)
}

// collector is an OTLP/gRPC traces receiver that records every span.
type collector struct {
	ptraceotlp.UnimplementedGRPCServer

	first     chan struct{} // closed on the first export
	firstOnce sync.Once

	mu    sync.Mutex // guards spans
	spans []span
}

// startCollector serves a collector on a free loopback port until the test
// ends and returns its address.
func startCollector(t *testing.T) (string, *collector) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{first: make(chan struct{})}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String(), c
}

func (c *collector) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	var got []span
	rss := req.Traces().ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		service := "unknown_service"
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			service = v.Str()
		}
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j).Spans()
			for k := range ss.Len() {
				s := ss.At(k)
				rec := span{
					service: service,
					key:     spanKey{s.TraceID(), s.SpanID()},
					parent:  s.ParentSpanID(),
					kind:    s.Kind(),
					name:    s.Name(),
					failed:  s.Status().Code() == ptrace.StatusCodeError,
					start:   s.StartTimestamp().AsTime(),
					end:     s.EndTimestamp().AsTime(),
					attrs:   s.Attributes().AsRaw(),
				}
				for l := range s.Links().Len() {
					link := s.Links().At(l)
					rec.links = append(rec.links, spanKey{link.TraceID(), link.SpanID()})
				}
				got = append(got, rec)
			}
		}
	}
	c.mu.Lock()
	c.spans = append(c.spans, got...)
	c.mu.Unlock()
	c.firstOnce.Do(func() { close(c.first) })
	return ptraceotlp.NewExportResponse(), nil
}

// received is an index over the spans a collector recorded.
type received struct {
	spans  []*span
	byKey  map[spanKey]*span
	traces map[pcommon.TraceID]bool
}

func (c *collector) received() *received {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &received{byKey: map[spanKey]*span{}, traces: map[pcommon.TraceID]bool{}}
	for i := range c.spans {
		s := &c.spans[i]
		r.spans = append(r.spans, s)
		r.byKey[s.key] = s
		r.traces[s.key.trace] = true
	}
	return r
}

// find returns the spans matching keep.
func (r *received) find(keep func(*span) bool) []*span {
	var out []*span
	for _, s := range r.spans {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// targets returns the received spans s links to.
func (r *received) targets(s *span) []*span {
	var out []*span
	for _, l := range s.links {
		if t, ok := r.byKey[l]; ok {
			out = append(out, t)
		}
	}
	return out
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testLogger logs to the test's output, shown with -v or on failure.
func testLogger(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// run runs the demo against a fresh collector and returns what it got.
func run(t *testing.T, cfg demo.Config) *received {
	t.Helper()
	addr, c := startCollector(t)
	cfg.Endpoint = addr
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := demo.Run(ctx, cfg, testLogger(t)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Run did not finish %d requests in time", cfg.MaxRequests)
	}
	// Run has shut every provider down: everything was exported.
	return c.received()
}

func TestRunProducesEveryEdgeKind(t *testing.T) {
	t.Parallel()
	r := run(t, demo.Config{Rate: 5000, Seed: 42, MaxRequests: 2000})
	t.Logf("received %d spans in %d traces", len(r.spans), len(r.traces))

	tests := []struct {
		name  string
		check func(t *testing.T, r *received)
	}{
		{"services", func(t *testing.T, r *received) {
			seen := map[string]bool{}
			for _, s := range r.spans {
				seen[s.service] = true
			}
			if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, wantServices) {
				t.Errorf("services = %v, want %v", got, wantServices)
			}
		}},
		{"user calls frontend", func(t *testing.T, r *received) {
			roots := r.find(func(s *span) bool {
				return s.service == "frontend" && s.kind == ptrace.SpanKindServer && s.parent.IsEmpty()
			})
			if len(roots) != 2000 {
				t.Errorf("%d root frontend SERVER spans, want one per request (2000)", len(roots))
			}
			failed := len(slices.DeleteFunc(roots, func(s *span) bool { return !s.failed }))
			if share := float64(failed) / 2000; share < 0.005 || share > 0.06 {
				t.Errorf("%.1f%% of user requests failed, want about 2%%", 100*share)
			}
		}},
		{"sync calls pair client and server", func(t *testing.T, r *received) {
			edges := map[string]bool{}
			for _, s := range r.find(func(s *span) bool { return s.kind == ptrace.SpanKindServer && !s.parent.IsEmpty() }) {
				p, ok := r.byKey[spanKey{s.key.trace, s.parent}]
				switch {
				case !ok:
					t.Errorf("%v: parent not received", s)
				case p.kind != ptrace.SpanKindClient || p.service == s.service:
					t.Errorf("%v: parent is %v, want a CLIENT span of another service", s, p)
				case p.attrs["server.address"] == nil || s.attrs["http.route"] == nil:
					t.Errorf("%v: want server.address on the client (%v) and http.route on the server (%v)", s, p.attrs, s.attrs)
				}
				if ok {
					edges[p.service+"->"+s.service] = true
				}
			}
			want := []string{"checkout->inventory", "checkout->payments", "frontend->catalog", "frontend->checkout"}
			if got := slices.Sorted(maps.Keys(edges)); !slices.Equal(got, want) {
				t.Errorf("call edges = %v, want %v", got, want)
			}
		}},
		{"consumer links to producer in another trace", func(t *testing.T, r *received) {
			consumers := map[string]int{}
			for _, s := range r.find(func(s *span) bool { return s.kind == ptrace.SpanKindConsumer }) {
				if !s.parent.IsEmpty() {
					t.Errorf("%v: consumer has a parent, want a new trace", s)
				}
				for _, p := range r.targets(s) {
					if p.kind == ptrace.SpanKindProducer && p.key.trace != s.key.trace {
						consumers[p.service+"->"+s.service]++
					}
				}
			}
			for _, edge := range []string{"checkout->shipping", "checkout->notifications", "checkout->analytics", "notifications->email-sender"} {
				if consumers[edge] == 0 {
					t.Errorf("no CONSUMER span links to a PRODUCER span for %s; got %v", edge, consumers)
				}
			}
		}},
		{"batch consumer links every message", func(t *testing.T, r *received) {
			batches := r.find(func(s *span) bool { return s.service == "analytics" && s.kind == ptrace.SpanKindConsumer })
			if len(batches) == 0 {
				t.Fatal("no analytics CONSUMER span")
			}
			for _, s := range batches {
				n := len(s.links)
				if n < 5 || n > 20 || s.attrs["messaging.batch.message_count"] != int64(n) {
					t.Errorf("%v: %d links, messaging.batch.message_count %v; want 5-20, equal", s, n, s.attrs["messaging.batch.message_count"])
				}
			}
		}},
		{"batch job links to checkout requests", func(t *testing.T, r *received) {
			jobs := r.find(func(s *span) bool { return s.service == "reporting-batch" && s.parent.IsEmpty() })
			if len(jobs) == 0 {
				t.Fatal("no root reporting-batch span")
			}
			for _, s := range jobs {
				var servers int
				for _, target := range r.targets(s) {
					if target.kind == ptrace.SpanKindServer && target.service == "checkout" {
						servers++
					}
				}
				if s.kind != ptrace.SpanKindInternal || servers < 5 {
					t.Errorf("%v: links to %d received checkout SERVER spans, want an INTERNAL span with >= 5", s, servers)
				}
			}
			writes := r.find(func(s *span) bool { return s.service == "reporting-batch" && s.attrs["db.namespace"] == "warehouse" })
			if len(writes) != len(jobs) {
				t.Errorf("%d warehouse writes for %d jobs", len(writes), len(jobs))
			}
		}},
		{"retry links to the failed attempt", func(t *testing.T, r *received) {
			retries := r.find(func(s *span) bool {
				if s.kind != ptrace.SpanKindClient {
					return false
				}
				for _, target := range r.targets(s) {
					if target.kind == ptrace.SpanKindClient && target.failed && target.service == s.service &&
						target.key.trace == s.key.trace && target.parent == s.parent {
						return true
					}
				}
				return false
			})
			if len(retries) == 0 {
				t.Fatal("no CLIENT span links to a failed sibling CLIENT span of its service")
			}
			if got := retries[0].attrs["http.request.resend_count"]; got != int64(1) {
				t.Errorf("%v: http.request.resend_count = %v, want 1", retries[0], got)
			}
		}},
		{"databases", func(t *testing.T, r *received) {
			orders := r.find(func(s *span) bool {
				return s.service == "checkout" && s.kind == ptrace.SpanKindClient && s.attrs["db.namespace"] == "orders" &&
					s.attrs["db.system.name"] == "postgresql" && s.attrs["db.system"] == "postgresql"
			})
			if len(orders) == 0 {
				t.Error("no checkout CLIENT span to postgresql db.namespace orders")
			}
			redis := r.find(func(s *span) bool {
				return s.service == "catalog" && s.kind == ptrace.SpanKindClient && s.attrs["db.system"] == "redis" && s.attrs["db.system.name"] == nil
			})
			if len(redis) == 0 {
				t.Error("no catalog CLIENT span with db.system redis only")
			}
		}},
		{"uninstrumented peer", func(t *testing.T, r *received) {
			peer := r.find(func(s *span) bool {
				return s.service == "payments" && s.kind == ptrace.SpanKindClient && s.attrs["peer.service"] == "stripe-api"
			})
			if len(peer) == 0 {
				t.Fatal("no payments CLIENT span with peer.service stripe-api")
			}
			parents := map[spanKey]bool{}
			for _, s := range r.spans {
				parents[spanKey{s.key.trace, s.parent}] = true
			}
			for _, s := range peer {
				if parents[s.key] {
					t.Fatalf("%v has a child span, want no server side", s)
				}
			}
			if len(slices.DeleteFunc(peer, func(s *span) bool { return !s.failed })) == 0 {
				t.Error("stripe-api never fails, want a flaky dependency")
			}
		}},
		{"broken links for diagnostics", func(t *testing.T, r *received) {
			var unresolved, invalid int
			for _, s := range r.spans {
				for _, l := range s.links {
					switch {
					case l.trace.IsEmpty() && l.span.IsEmpty():
						invalid++
					case !r.traces[l.trace]:
						unresolved++
					}
				}
			}
			if unresolved == 0 || invalid == 0 {
				t.Errorf("%d unresolved and %d invalid links, want some of each", unresolved, invalid)
			}
		}},
		{"async spans start after what they link to", func(t *testing.T, r *received) {
			for _, s := range r.spans {
				for _, target := range r.targets(s) {
					if s.start.Before(target.end) {
						t.Fatalf("%v starts %v before its link target %v ends", s, target.end.Sub(s.start), target)
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, r) })
	}
}

// shape is the multiset of (service, kind, name, failed) of some spans.
func shape(r *received) map[string]int {
	m := map[string]int{}
	for _, s := range r.spans {
		m[fmt.Sprintf("%v failed=%v links=%d", s, s.failed, len(s.links))]++
	}
	return m
}

func TestRunSameSeedSameTraffic(t *testing.T) {
	t.Parallel()
	cfg := demo.Config{Rate: 5000, Seed: 7, MaxRequests: 300}
	a, b := shape(run(t, cfg)), shape(run(t, cfg))
	if !maps.Equal(a, b) {
		t.Errorf("two runs with seed %d differ:\n%v\n%v", cfg.Seed, a, b)
	}
}

func TestRunReturnsPromptlyWhenCancelled(t *testing.T) {
	t.Parallel()
	addr, c := startCollector(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- demo.Run(ctx, demo.Config{Endpoint: addr, Rate: 200}, discard()) }()

	select {
	case <-c.first:
	case <-time.After(10 * time.Second):
		t.Fatal("no span received within 10s")
	}
	cancel()
	cancelled := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		t.Logf("Run returned %v after cancel", time.Since(cancelled).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5s after cancel")
	}
}

func TestRunWithDoneContextMakesNoRequest(t *testing.T) {
	t.Parallel()
	addr, c := startCollector(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := demo.Run(ctx, demo.Config{Endpoint: addr}, discard()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(c.received().spans); n != 0 {
		t.Errorf("received %d spans, want none", n)
	}
}

func TestRunIsBoundedWhenEndpointIsDown(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := demo.Run(t.Context(), demo.Config{Endpoint: addr, Rate: 1000, MaxRequests: 20}, discard()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(began); took > 6*time.Second {
		t.Errorf("Run took %v with the endpoint down, want a bounded shutdown", took)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  demo.Config
		want []string // substrings of the error; none: valid
	}{
		{"default", demo.NewDefaultConfig(), nil},
		{"zero rate means default", demo.Config{Endpoint: "localhost:4317"}, nil},
		{"ipv6", demo.Config{Endpoint: "[::1]:4317", Rate: 1, MaxRequests: 10}, nil},
		{"empty endpoint", demo.Config{}, []string{"endpoint is empty"}},
		{"scheme", demo.Config{Endpoint: "http://127.0.0.1:4317"}, []string{"without scheme"}},
		{"no port", demo.Config{Endpoint: "127.0.0.1"}, []string{"missing port"}},
		{"bad port", demo.Config{Endpoint: "127.0.0.1:otlp"}, []string{"port must be"}},
		{"negative rate", demo.Config{Endpoint: "127.0.0.1:4317", Rate: -1}, []string{"rate -1"}},
		{"too fast", demo.Config{Endpoint: "127.0.0.1:4317", Rate: demo.MaxRate + 1}, []string{"rate 10001"}},
		{"nan rate", demo.Config{Endpoint: "127.0.0.1:4317", Rate: math.NaN()}, []string{"not a finite number"}},
		{"everything at once", demo.Config{Rate: math.Inf(1), MaxRequests: -1}, []string{"endpoint is empty", "not a finite number", "max_requests -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if runErr := demo.Run(t.Context(), tt.cfg, discard()); runErr == nil || runErr.Error() != err.Error() {
				t.Errorf("Run() = %v, want the Validate error", runErr)
			}
		})
	}
}

func ExampleRun() {
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	cfg := demo.NewDefaultConfig() // 20 requests/s to 127.0.0.1:4317
	if err := demo.Run(ctx, cfg, slog.Default()); err != nil {
		fmt.Println(err)
	}
}

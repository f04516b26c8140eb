package receiver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/servicegraph/servicegraph/receiver"
)

// got is one received span, flattened for comparison.
type got struct {
	Service, Name string
	Kind          ptrace.SpanKind
}

// recorder is a consumer.Traces that copies what it receives and answers
// with err (nil: success).
type recorder struct {
	err error

	mu    sync.Mutex // guards spans
	spans []got
}

func (c *recorder) ConsumeTraces(_ context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range td.ResourceSpans().All() {
		svc := "unknown_service"
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			svc = v.Str()
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				c.spans = append(c.spans, got{Service: svc, Name: s.Name(), Kind: s.Kind()})
			}
		}
	}
	return c.err
}

// received returns the spans so far, sorted.
func (c *recorder) received() []got {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]got(nil), c.spans...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// blocker is a consumer.Traces that signals entered and waits for release.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocker) ConsumeTraces(ctx context.Context, _ ptrace.Traces) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// testConfig listens on ephemeral localhost ports.
func testConfig() receiver.Config {
	cfg := receiver.NewDefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	return cfg
}

var quietLogger = slog.New(slog.DiscardHandler)

// start creates and starts a receiver shut down at the end of the test.
func start(t *testing.T, cfg receiver.Config, next interface {
	ConsumeTraces(context.Context, ptrace.Traces) error
}) (*receiver.Receiver, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := receiver.New(cfg, receiver.Settings{Logger: quietLogger, Registerer: reg}, next)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return r, reg
}

// sampleTraces builds a request of three spans from two services.
func sampleTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	add := func(svc string, spans ...got) {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		ss := rs.ScopeSpans().AppendEmpty()
		for i, g := range spans {
			s := ss.Spans().AppendEmpty()
			s.SetName(g.Name)
			s.SetKind(g.Kind)
			s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
			s.SetSpanID(pcommon.SpanID{byte(len(svc)), byte(i + 1), 3, 4, 5, 6, 7, 8})
		}
	}
	add("frontend", got{Name: "GET /checkout", Kind: ptrace.SpanKindServer}, got{Name: "call payments", Kind: ptrace.SpanKindClient})
	add("payments", got{Name: "charge", Kind: ptrace.SpanKindServer})
	return td
}

// sampleWant is what a recorder holds after receiving sampleTraces.
var sampleWant = []got{
	{"frontend", "GET /checkout", ptrace.SpanKindServer},
	{"frontend", "call payments", ptrace.SpanKindClient},
	{"payments", "charge", ptrace.SpanKindServer},
}

func mustProto(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// httpClient returns a client whose idle connections are closed at the end
// of the test (goleak).
func httpClient(t *testing.T, tr *http.Transport) *http.Client {
	t.Helper()
	if tr == nil {
		tr = &http.Transport{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func post(t *testing.T, c *http.Client, method, url string, header map[string]string, body []byte) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func tracesURL(addr net.Addr) string { return "http://" + addr.String() + "/v1/traces" }

// grpcClient dials addr in plaintext; the connection closes with the test.
func grpcClient(t *testing.T, addr net.Addr, opts ...grpc.DialOption) ptraceotlp.GRPCClient {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(addr.String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return ptraceotlp.NewGRPCClient(cc)
}

// consumerFunc adapts a function to consumer.Traces.
type consumerFunc func(context.Context, ptrace.Traces) error

func (f consumerFunc) ConsumeTraces(ctx context.Context, td ptrace.Traces) error { return f(ctx, td) }

// postNoFatal posts a protobuf body from any goroutine; transport errors
// come back as status 0 with the error text as body.
func postNoFatal(c *http.Client, url string, header map[string]string, body []byte) response {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// metricSum gathers reg and sums the series of family name whose labels
// match the name/value pairs given.
func metricSum(t *testing.T, reg prometheus.Gatherer, name string, labelPairs ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labelPairs); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labelPairs[i] && lp.GetValue() == labelPairs[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// waitMetric polls metricSum until it equals want, failing the test after
// 10 s: for counters updated after the client has its answer.
func waitMetric(t *testing.T, reg prometheus.Gatherer, want float64, name string, labelPairs ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		got := metricSum(t, reg, name, labelPairs...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v after 10s, want %v", name, labelPairs, got, want)
		}
		<-tick.C
	}
}

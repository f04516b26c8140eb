package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// dual is a consumer that implements consumer.ProtoTraces beside
// consumer.Traces, as pairing.Processor does. It counts which path each
// request took, records spans (decoding the raw bytes with pdata) and
// answers err; wait makes it wait for its context instead.
type dual struct {
	recorder
	wait         bool
	entered      chan struct{} // if set and wait: told when a call starts waiting
	proto, pdata atomic.Int64
}

func (d *dual) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	d.pdata.Add(1)
	return d.recorder.ConsumeTraces(ctx, td)
}

func (d *dual) ConsumeTracesProto(ctx context.Context, b []byte) error {
	d.proto.Add(1)
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(b); err != nil {
		return consumer.NewMalformed(fmt.Errorf("decode protobuf ExportTraceServiceRequest: %w", err))
	}
	if d.wait {
		if d.entered != nil {
			d.entered <- struct{}{}
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return d.recorder.ConsumeTraces(ctx, req.Traces())
}

// paths reports how many requests took the raw and the pdata path.
func (d *dual) paths() [2]int64 { return [2]int64{d.proto.Load(), d.pdata.Load()} }

// bytesCodec sends and receives gRPC messages as raw bytes, to put
// malformed protobuf on the wire.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (bytesCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (bytesCodec) Name() string { return "proto" }

// exportBytes calls TraceService/Export with a raw request body.
func exportBytes(t *testing.T, addr string, body []byte) error {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var out []byte
	return cc.Invoke(t.Context(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &body, &out,
		grpc.ForceCodecV2(bytesCodec{}))
}

func TestRawGRPC(t *testing.T) {
	tests := []struct {
		name     string
		consumer error
		wait     bool
		limit    int64
		timeout  time.Duration
		traces   ptrace.Traces
		raw      []byte // sent as is instead of traces
		callOpts []grpc.CallOption

		wantCode       codes.Code
		wantSpans      []got
		wantRejected   int64
		wantPartialMsg string
		wantErrHas     string
		wantRetry      time.Duration
		wantPaths      [2]int64 // raw, pdata
		wantCounted    float64  // servicegraph_receiver_spans_total, both outcomes
	}{
		{name: "accepted", traces: sampleTraces(), wantCode: codes.OK, wantSpans: sampleWant, wantPaths: [2]int64{1, 0}, wantCounted: 3},
		{
			name: "gzip", traces: sampleTraces(), callOpts: []grpc.CallOption{grpc.UseCompressor(gzip.Name)},
			wantCode: codes.OK, wantSpans: sampleWant, wantPaths: [2]int64{1, 0}, wantCounted: 3,
		},
		{
			name: "many frames", traces: manySpans(3000), wantCode: codes.OK, wantPaths: [2]int64{1, 0}, wantCounted: 3000,
		},
		{
			name:     "partial success",
			consumer: &consumer.PartialError{Rejected: 3, Reason: "3 spans with invalid ids"},
			traces:   sampleTraces(), wantCode: codes.OK, wantSpans: sampleWant,
			wantRejected: 3, wantPartialMsg: "3 spans with invalid ids", wantPaths: [2]int64{1, 0}, wantCounted: 3,
		},
		{
			name:     "retryable",
			consumer: consumer.NewRetryable(errors.New("span index full"), 2500*time.Millisecond),
			traces:   sampleTraces(), wantCode: codes.Unavailable, wantSpans: sampleWant,
			wantErrHas: "span index full", wantRetry: 2500 * time.Millisecond, wantPaths: [2]int64{1, 0}, wantCounted: 3,
		},
		{
			name:     "permanent",
			consumer: errors.New("trace id is all zeros"),
			traces:   sampleTraces(), wantCode: codes.InvalidArgument, wantSpans: sampleWant,
			wantErrHas: "trace id is all zeros", wantPaths: [2]int64{1, 0}, wantCounted: 3,
		},
		{
			name: "malformed", raw: []byte{0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01},
			wantCode: codes.InvalidArgument, wantErrHas: "decode protobuf", wantPaths: [2]int64{1, 0}, wantCounted: 0,
		},
		{name: "message too large", limit: 4 << 10, traces: manySpans(100), wantCode: codes.ResourceExhausted},
		{
			name: "gzip message too large once inflated", limit: 4 << 10, traces: manySpans(100),
			callOpts: []grpc.CallOption{grpc.UseCompressor(gzip.Name)}, wantCode: codes.ResourceExhausted,
		},
		{
			name: "consumer out of time", wait: true, timeout: 20 * time.Millisecond, traces: sampleTraces(),
			wantCode: codes.Unavailable, wantRetry: time.Second, wantPaths: [2]int64{1, 0}, wantCounted: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.HTTPAddr = ""
			if tt.limit > 0 {
				cfg.MaxRequestBytes = tt.limit
			}
			if tt.timeout > 0 {
				cfg.RequestTimeout = tt.timeout
			}
			d := &dual{recorder: recorder{err: tt.consumer}, wait: tt.wait}
			r, reg := start(t, cfg, d)
			var err error
			var resp ptraceotlp.ExportResponse
			if tt.raw != nil {
				err = exportBytes(t, r.GRPCAddr().String(), tt.raw)
			} else {
				resp, err = grpcClient(t, r.GRPCAddr()).Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(tt.traces), tt.callOpts...)
			}
			st := status.Convert(err)
			if st.Code() != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", st.Code(), err, tt.wantCode)
			}
			if !strings.Contains(st.Message(), tt.wantErrHas) {
				t.Errorf("message = %q, want it to contain %q", st.Message(), tt.wantErrHas)
			}
			if got := grpcRetryDelay(st); got != tt.wantRetry {
				t.Errorf("RetryInfo delay = %v, want %v", got, tt.wantRetry)
			}
			if tt.wantCode == codes.InvalidArgument && !hasBadRequest(st) {
				t.Errorf("InvalidArgument without BadRequest detail: %v", st.Details())
			}
			if err == nil && tt.raw == nil {
				ps := resp.PartialSuccess()
				if ps.RejectedSpans() != tt.wantRejected || ps.ErrorMessage() != tt.wantPartialMsg {
					t.Errorf("partial_success = {%d, %q}, want {%d, %q}",
						ps.RejectedSpans(), ps.ErrorMessage(), tt.wantRejected, tt.wantPartialMsg)
				}
			}
			if tt.wantSpans != nil {
				if got := d.received(); !slices.Equal(got, tt.wantSpans) {
					t.Errorf("consumer got %v, want %v", got, tt.wantSpans)
				}
			} else if tt.raw == nil && tt.wantCode == codes.OK {
				if got := len(d.received()); got != tt.traces.SpanCount() {
					t.Errorf("consumer got %d spans, want %d", got, tt.traces.SpanCount())
				}
			}
			if got := d.paths(); got != tt.wantPaths {
				t.Errorf("paths (raw, pdata) = %v, want %v", got, tt.wantPaths)
			}
			if got := metricSum(t, reg, "servicegraph_receiver_spans_total", "transport", "grpc"); got != tt.wantCounted {
				t.Errorf("spans counted = %v, want %v", got, tt.wantCounted)
			}
		})
	}
}

func TestRawHTTP(t *testing.T) {
	tests := []struct {
		name     string
		consumer error
		limit    int64
		header   map[string]string
		body     func(t testing.TB) []byte

		wantStatus   int
		wantSpans    []got
		wantRejected int64
		wantErrCode  codes.Code
		wantErrHas   string
		wantPaths    [2]int64 // raw, pdata
		wantAccepted float64  // servicegraph_receiver_spans_total{outcome="accepted"}
		wantRefused  float64  // servicegraph_receiver_spans_total{outcome="rejected"}
	}{
		{
			name:       "protobuf",
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant, wantPaths: [2]int64{1, 0}, wantAccepted: 3,
		},
		{
			name:       "gzip protobuf",
			header:     map[string]string{"Content-Type": ctProto, "Content-Encoding": "gzip"},
			body:       func(t testing.TB) []byte { return gzipped(t, mustProto(t, sampleTraces())) },
			wantStatus: http.StatusOK, wantSpans: sampleWant, wantPaths: [2]int64{1, 0}, wantAccepted: 3,
		},
		{
			name:       "json goes through pdata",
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant, wantPaths: [2]int64{0, 1}, wantAccepted: 3,
		},
		{
			name:       "malformed protobuf",
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(testing.TB) []byte { return []byte{0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01} },
			wantStatus: http.StatusBadRequest, wantErrCode: codes.InvalidArgument, wantErrHas: "decode protobuf",
			wantPaths: [2]int64{1, 0},
		},
		{
			name:       "partial success",
			consumer:   &consumer.PartialError{Rejected: 2, Reason: "2 spans without a span id"},
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant, wantRejected: 2, wantPaths: [2]int64{1, 0},
			wantAccepted: 1, wantRefused: 2,
		},
		{
			name:       "permanent",
			consumer:   errors.New("nope"),
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusBadRequest, wantSpans: sampleWant, wantErrCode: codes.InvalidArgument, wantErrHas: "nope",
			wantPaths: [2]int64{1, 0}, wantRefused: 3,
		},
		{
			name:       "body over limit",
			limit:      4 << 10,
			header:     map[string]string{"Content-Type": ctProto, "Content-Encoding": "gzip"},
			body:       func(t testing.TB) []byte { return gzipped(t, mustProto(t, manySpans(100))) },
			wantStatus: http.StatusRequestEntityTooLarge, wantErrHas: "max_request_bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.GRPCAddr = ""
			if tt.limit > 0 {
				cfg.MaxRequestBytes = tt.limit
			}
			d := &dual{recorder: recorder{err: tt.consumer}}
			r, reg := start(t, cfg, d)
			resp := post(t, httpClient(t, nil), http.MethodPost, tracesURL(r.HTTPAddr()), tt.header, tt.body(t))
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", resp.status, resp.body, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusOK {
				er := ptraceotlp.NewExportResponse()
				if err := er.UnmarshalProto(resp.body); err != nil && tt.header["Content-Type"] == ctProto {
					t.Fatalf("response: %v", err)
				}
				if got := er.PartialSuccess().RejectedSpans(); tt.header["Content-Type"] == ctProto && got != tt.wantRejected {
					t.Errorf("rejected_spans = %d, want %d", got, tt.wantRejected)
				}
			} else {
				checkStatus(t, resp, tt.wantErrCode, tt.wantErrHas)
			}
			if got := d.received(); !slices.Equal(got, tt.wantSpans) && !(len(got) == 0 && tt.wantSpans == nil) {
				t.Errorf("consumer got %v, want %v", got, tt.wantSpans)
			}
			if got := d.paths(); got != tt.wantPaths {
				t.Errorf("paths (raw, pdata) = %v, want %v", got, tt.wantPaths)
			}
			accepted := metricSum(t, reg, "servicegraph_receiver_spans_total", "transport", "http", "outcome", "accepted")
			refused := metricSum(t, reg, "servicegraph_receiver_spans_total", "transport", "http", "outcome", "rejected")
			if accepted != tt.wantAccepted || refused != tt.wantRefused {
				t.Errorf("spans counted accepted %v rejected %v, want %v and %v", accepted, refused, tt.wantAccepted, tt.wantRefused)
			}
		})
	}
}

// The OpenTelemetry SDK exporters reach a raw consumer through the raw path
// (protobuf) or pdata (JSON).
func TestRawSDKExporters(t *testing.T) {
	tests := []struct {
		opts exporterOpts
		want [2]int64 // raw, pdata: one request per service
	}{
		{exporterOpts{transport: "grpc"}, [2]int64{2, 0}},
		{exporterOpts{transport: "grpc", gzip: true}, [2]int64{2, 0}},
		{exporterOpts{transport: "http"}, [2]int64{2, 0}},
		{exporterOpts{transport: "http", gzip: true}, [2]int64{2, 0}},
		{exporterOpts{transport: "http", json: true}, [2]int64{0, 2}},
	}
	for _, tt := range tests {
		name := tt.opts.transport
		if tt.opts.gzip {
			name += "/gzip"
		}
		if tt.opts.json {
			name += "/json"
		}
		t.Run(name, func(t *testing.T) {
			d := &dual{}
			r, _ := start(t, testConfig(), d)
			addr := r.HTTPAddr()
			if tt.opts.transport == "grpc" {
				addr = r.GRPCAddr()
			}
			if err := emitTwoServices(t, func() sdktrace.SpanExporter { return newExporter(t, addr, tt.opts) }); err != nil {
				t.Fatalf("export: %v", err)
			}
			if got := d.received(); !slices.Equal(got, twoServicesWant) {
				t.Fatalf("received %v\nwant %v", got, twoServicesWant)
			}
			if got := d.paths(); got != tt.want {
				t.Errorf("paths (raw, pdata) = %v, want %v", got, tt.want)
			}
		})
	}
}

// The gRPC interceptors still run on the raw path: bearer tokens, the
// concurrency limit, panic recovery.
func TestRawGRPCInterceptors(t *testing.T) {
	t.Run("bearer token", func(t *testing.T) {
		cfg := testConfig()
		cfg.Auth.BearerTokenFile = writeTokens(t, "letmein\n")
		d := &dual{}
		r, _ := start(t, cfg, d)
		c := grpcClient(t, r.GRPCAddr())
		req := ptraceotlp.NewExportRequestFromTraces(sampleTraces())
		if _, err := c.Export(t.Context(), req); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("without token: %v, want Unauthenticated", err)
		}
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer letmein")
		if _, err := c.Export(ctx, req); err != nil {
			t.Fatalf("with token: %v", err)
		}
		if got := d.paths(); got != [2]int64{1, 0} {
			t.Errorf("paths (raw, pdata) = %v, want [1 0]", got)
		}
	})
	t.Run("concurrency limit", func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxConcurrentRequests = 1
		d := &dual{wait: true, entered: make(chan struct{}, 1)}
		r, _ := start(t, cfg, d)
		c := grpcClient(t, r.GRPCAddr())
		req := ptraceotlp.NewExportRequestFromTraces(sampleTraces())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := c.Export(ctx, req)
			done <- err
		}()
		<-d.entered // the first call holds the only slot
		_, err := c.Export(t.Context(), req)
		if st := status.Convert(err); st.Code() != codes.Unavailable || grpcRetryDelay(st) != time.Second {
			t.Fatalf("second call: %v, want Unavailable with RetryInfo", err)
		}
		cancel()
		<-done
	})
	t.Run("panic recovered", func(t *testing.T) {
		var calls atomic.Int64
		r, _ := start(t, testConfig(), protoFunc(func(context.Context, []byte) error {
			if calls.Add(1) == 1 {
				panic("bug in the consumer")
			}
			return nil
		}))
		c := grpcClient(t, r.GRPCAddr())
		req := ptraceotlp.NewExportRequestFromTraces(sampleTraces())
		if _, err := c.Export(t.Context(), req); status.Code(err) != codes.Internal {
			t.Fatalf("first export: %v, want Internal", err)
		}
		if _, err := c.Export(t.Context(), req); err != nil {
			t.Fatalf("second export: %v", err)
		}
	})
}

// protoFunc adapts a function to consumer.ProtoTraces (and consumer.Traces,
// never called).
type protoFunc func(context.Context, []byte) error

func (f protoFunc) ConsumeTracesProto(ctx context.Context, b []byte) error { return f(ctx, b) }
func (protoFunc) ConsumeTraces(context.Context, ptrace.Traces) error {
	return errors.New("pdata path taken")
}

// The receiver feeds a real pairing.Processor over the raw path: spans are
// counted, paired, and malformed requests refused with the decoder's
// message.
func TestRawPathWithPairing(t *testing.T) {
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
	cfg := pairing.NewDefaultConfig()
	cfg.Shards, cfg.MaxIndexSpans, cfg.MaxPendingSpans, cfg.MaxPendingLinks = 2, 1024, 1024, 1024
	p, err := pairing.New(cfg, pairing.Settings{}, g)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := start(t, testConfig(), p)
	for _, o := range []exporterOpts{{transport: "grpc"}, {transport: "http", gzip: true}} {
		addr := r.GRPCAddr()
		if o.transport == "http" {
			addr = r.HTTPAddr()
		}
		if err := emitTwoServices(t, func() sdktrace.SpanExporter { return newExporter(t, addr, o) }); err != nil {
			t.Fatalf("%s export: %v", o.transport, err)
		}
	}
	if got := p.Stats().SpansReceived; got != 10 {
		t.Fatalf("pairing received %d spans, want 10", got)
	}
	bad := mustProto(t, sampleTraces())
	bad = bad[:len(bad)-1]
	err = exportBytes(t, r.GRPCAddr().String(), bad)
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "decode protobuf ExportTraceServiceRequest: resource_spans[1]") {
		t.Fatalf("truncated request: %v", err)
	}
	resp := post(t, httpClient(t, nil), http.MethodPost, tracesURL(r.HTTPAddr()), map[string]string{"Content-Type": ctProto}, bad)
	checkStatus(t, resp, codes.InvalidArgument, "decode protobuf ExportTraceServiceRequest")
	if got := p.Stats().SpansReceived; got != 10 {
		t.Fatalf("pairing received %d spans after malformed requests, want 10", got)
	}
}

// Malformed protobuf over gRPC: a raw consumer reports it, pdata refuses
// it for any other; both are answered InvalidArgument (bad_request) like
// HTTP's 400, and counted.
func TestGRPCMalformedBothPaths(t *testing.T) {
	body := []byte{0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01}
	tests := []struct {
		name string
		next interface {
			ConsumeTraces(context.Context, ptrace.Traces) error
		}
		wantCode  codes.Code
		wantCount float64 // servicegraph_receiver_refused_total{reason="bad_request"}
	}{
		{"raw", &dual{}, codes.InvalidArgument, 1},
		{"pdata", &recorder{}, codes.InvalidArgument, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, reg := start(t, testConfig(), tt.next)
			if code := status.Code(exportBytes(t, r.GRPCAddr().String(), body)); code != tt.wantCode {
				t.Fatalf("code = %v, want %v", code, tt.wantCode)
			}
			if got := metricSum(t, reg, "servicegraph_receiver_refused_total", "transport", "grpc", "reason", "bad_request"); got != tt.wantCount {
				t.Errorf("bad_request refusals = %v, want %v", got, tt.wantCount)
			}
		})
	}
}

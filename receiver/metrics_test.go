package receiver_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/receiver"
)

// TestMetrics sends one request of each outcome and checks every series
// it should move.
func TestMetrics(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 4 << 10
	var answer atomic.Pointer[error] // what the consumer returns; nil: success
	setAnswer := func(err error) { answer.Store(&err) }
	setAnswer(nil)
	r, reg := start(t, cfg, consumerFunc(func(context.Context, ptrace.Traces) error { return *answer.Load() }))
	client := httpClient(t, nil)
	grpcC := grpcClient(t, r.GRPCAddr())
	hdr := map[string]string{"Content-Type": ctProto}
	body := mustProto(t, sampleTraces()) // 3 spans

	post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, body) // accepted
	setAnswer(&consumer.PartialError{Rejected: 1, Reason: "bad id"})
	post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, body) // partial
	setAnswer(errors.New("permanent"))
	post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, body)                                    // refused bad_request, 3 spans rejected
	post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), map[string]string{"Content-Type": "x"}, body) // unsupported_media_type
	post(t, client, http.MethodGet, tracesURL(r.HTTPAddr()), nil, nil)                                      // method_not_allowed
	setAnswer(nil)
	if _, err := grpcC.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(sampleTraces())); err != nil {
		t.Fatal(err)
	}
	if _, err := grpcC.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(manySpans(100))); err == nil {
		t.Fatal("oversized gRPC message accepted")
	}
	// gRPC counts its own size refusal in the stats handler, which may run
	// after the client has read the answer: wait for it.
	waitMetric(t, reg, 1, "servicegraph_receiver_refused_total", "transport", "grpc", "reason", "too_large")

	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"servicegraph_receiver_requests_total", []string{"transport", "http", "outcome", "accepted"}, 1},
		{"servicegraph_receiver_requests_total", []string{"transport", "http", "outcome", "partial"}, 1},
		{"servicegraph_receiver_requests_total", []string{"transport", "http", "outcome", "refused"}, 3},
		{"servicegraph_receiver_requests_total", []string{"transport", "grpc", "outcome", "accepted"}, 1},
		{"servicegraph_receiver_requests_total", []string{"transport", "grpc", "outcome", "refused"}, 1},
		{"servicegraph_receiver_refused_total", []string{"transport", "http", "reason", "bad_request"}, 1},
		{"servicegraph_receiver_refused_total", []string{"transport", "http", "reason", "unsupported_media_type"}, 1},
		{"servicegraph_receiver_refused_total", []string{"transport", "http", "reason", "method_not_allowed"}, 1},
		{"servicegraph_receiver_refused_total", []string{"transport", "grpc", "reason", "too_large"}, 1},
		{"servicegraph_receiver_refused_total", []string{"transport", "http", "reason", "overloaded"}, 0},
		{"servicegraph_receiver_spans_total", []string{"transport", "http", "outcome", "accepted"}, 5},
		{"servicegraph_receiver_spans_total", []string{"transport", "http", "outcome", "rejected"}, 4},
		{"servicegraph_receiver_spans_total", []string{"transport", "grpc", "outcome", "accepted"}, 3},
		{"servicegraph_receiver_inflight_requests", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+strings.Join(tt.labels, ","), func(t *testing.T) {
			if got := metricSum(t, reg, tt.name, tt.labels...); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	// Every series exists from the start: 2 transports x 3 outcomes.
	if n, err := testutil.GatherAndCount(reg, "servicegraph_receiver_requests_total"); err != nil || n != 6 {
		t.Errorf("requests_total series = %d (%v), want 6", n, err)
	}
}

// TestNilRegistererStaysOffGlobal: a nil Registerer never touches the
// global registry.
func TestNilRegistererStaysOffGlobal(t *testing.T) {
	if _, err := receiver.New(testConfig(), receiver.Settings{Logger: quietLogger}, &recorder{}); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, "servicegraph_receiver_requests_total")
	if err != nil || n != 0 {
		t.Fatalf("global registry holds %d receiver series (%v)", n, err)
	}
}

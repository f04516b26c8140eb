package receiver_test

import (
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestConcurrencyLimit fills the limit with one blocked request per
// transport (the limit is shared), checks that the next request on either
// transport is refused at once as retryable, then releases the blocked ones.
func TestConcurrencyLimit(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConcurrentRequests = 2
	b := newBlocker()
	r, reg := start(t, cfg, b)
	client := httpClient(t, nil)
	grpcC := grpcClient(t, r.GRPCAddr())
	body := mustProto(t, sampleTraces())
	hdr := map[string]string{"Content-Type": ctProto}

	httpDone := make(chan response, 1)
	go func() {
		httpDone <- postNoFatal(client, tracesURL(r.HTTPAddr()), hdr, body)
	}()
	grpcDone := make(chan error, 1)
	go func() {
		_, err := grpcC.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(sampleTraces()))
		grpcDone <- err
	}()
	<-b.entered
	<-b.entered // both slots taken

	if got := metricSum(t, reg, "servicegraph_receiver_inflight_requests"); got != 2 {
		t.Errorf("inflight gauge = %v, want 2", got)
	}

	tests := []struct{ transport string }{{"http"}, {"grpc"}}
	for _, tt := range tests {
		t.Run("refused over "+tt.transport, func(t *testing.T) {
			switch tt.transport {
			case "http":
				resp := post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, body)
				if resp.status != http.StatusTooManyRequests {
					t.Fatalf("status = %d, want 429", resp.status)
				}
				if ra := resp.header.Get("Retry-After"); ra != "1" {
					t.Errorf("Retry-After = %q, want 1", ra)
				}
				checkStatus(t, resp, codes.Unavailable, "too many concurrent requests")
			case "grpc":
				_, err := grpcC.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(sampleTraces()))
				st := status.Convert(err)
				if st.Code() != codes.Unavailable {
					t.Fatalf("code = %v, want Unavailable", st.Code())
				}
				if d := grpcRetryDelay(st); d != time.Second {
					t.Errorf("RetryInfo delay = %v, want 1s", d)
				}
			}
		})
	}

	close(b.release)
	if resp := <-httpDone; resp.status != http.StatusOK {
		t.Errorf("blocked HTTP request: status %d (%s), want 200", resp.status, resp.body)
	}
	if err := <-grpcDone; err != nil {
		t.Errorf("blocked gRPC request: %v", err)
	}
	if got := metricSum(t, reg, "servicegraph_receiver_refused_total", "reason", "overloaded"); got != 2 {
		t.Errorf("overloaded refusals = %v, want 2", got)
	}
	// Slots are free again (the blocker returns at once now that release
	// is closed; entered is buffered).
	if resp := post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, body); resp.status != http.StatusOK {
		t.Errorf("after release: status %d, want 200", resp.status)
	}
	if got := metricSum(t, reg, "servicegraph_receiver_inflight_requests"); got != 0 {
		t.Errorf("inflight gauge = %v after release, want 0", got)
	}
}

package receiver_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestMemoryBudget: a request blocked in the consumer holds 16 times its
// protobuf size of max_inflight_bytes; the next one that does not fit is
// refused at once as retryable on both transports, a JSON body whose
// objects would cost more than the whole budget is refused as too large,
// and the budget is whole again once the requests are answered.
func TestMemoryBudget(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 64 << 10
	cfg.MaxInflightBytes = 16 * cfg.MaxRequestBytes
	b := newBlocker()
	r, reg := start(t, cfg, b)
	client := httpClient(t, nil)
	grpcC := grpcClient(t, r.GRPCAddr())
	hdr := map[string]string{"Content-Type": ctProto}
	held := mustProto(t, manySpans(400)) // ~40 KiB: costs ~640 KiB of 1 MiB
	if len(held) < 33<<10 {
		t.Fatalf("held request is %d bytes, want more than a third of the budget's 64 KiB", len(held))
	}

	heldDone := make(chan response, 1)
	go func() { heldDone <- postNoFatal(client, tracesURL(r.HTTPAddr()), hdr, held) }()
	<-b.entered
	if got, want := metricSum(t, reg, "servicegraph_receiver_inflight_bytes"), float64(16*len(held)); got != want {
		t.Errorf("inflight bytes = %v while one request is held, want %v", got, want)
	}

	t.Run("http over budget", func(t *testing.T) {
		resp := post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, held)
		if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") != "1" {
			t.Fatalf("status = %d, Retry-After %q; want 429, 1", resp.status, resp.header.Get("Retry-After"))
		}
		checkStatus(t, resp, codes.Unavailable, "max_inflight_bytes")
	})
	t.Run("grpc over budget", func(t *testing.T) {
		_, err := grpcC.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(manySpans(400)))
		st := status.Convert(err)
		if st.Code() != codes.Unavailable || grpcRetryDelay(st) != time.Second {
			t.Fatalf("status = %v, RetryInfo %v; want Unavailable, 1s", st, grpcRetryDelay(st))
		}
	})
	t.Run("json beyond the whole budget", func(t *testing.T) {
		var body bytes.Buffer
		body.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[`)
		body.WriteString(strings.TrimSuffix(strings.Repeat("{},", 7000), ","))
		body.WriteString(`]}]}]}`)
		resp := post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), map[string]string{"Content-Type": ctJSON}, body.Bytes())
		if resp.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", resp.status)
		}
		checkStatus(t, resp, codes.ResourceExhausted, "more memory than max_inflight_bytes")
	})

	close(b.release)
	if resp := <-heldDone; resp.status != http.StatusOK {
		t.Fatalf("held request: status %d (%s)", resp.status, resp.body)
	}
	waitMetric(t, reg, 0, "servicegraph_receiver_inflight_bytes")
	for _, tt := range []struct {
		transport, reason string
		want              float64
	}{
		{"http", "overloaded", 1}, {"grpc", "overloaded", 1}, {"http", "too_large", 1},
	} {
		if got := metricSum(t, reg, "servicegraph_receiver_refused_total", "transport", tt.transport, "reason", tt.reason); got != tt.want {
			t.Errorf("refused{%s,%s} = %v, want %v", tt.transport, tt.reason, got, tt.want)
		}
	}
	if resp := post(t, client, http.MethodPost, tracesURL(r.HTTPAddr()), hdr, held); resp.status != http.StatusOK {
		t.Errorf("after release: status %d, want 200", resp.status)
	}
}

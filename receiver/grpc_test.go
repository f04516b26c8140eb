package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"

	"github.com/servicegraph/servicegraph/consumer"
)

func TestGRPC(t *testing.T) {
	tests := []struct {
		name     string
		consumer error
		limit    int64
		timeout  time.Duration // request_timeout; 0: default
		traces   ptrace.Traces
		callOpts []grpc.CallOption

		wantCode       codes.Code
		wantSpans      []got
		wantRejected   int64
		wantPartialMsg string
		wantErrHas     string
		wantRetry      time.Duration // RetryInfo delay; 0: no RetryInfo
	}{
		{name: "accepted", traces: sampleTraces(), wantCode: codes.OK, wantSpans: sampleWant},
		{
			name: "gzip", traces: sampleTraces(), callOpts: []grpc.CallOption{grpc.UseCompressor(gzip.Name)},
			wantCode: codes.OK, wantSpans: sampleWant,
		},
		{
			name:     "partial success",
			consumer: &consumer.PartialError{Rejected: 3, Reason: "3 spans with invalid ids"},
			traces:   sampleTraces(), wantCode: codes.OK, wantSpans: sampleWant,
			wantRejected: 3, wantPartialMsg: "3 spans with invalid ids",
		},
		{
			name:     "retryable",
			consumer: consumer.NewRetryable(errors.New("span index full"), 2500*time.Millisecond),
			traces:   sampleTraces(), wantCode: codes.Unavailable, wantSpans: sampleWant,
			wantErrHas: "span index full", wantRetry: 2500 * time.Millisecond,
		},
		{
			name:     "permanent",
			consumer: fmt.Errorf("validate: %w", errors.New("trace id is all zeros")),
			traces:   sampleTraces(), wantCode: codes.InvalidArgument, wantSpans: sampleWant,
			wantErrHas: "trace id is all zeros",
		},
		{
			name:  "message too large",
			limit: 4 << 10, traces: manySpans(100),
			wantCode: codes.ResourceExhausted,
		},
		{
			name:     "gzip message too large once inflated",
			limit:    4 << 10,
			traces:   manySpans(100),
			callOpts: []grpc.CallOption{grpc.UseCompressor(gzip.Name)},
			wantCode: codes.ResourceExhausted,
		},
		{
			name:     "consumer out of time",
			consumer: errDeadline, timeout: 20 * time.Millisecond,
			traces: sampleTraces(), wantCode: codes.Unavailable, wantRetry: time.Second,
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
			rec := &recorder{err: tt.consumer}
			var next interface {
				ConsumeTraces(context.Context, ptrace.Traces) error
			} = rec
			if tt.consumer == errDeadline {
				next = consumerFunc(func(ctx context.Context, _ ptrace.Traces) error {
					<-ctx.Done()
					return ctx.Err()
				})
			}
			r, _ := start(t, cfg, next)
			client := grpcClient(t, r.GRPCAddr())
			resp, err := client.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(tt.traces), tt.callOpts...)

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
			if err == nil {
				ps := resp.PartialSuccess()
				if ps.RejectedSpans() != tt.wantRejected || ps.ErrorMessage() != tt.wantPartialMsg {
					t.Errorf("partial_success = {%d, %q}, want {%d, %q}",
						ps.RejectedSpans(), ps.ErrorMessage(), tt.wantRejected, tt.wantPartialMsg)
				}
			}
			if gotSpans := rec.received(); !slices.Equal(gotSpans, tt.wantSpans) {
				t.Errorf("consumer got %v, want %v", gotSpans, tt.wantSpans)
			}
		})
	}
}

// errDeadline selects a consumer that waits for its context to end.
var errDeadline = errors.New("wait for the deadline")

func grpcRetryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

func hasBadRequest(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.BadRequest); ok {
			return true
		}
	}
	return false
}

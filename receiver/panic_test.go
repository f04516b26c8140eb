package receiver_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A consumer that panics costs the sender one Internal error; the server
// keeps serving.
func TestGRPCPanicRecovered(t *testing.T) {
	calls := 0
	r, _ := start(t, testConfig(), consumerFunc(func(context.Context, ptrace.Traces) error {
		calls++
		if calls == 1 {
			panic("bug in the consumer")
		}
		return nil
	}))
	c := grpcClient(t, r.GRPCAddr())
	req := ptraceotlp.NewExportRequestFromTraces(sampleTraces())
	if _, err := c.Export(context.Background(), req); status.Code(err) != codes.Internal {
		t.Fatalf("first export: %v, want Internal", err)
	}
	if _, err := c.Export(context.Background(), req); err != nil {
		t.Fatalf("second export: %v", err)
	}
}

package receiver_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/receiver"
)

// TestInFlightWaitIdle: WaitIdle returns at once when no export is being
// handled, when the last one ends, at its bound, or when its context
// ends, and says how long it waited.
func TestInFlightWaitIdle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		begin int           // exports begun before the wait
		ends  time.Duration // when they all end (0: never)
		max   time.Duration
		stop  time.Duration // when ctx is cancelled (0: never)
		want  time.Duration
	}{
		{name: "none in flight", begin: 0, max: 10 * time.Millisecond, want: 0},
		{name: "zero bound", begin: 1, max: 0, want: 0},
		{name: "last export ends", begin: 2, ends: 3 * time.Millisecond, max: 10 * time.Millisecond, want: 3 * time.Millisecond},
		{name: "bound hit", begin: 1, max: 5 * time.Millisecond, want: 5 * time.Millisecond},
		{name: "context ends", begin: 1, max: 10 * time.Millisecond, stop: 2 * time.Millisecond, want: 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var f receiver.InFlight
				for range tc.begin {
					f.Begin()
				}
				if got := f.Active(); got != int64(tc.begin) {
					t.Fatalf("Active = %d; want %d", got, tc.begin)
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tc.ends > 0 {
					time.AfterFunc(tc.ends, func() {
						for range tc.begin {
							f.End()
						}
					})
				}
				if tc.stop > 0 {
					time.AfterFunc(tc.stop, cancel)
				}
				if got := f.WaitIdle(ctx, tc.max); got != tc.want {
					t.Errorf("WaitIdle waited %v; want %v", got, tc.want)
				}
			})
		})
	}
}

// TestInFlightWakesEveryWaiter: waiters parked on one export all wake
// when it ends, and a later wait on a new export parks again.
func TestInFlightWakesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f receiver.InFlight
		f.Begin()
		waited := make(chan time.Duration, 3)
		for range 3 {
			go func() { waited <- f.WaitIdle(t.Context(), time.Second) }()
		}
		time.Sleep(4 * time.Millisecond)
		f.End()
		for range 3 {
			if got := <-waited; got != 4*time.Millisecond {
				t.Errorf("WaitIdle waited %v; want 4ms", got)
			}
		}
		f.Begin()
		time.AfterFunc(time.Millisecond, f.End)
		if got := f.WaitIdle(t.Context(), time.Second); got != time.Millisecond {
			t.Errorf("second wait: %v; want 1ms", got)
		}
	})
}

// TestReceiverCountsExportsInFlight: the consumer runs with the export
// counted, over gRPC and over HTTP; none is counted once answered.
func TestReceiverCountsExportsInFlight(t *testing.T) {
	var r *receiver.Receiver
	during := make(chan int64, 2)
	r, _ = start(t, testConfig(), consumerFunc(func(context.Context, ptrace.Traces) error {
		during <- r.InFlight().Active()
		return nil
	}))
	td := sampleTraces()
	if _, err := grpcClient(t, r.GRPCAddr()).Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatalf("gRPC export: %v", err)
	}
	resp := post(t, http.DefaultClient, http.MethodPost, tracesURL(r.HTTPAddr()),
		map[string]string{"Content-Type": "application/x-protobuf"}, mustProto(t, td))
	if resp.status != http.StatusOK {
		t.Fatalf("HTTP export: %d", resp.status)
	}
	for i, transport := range []string{"gRPC", "HTTP"} {
		if got := <-during; got != 1 {
			t.Errorf("export %d (%s): %d in flight while consuming; want 1", i, transport, got)
		}
	}
	if got := r.InFlight().Active(); got != 0 {
		t.Errorf("in flight after the answers: %d; want 0", got)
	}
}

package e2e

// Attacks on the OTLP receiver over real sockets against the binary
// (issue 11, items 4, 7, 9 and 10). Memory is read from the Go runtime's
// go_memstats_sys_bytes (every byte the runtime obtained from the OS; it
// does not shrink, so it bounds the peak): the binary is built with -race,
// whose shadow memory makes VmHWM several times what the service uses.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// arTraces builds an export request of just under size bytes in enc
// ("proto" or "json"): minimal SERVER spans with distinct ids, the most
// spans per byte a sender can pack, which is what costs pairing most.
func arTraces(t *testing.T, size int, enc string, seed uint64) []byte {
	t.Helper()
	marshal := func(td ptrace.Traces) []byte {
		req := ptraceotlp.NewExportRequestFromTraces(td)
		var b []byte
		var err error
		if enc == "json" {
			b, err = req.MarshalJSON()
		} else {
			b, err = req.MarshalProto()
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	build := func(spans int) ptrace.Traces {
		td := ptrace.NewTraces()
		n := seed << 32
		for r := 0; spans > 0; r++ {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r%20))
			ss := rs.ScopeSpans().AppendEmpty().Spans()
			for range min(spans, 200) {
				n++
				s := ss.AppendEmpty()
				var tid [16]byte
				binary.BigEndian.PutUint64(tid[8:], n/4+1)
				var sid [8]byte
				binary.BigEndian.PutUint64(sid[:], n)
				s.SetTraceID(pcommon.TraceID(tid))
				s.SetSpanID(pcommon.SpanID(sid))
				s.SetName("x")
				s.SetKind(ptrace.SpanKindServer)
				s.SetStartTimestamp(pcommon.Timestamp(n))
				s.SetEndTimestamp(pcommon.Timestamp(n + 1000))
			}
			spans -= min(spans, 200)
		}
		return td
	}
	perSpan := float64(len(marshal(build(1000)))) / 1000
	for spans := int(float64(size) / perSpan); ; spans -= spans / 100 {
		if b := marshal(build(spans)); len(b) <= size {
			return b
		}
	}
}

// arSys is go_memstats_sys_bytes of the service.
func arSys(t *testing.T, s *service) float64 {
	t.Helper()
	v, ok := value(s.metrics(t), "go_memstats_sys_bytes")
	if !ok {
		t.Fatal("go_memstats_sys_bytes not exported")
	}
	return v
}

// arRefused is servicegraph_receiver_refused_total{transport, reason}.
func arRefused(t *testing.T, s *service, transport, reason string) float64 {
	t.Helper()
	v, _ := value(s.metrics(t), "servicegraph_receiver_refused_total", "reason="+reason, "transport="+transport)
	return v
}

// arPost posts body to the service's OTLP/HTTP endpoint from any
// goroutine; a transport error comes back as status 0 and its text.
func arPost(ctx context.Context, s *service, contentType string, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.http+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// arGRPC dials the service's OTLP/gRPC endpoint; the connection closes
// with the test.
func arGRPC(t *testing.T, s *service, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(s.grpc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// arSender sends one request: ok when accepted, retry when refused as
// retryable, detail describing the answer.
type arSender struct {
	name string
	send func() (ok, retry bool, detail string)
}

// arRetryPause is how long a refused sender waits before trying again (a
// client's backoff, not a wait for a condition).
const arRetryPause = 20 * time.Millisecond

// TestAttackReceiverMemory (item 7): eight senders of maximal requests at
// once (protobuf and JSON over HTTP, protobuf over gRPC) against a budget
// of two maximal protobuf requests. The excess is refused as retryable
// (429 / Unavailable), every sender gets through by retrying, a JSON body
// that would cost more than the whole budget is refused as too large, and
// the memory the Go runtime obtained grows by less than the budget.
func TestAttackReceiverMemory(t *testing.T) {
	const maxRequest = 2 << 20
	const budget = 2 * 16 * maxRequest // two maximal protobuf requests
	s := start(t, t.TempDir(), "--max-request-bytes", strconv.Itoa(maxRequest), "--max-inflight-bytes", strconv.Itoa(budget))
	protoBody := arTraces(t, maxRequest, "proto", 1)
	jsonBody := arTraces(t, maxRequest, "json", 2)
	if code, body := arPost(ctx(t), s, "application/x-protobuf", arTraces(t, 64<<10, "proto", 3)); code != http.StatusOK {
		t.Fatalf("warm-up: %d %s", code, body)
	}
	sys0 := arSys(t, s)

	type outcome struct {
		refused int
		err     string
	}
	var senders []arSender
	for i := range 3 {
		senders = append(senders, arSender{fmt.Sprintf("http-proto-%d", i), func() (bool, bool, string) {
			code, body := arPost(ctx(t), s, "application/x-protobuf", protoBody)
			return code == http.StatusOK, code == http.StatusTooManyRequests, fmt.Sprintf("%d %.200s", code, body)
		}})
		senders = append(senders, arSender{fmt.Sprintf("http-json-%d", i), func() (bool, bool, string) {
			code, body := arPost(ctx(t), s, "application/json", jsonBody)
			return code == http.StatusOK, code == http.StatusTooManyRequests, fmt.Sprintf("%d %.200s", code, body)
		}})
	}
	cc := arGRPC(t, s)
	for i := range 2 {
		senders = append(senders, arSender{fmt.Sprintf("grpc-proto-%d", i), func() (bool, bool, string) {
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalProto(protoBody); err != nil {
				return false, false, err.Error()
			}
			_, err := ptraceotlp.NewGRPCClient(cc).Export(ctx(t), req)
			return err == nil, status.Code(err) == codes.Unavailable, fmt.Sprint(err)
		}})
	}
	outcomes := make([]outcome, len(senders))
	var wg sync.WaitGroup
	for i, sd := range senders {
		wg.Go(func() {
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				ok, retry, detail := sd.send()
				if ok {
					return
				}
				if !retry {
					outcomes[i].err = detail
					return
				}
				outcomes[i].refused++
				<-time.After(arRetryPause)
			}
			outcomes[i].err = "still refused after 60s"
		})
	}
	wg.Wait()
	httpRefused, grpcRefused := 0, 0
	for i, o := range outcomes {
		if o.err != "" {
			t.Errorf("%s: %s", senders[i].name, o.err)
		}
		if strings.HasPrefix(senders[i].name, "grpc") {
			grpcRefused += o.refused
		} else {
			httpRefused += o.refused
		}
	}
	if httpRefused+grpcRefused == 0 {
		t.Error("no request was refused: the budget never filled")
	}
	if got := arRefused(t, s, "http", "overloaded"); got != float64(httpRefused) {
		t.Errorf(`refused{http,overloaded} = %v, want %d (the 429s the senders saw)`, got, httpRefused)
	}
	if got := arRefused(t, s, "grpc", "overloaded"); got != float64(grpcRefused) {
		t.Errorf(`refused{grpc,overloaded} = %v, want %d (the Unavailable the senders saw)`, got, grpcRefused)
	}
	grown := arSys(t, s) - sys0
	t.Logf("%d HTTP and %d gRPC refusals; Go runtime memory grew by %.1f MiB (budget %d MiB)", httpRefused, grpcRefused, grown/(1<<20), budget>>20)
	if grown > budget {
		t.Errorf("go_memstats_sys_bytes grew by %.0f bytes, more than max_inflight_bytes %d", grown, budget)
	}

	// A JSON body of empty objects costs ~160 B per 3 bytes: more than the
	// whole budget, so it is refused for good, before pdata decodes it.
	var costly bytes.Buffer
	costly.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[{}`)
	for costly.Len() < maxRequest-16 {
		costly.WriteString(`,{}`)
	}
	costly.WriteString(`]}]}]}`)
	if code, body := arPost(ctx(t), s, "application/json", costly.Bytes()); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "more memory than max_inflight_bytes") {
		t.Errorf("JSON of empty objects: %d %.300s, want 413 naming max_inflight_bytes", code, body)
	}
	if got := arRefused(t, s, "http", "too_large"); got != 1 {
		t.Errorf("refused{http,too_large} = %v, want 1", got)
	}
	eventually(t, 10*time.Second, "the budget to be free again", func() bool {
		v, _ := value(s.metrics(t), "servicegraph_receiver_inflight_bytes")
		return v == 0
	})
}

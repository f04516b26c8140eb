package receiver_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// slowBody sends an OTLP/HTTP request's headers declaring a body of
// length bytes, then sent bytes of it, then nothing: its answer (status
// code, or 0 when the connection ended without one) arrives on the
// returned channel.
func slowBody(t *testing.T, addr net.Addr, length, sent int) <-chan int {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	head := fmt.Sprintf("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", length)
	if _, err := io.WriteString(conn, head+string(make([]byte, sent))); err != nil {
		t.Fatal(err)
	}
	answer := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answer <- 0
			return
		}
		resp.Body.Close()
		answer <- resp.StatusCode
	}()
	return answer
}

// TestSlowBodies: bodies that stall hold no concurrency slot and only
// the budget for what they sent; a normal export goes through meanwhile,
// and each stalled body is refused after read_timeout as a timeout.
func TestSlowBodies(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConcurrentRequests = 2
	cfg.ReadTimeout = time.Second
	r, reg := start(t, cfg, &recorder{})
	var answers []<-chan int
	for range 5 {
		answers = append(answers, slowBody(t, r.HTTPAddr(), 1000, 10))
	}
	// Each reserves twice its first buffer: 1,001 bytes (the declared
	// length and one for the end).
	waitMetric(t, reg, 5*2*1001, "servicegraph_receiver_inflight_bytes")
	if got := metricSum(t, reg, "servicegraph_receiver_inflight_requests"); got != 0 {
		t.Errorf("stalled bodies hold %v concurrency slots, want 0", got)
	}
	resp := post(t, httpClient(t, nil), http.MethodPost, tracesURL(r.HTTPAddr()), map[string]string{"Content-Type": ctProto}, mustProto(t, sampleTraces()))
	if resp.status != http.StatusOK {
		t.Fatalf("normal export while 5 bodies stall: %d %s", resp.status, resp.body)
	}
	for i, a := range answers {
		select {
		case code := <-a:
			if code != http.StatusServiceUnavailable {
				t.Errorf("stalled body %d answered %d, want 503", i, code)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("stalled body %d not answered after 15s", i)
		}
	}
	if got := metricSum(t, reg, "servicegraph_receiver_refused_total", "transport", "http", "reason", "timeout"); got != 5 {
		t.Errorf("refused{http,timeout} = %v, want 5", got)
	}
	if got := metricSum(t, reg, "servicegraph_receiver_refused_total", "transport", "http", "reason", "bad_request"); got != 0 {
		t.Errorf("refused{http,bad_request} = %v, want 0", got)
	}
	waitMetric(t, reg, 0, "servicegraph_receiver_inflight_bytes")
}

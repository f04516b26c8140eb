package receiver_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// partialCalls starts n OTLP/gRPC Export calls over HTTP/2 cleartext, one
// connection each, each declaring a message of size bytes and sending all
// of it but the last byte, then nothing more until the test ends. Each
// call's answer arrives on the returned channel: its grpc-status, or -1
// when the stream ended without one.
func partialCalls(t *testing.T, addr net.Addr, token string, n, size int) <-chan int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	answers := make(chan int, n)
	var transports []*http.Transport
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, tr := range transports {
			tr.CloseIdleConnections()
		}
	})
	for range n {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as gRPC speaks
		transports = append(transports, tr)
		pr, pw := io.Pipe()
		wg.Go(func() {
			prefix := make([]byte, 5)
			binary.BigEndian.PutUint32(prefix[1:], uint32(size))
			if _, err := pw.Write(append(prefix, make([]byte, size-1)...)); err != nil {
				return
			}
			<-ctx.Done()
			pw.CloseWithError(ctx.Err())
		})
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
				"http://"+addr.String()+"/opentelemetry.proto.collector.trace.v1.TraceService/Export", pr)
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("TE", "trailers")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				answers <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code := resp.Header.Get("Grpc-Status")
			if code == "" {
				code = resp.Trailer.Get("Grpc-Status")
			}
			if c, err := strconv.Atoi(code); err == nil {
				answers <- c
			} else {
				answers <- -1
			}
		})
	}
	return answers
}

// serverMaxStreams reads the SETTINGS_MAX_CONCURRENT_STREAMS the gRPC
// server announces on a new connection (0: not announced).
func serverMaxStreams(t *testing.T, addr net.Addr) uint32 {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read server SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			v, _ := sf.Value(http2.SettingMaxConcurrentStreams)
			return v
		}
	}
}

// collect reads n answers, failing the test after 15 s.
func collect(t *testing.T, answers <-chan int, n int) map[int]int {
	t.Helper()
	got := map[int]int{}
	timeout := time.After(15 * time.Second)
	for range n {
		select {
		case c := <-answers:
			got[c]++
		case <-timeout:
			t.Fatalf("%d answers after 15s, want %d: %v", len(got), n, got)
		}
	}
	return got
}

// TestGRPCAdmission: over OTLP/gRPC, the token and the memory budget are
// checked from a call's headers, before its message is read; an admitted
// call reserves twice max_request_bytes until its message arrives, and one whose
// message does not arrive within read_timeout is cancelled and counted as
// a timeout. A normal export succeeds meanwhile. The server announces
// max_streams_per_connection.
func TestGRPCAdmission(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 64 << 10
	cfg.MaxInflightBytes = 16 * cfg.MaxRequestBytes
	cfg.MaxStreamsPerConnection = 3
	cfg.ReadTimeout = time.Second
	cfg.Auth.BearerTokenFile = writeTokens(t, "tok\n")
	r, reg := start(t, cfg, &recorder{})

	if got := serverMaxStreams(t, r.GRPCAddr()); got != 3 {
		t.Errorf("server announces %d concurrent streams per connection, want 3", got)
	}

	// 20 calls without a token: refused at once, nothing reserved.
	if got := collect(t, partialCalls(t, r.GRPCAddr(), "", 20, 60<<10), 20); got[int(codes.Unauthenticated)] != 20 {
		t.Fatalf("unauthenticated calls answered %v, want 20 × Unauthenticated", got)
	}
	if got := metricSum(t, reg, "servicegraph_receiver_refused_total", "transport", "grpc", "reason", "unauthenticated"); got != 20 {
		t.Errorf("refused{grpc,unauthenticated} = %v, want 20", got)
	}

	// 5 calls with a token: each reserves twice max_request_bytes while
	// its message is incomplete.
	held := partialCalls(t, r.GRPCAddr(), "tok", 5, 60<<10)
	waitMetric(t, reg, float64(5*2*cfg.MaxRequestBytes), "servicegraph_receiver_inflight_bytes")

	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer tok")
	if _, err := grpcClient(t, r.GRPCAddr()).Export(ctx, ptraceotlp.NewExportRequestFromTraces(sampleTraces())); err != nil {
		t.Fatalf("normal export while calls are held: %v", err)
	}

	// Each stalled message is cancelled after read_timeout.
	if got := collect(t, held, 5); got[int(codes.Canceled)]+got[-1] != 5 {
		t.Errorf("stalled calls answered %v, want 5 cancelled", got)
	}
	waitMetric(t, reg, 5, "servicegraph_receiver_refused_total", "transport", "grpc", "reason", "timeout")
	waitMetric(t, reg, 0, "servicegraph_receiver_inflight_bytes")
}

// TestGRPCAdmissionBudget: calls are admitted while the budget holds twice
// their max_request_bytes; the next is refused from its headers as
// retryable.
func TestGRPCAdmissionBudget(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 64 << 10
	cfg.MaxInflightBytes = 16 * cfg.MaxRequestBytes
	r, reg := start(t, cfg, &recorder{})

	answers := partialCalls(t, r.GRPCAddr(), "", 8, 60<<10)
	waitMetric(t, reg, float64(cfg.MaxInflightBytes), "servicegraph_receiver_inflight_bytes")
	if got := collect(t, partialCalls(t, r.GRPCAddr(), "", 1, 60<<10), 1); got[int(codes.Unavailable)] != 1 {
		t.Fatalf("9th call answered %v, want Unavailable", got)
	}
	if got := metricSum(t, reg, "servicegraph_receiver_refused_total", "transport", "grpc", "reason", "overloaded"); got != 1 {
		t.Errorf("refused{grpc,overloaded} = %v, want 1", got)
	}
	select {
	case c := <-answers:
		t.Errorf("an admitted call was answered %d while its message is incomplete", c)
	default:
	}
}

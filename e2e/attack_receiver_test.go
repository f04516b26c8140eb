package e2e

// Attacks on the OTLP receiver over real sockets against the binary
// (issue 11, items 4, 7, 9 and 10). Memory is read from the Go runtime's
// go_memstats_sys_bytes (every byte the runtime obtained from the OS; it
// does not shrink, so it bounds the peak): the binary is built with -race,
// whose shadow memory makes VmHWM several times what the service uses.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/servicegraph/servicegraph/internal/netlimit"
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

// arLiveHeaps is the heap live after each collection, in MiB, from the
// collector's trace in log (GODEBUG=gctrace=1: "gc N @T P%: ... ms cpu,
// A->B->C MB, G MB goal, ...", C live after marking).
func arLiveHeaps(log string) []int {
	var live []int
	for line := range strings.Lines(log) {
		if !strings.HasPrefix(line, "gc ") {
			continue
		}
		_, rest, ok := strings.Cut(line, " ms cpu, ")
		heap, _, ok2 := strings.Cut(rest, " MB, ")
		sizes := strings.Split(heap, "->")
		if !ok || !ok2 || len(sizes) != 3 {
			continue
		}
		if n, err := strconv.Atoi(sizes[2]); err == nil {
			live = append(live, n)
		}
	}
	return live
}

func TestARLiveHeaps(t *testing.T) {
	log := `{"level":"INFO","msg":"servicegraph started"}
gc 11 @5.744s 2%: 16+128+0.075 ms clock, 32+0/31/0+0.15 ms cpu, 57->57->36 MB, 63 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 12 @7.902s 2%: 31+95+0.17 ms clock, 62+0.18/36/0+0.35 ms cpu, 64->64->18 MB, 73 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
gc 13 @8.770s 2%: cut short
`
	if got, want := arLiveHeaps(log), []int{36, 18}; !slices.Equal(got, want) {
		t.Errorf("arLiveHeaps = %v, want %v", got, want)
	}
}

// TestAttackReceiverMemory (item 7): eight senders of maximal requests at
// once (protobuf and JSON over HTTP, protobuf over gRPC) against a budget
// of two maximal protobuf requests, at the default GOGC. The excess is
// refused as retryable (429 / Unavailable), every sender gets through by
// retrying, a JSON body that would cost more than the whole budget is
// refused as too large, the heap live after each collection grows by at
// most the budget over the idle one, and the memory the Go runtime
// obtained by at most twice the budget: the collector lets the heap grow
// to twice what was live at its last run (GOGC=100) before it runs again.
func TestAttackReceiverMemory(t *testing.T) {
	const maxRequest = 2 << 20
	const budget = 2 * 16 * maxRequest // two maximal protobuf requests
	t.Setenv("GODEBUG", "gctrace=1")   // the live heaps, on the service's stderr
	s := start(t, t.TempDir(), "--max-request-bytes", strconv.Itoa(maxRequest), "--max-inflight-bytes", strconv.Itoa(budget))
	protoBody := arTraces(t, maxRequest, "proto", 1)
	jsonBody := arTraces(t, maxRequest, "json", 2)
	if code, body := arPost(ctx(t), s, "application/x-protobuf", arTraces(t, 64<<10, "proto", 3)); code != http.StatusOK {
		t.Fatalf("warm-up: %d %s", code, body)
	}
	sys0 := arSys(t, s)
	idle := arLiveHeaps(s.logs()) // the service has collected at start
	if len(idle) == 0 {
		t.Fatal("no gctrace line in the service's log")
	}
	live0, logAt := idle[len(idle)-1], len(s.logs())

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
	live := arLiveHeaps(s.logs()[logAt:])
	if len(live) == 0 {
		t.Fatal("the service did not collect while the senders ran")
	}
	liveMax := slices.Max(live)
	grown := arSys(t, s) - sys0
	t.Logf("%d HTTP and %d gRPC refusals; %d collections, live heap %d → at most %d MiB; Go runtime memory grew by %.1f MiB (budget %d MiB)",
		httpRefused, grpcRefused, len(live), live0, liveMax, grown/(1<<20), budget>>20)
	if liveMax-live0 > budget>>20 {
		t.Errorf("the live heap grew from %d to %d MiB, more than max_inflight_bytes (%d MiB)", live0, liveMax, budget>>20)
	}
	if grown > 2*budget {
		t.Errorf("go_memstats_sys_bytes grew by %.0f bytes, more than twice max_inflight_bytes %d", grown, budget)
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

// arCalls are OTLP/gRPC Export calls that each send all of a message but
// its last byte, then stall until stop (or the test's end).
type arCalls struct {
	answers chan int // each call's grpc-status; -1 when it ended without one
	stop    func()
}

// arPartialCalls starts n such calls of size-byte messages over HTTP/2
// cleartext with token ("" for none), one connection each, through Go's
// HTTP/2 client.
func arPartialCalls(t *testing.T, s *service, token string, n, size int) *arCalls {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var transports []*http.Transport
	c := &arCalls{answers: make(chan int, n)}
	var once sync.Once
	c.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			for _, tr := range transports {
				tr.CloseIdleConnections()
			}
		})
	}
	t.Cleanup(c.stop)
	msg := make([]byte, 5+size-1)
	binary.BigEndian.PutUint32(msg[1:5], uint32(size))
	for range n {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as gRPC speaks
		transports = append(transports, tr)
		pr, pw := io.Pipe()
		wg.Go(func() {
			if _, err := pw.Write(msg); err == nil {
				<-ctx.Done()
			}
			pw.CloseWithError(context.Canceled)
		})
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.grpc+arExportPath, pr)
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("TE", "trailers")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				c.answers <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code := resp.Header.Get("Grpc-Status")
			if code == "" {
				code = resp.Trailer.Get("Grpc-Status")
			}
			if v, err := strconv.Atoi(code); err == nil {
				c.answers <- v
			} else {
				c.answers <- -1
			}
		})
	}
	return c
}

const arExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// arCollect reads n answers, failing the test after 30 s.
func arCollect(t *testing.T, c *arCalls, n int) map[int]int {
	t.Helper()
	got := map[int]int{}
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case v := <-c.answers:
			got[v]++
		case <-timeout:
			t.Fatalf("%d answers after 30s, want %d: %v", i, n, got)
		}
	}
	return got
}

// arH2 is one HTTP/2 connection written frame by frame, as an attacker
// would: it opens streams without waiting for the server's limit, and
// sends DATA as the flow-control windows allow.
type arH2 struct {
	conn net.Conn
	fr   *http2.Framer

	wmu sync.Mutex // guards writing frames

	mu      sync.Mutex // guards the fields below
	cond    *sync.Cond
	connWin int64
	initWin int64
	win     map[uint32]int64
	ended   map[uint32]string // stream → "status N" or "reset CODE"
	err     error
}

// arDialH2 connects to addr and exchanges the connection preface.
func arDialH2(t *testing.T, addr string) *arH2 {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &arH2{conn: conn, fr: http2.NewFramer(conn, conn), connWin: 65535, initWin: 65535,
		win: map[uint32]int64{}, ended: map[uint32]string{}}
	h.cond = sync.NewCond(&h.mu)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go h.read()
	t.Cleanup(func() { _ = conn.Close() })
	return h
}

func (h *arH2) read() {
	for {
		f, err := h.fr.ReadFrame()
		h.mu.Lock()
		if err != nil {
			h.err = err
			h.cond.Broadcast()
			h.mu.Unlock()
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
					for id := range h.win {
						h.win[id] += int64(v) - h.initWin
					}
					h.initWin = int64(v)
				}
				h.write(func() error { return h.fr.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				h.write(func() error { return h.fr.WritePing(true, f.Data) })
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				h.connWin += int64(f.Increment)
			} else {
				h.win[f.StreamID] += int64(f.Increment)
			}
		case *http2.MetaHeadersFrame:
			if v := f.PseudoValue("status"); v != "" || f.StreamEnded() {
				for _, hf := range f.Fields {
					if hf.Name == "grpc-status" {
						h.ended[f.StreamID] = "status " + hf.Value
					}
				}
			}
		case *http2.RSTStreamFrame:
			if _, ok := h.ended[f.StreamID]; !ok {
				h.ended[f.StreamID] = "reset " + f.ErrCode.String()
			}
		}
		h.cond.Broadcast()
		h.mu.Unlock()
	}
}

// write writes one frame; errors end the connection (seen by read).
func (h *arH2) write(fn func() error) {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	_ = fn()
}

// open starts n Export calls with token ("" for none), each declaring a
// message of size bytes and sending all of it but the last byte as the
// windows allow. It returns at once.
func (h *arH2) open(n, size int, token, authority string) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := range n {
		id := uint32(2*i + 1)
		buf.Reset()
		for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", arExportPath},
			{":authority", authority}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
			_ = enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		if token != "" {
			_ = enc.WriteField(hpack.HeaderField{Name: "authorization", Value: "Bearer " + token})
		}
		block := bytes.Clone(buf.Bytes())
		h.mu.Lock()
		h.win[id] = h.initWin
		h.mu.Unlock()
		h.write(func() error {
			return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true})
		})
		go h.send(id, size)
	}
}

// send writes the 5-byte gRPC prefix and size-1 bytes of stream id.
func (h *arH2) send(id uint32, size int) {
	data := make([]byte, 5+size-1)
	binary.BigEndian.PutUint32(data[1:5], uint32(size))
	for len(data) > 0 {
		h.mu.Lock()
		for h.err == nil && h.ended[id] == "" && (h.connWin <= 0 || h.win[id] <= 0) {
			h.cond.Wait()
		}
		if h.err != nil || h.ended[id] != "" {
			h.mu.Unlock()
			return
		}
		k := min(int64(len(data)), h.connWin, h.win[id], 16384)
		h.connWin -= k
		h.win[id] -= k
		h.mu.Unlock()
		chunk := data[:k]
		h.write(func() error { return h.fr.WriteData(id, false, chunk) })
		data = data[k:]
	}
}

// outcomes counts how the streams ended so far ("status N", "reset CODE").
func (h *arH2) outcomes() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, v := range h.ended {
		out[v]++
	}
	return out
}

// arGauge is a gauge of the service without labels.
func arGauge(t *testing.T, s *service, name string) float64 {
	t.Helper()
	v, _ := value(s.metrics(t), name)
	return v
}

// TestAttackReceiverGRPCStreams (item 4): calls that send all of a 1 MiB
// message but its last byte, opened 300 at once on one HTTP/2 connection
// written frame by frame. Without a token all 300 are refused from their
// headers; with one, --otlp-max-streams-per-connection (4) are admitted,
// each holding its reservation of twice --max-request-bytes, the other 296 are
// refused by HTTP/2 (REFUSED_STREAM), and a normal export from another
// client succeeds meanwhile. Spread over 40 more connections the calls fill
// the budget and the excess is refused as retryable. The Go runtime's
// memory grows by at most the budget and the connections' own memory.
func TestAttackReceiverGRPCStreams(t *testing.T) {
	const maxRequest = 1 << 20
	const budget = 32 * maxRequest
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, t.TempDir(), "--ingest-token-file", tokens, "--max-request-bytes", strconv.Itoa(maxRequest),
		"--max-inflight-bytes", strconv.Itoa(budget), "--otlp-max-streams-per-connection", "4", "--otlp-read-timeout", "60s")
	client := ptraceotlp.NewGRPCClient(arGRPC(t, s))
	authed := metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer tok")
	normal := ptraceotlp.NewExportRequest()
	if err := normal.UnmarshalProto(arTraces(t, 64<<10, "proto", 5)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Export(authed, normal); err != nil {
		t.Fatalf("warm-up export: %v", err)
	}
	sys0 := arSys(t, s)

	// Without a token: every call refused from its headers.
	anon := arDialH2(t, s.grpc)
	anon.open(300, maxRequest, "", s.grpc)
	eventually(t, 20*time.Second, "300 calls without a token to be refused", func() bool {
		return anon.outcomes()["status 16"] == 300 // Unauthenticated
	})
	if got := arRefused(t, s, "grpc", "unauthenticated"); got != 300 {
		t.Errorf("refused{grpc,unauthenticated} = %v, want 300", got)
	}

	// With a token: 4 admitted, reserving 8 MiB; HTTP/2 refuses the rest.
	one := arDialH2(t, s.grpc)
	one.open(300, maxRequest, "tok", s.grpc)
	eventually(t, 20*time.Second, "4 admitted calls reserving 8 MiB and 296 refused streams", func() bool {
		return arGauge(t, s, "servicegraph_receiver_inflight_bytes") == 4*2*maxRequest &&
			one.outcomes()["reset REFUSED_STREAM"] == 296
	})
	if _, err := client.Export(authed, normal); err != nil {
		t.Errorf("normal export while one connection holds stalled calls: %v", err)
	}
	grownOne := arSys(t, s) - sys0

	// Over 40 more connections: 12 more fit the budget; 28 are refused as
	// retryable from their headers.
	many := arPartialCalls(t, s, "tok", 40, maxRequest)
	if got := arCollect(t, many, 28); got[int(codes.Unavailable)] != 28 {
		t.Errorf("calls past the budget answered %v, want 28 × Unavailable", got)
	}
	eventually(t, 20*time.Second, "the budget to be full", func() bool {
		return arGauge(t, s, "servicegraph_receiver_inflight_bytes") == budget
	})
	if got := arRefused(t, s, "grpc", "overloaded"); got != 28 {
		t.Errorf("refused{grpc,overloaded} = %v, want 28", got)
	}
	grown := arSys(t, s) - sys0
	const perConn = 64 << 10 // allowance per connection (measured: ~20 KB)
	t.Logf("Go runtime memory grew by %.1f MiB with one connection's 300 stalled calls, %.1f MiB with 43 connections (budget %d MiB)",
		grownOne/(1<<20), grown/(1<<20), budget>>20)
	if grownOne > budget {
		t.Errorf("one connection's calls grew go_memstats_sys_bytes by %.0f bytes, more than the budget", grownOne)
	}
	if limit := float64(budget + 43*perConn); grown > limit {
		t.Errorf("go_memstats_sys_bytes grew by %.0f bytes, more than the budget and 43 connections (%.0f)", grown, limit)
	}
	_ = one.conn.Close()
	many.stop()
	eventually(t, 20*time.Second, "the budget to be free again", func() bool {
		return arGauge(t, s, "servicegraph_receiver_inflight_bytes") == 0
	})
	if _, err := client.Export(authed, normal); err != nil {
		t.Errorf("normal export after the attack: %v", err)
	}
}

// arSlowBody sends an OTLP/HTTP request declaring a body of length bytes
// and then sends one byte every pause until answered: the answer's status
// code (0 when the connection ended without one) arrives on the channel.
func arSlowBody(t *testing.T, s *service, length int, pause time.Duration) <-chan int {
	t.Helper()
	conn, err := net.Dial("tcp", s.http)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	head := fmt.Sprintf("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", length)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	answer := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answer <- 0
			return
		}
		resp.Body.Close()
		answer <- resp.StatusCode
	}()
	go func() {
		tick := time.NewTicker(pause)
		defer tick.Stop()
		for range length {
			if _, err := conn.Write([]byte{0}); err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return answer
}

// TestAttackReceiverSlowBodies (item 9): 70 clients send their bodies at
// one byte every half second, and 10 gRPC calls stall before their last
// byte. None of them takes a concurrency slot (64) or more budget than it
// sent; normal HTTP and gRPC exports succeed meanwhile; every slow request
// is refused after --otlp-read-timeout, counted as timeout.
func TestAttackReceiverSlowBodies(t *testing.T) {
	const maxRequest = 1 << 20
	s := start(t, t.TempDir(), "--otlp-read-timeout", "3s", "--max-request-bytes", strconv.Itoa(maxRequest),
		"--max-inflight-bytes", strconv.Itoa(64*maxRequest))
	var slow []<-chan int
	for range 70 {
		slow = append(slow, arSlowBody(t, s, 100_000, 500*time.Millisecond))
	}
	calls := arPartialCalls(t, s, "", 10, 64<<10)
	// Each slow body reserves twice its first 64 KiB buffer; each gRPC call
	// twice --max-request-bytes.
	const reserved = 70*2*64<<10 + 10*2*maxRequest
	eventually(t, 20*time.Second, "all slow requests to be in", func() bool {
		return arGauge(t, s, "servicegraph_receiver_inflight_bytes") == reserved
	})
	if code, body := arPost(ctx(t), s, "application/x-protobuf", arTraces(t, 16<<10, "proto", 7)); code != http.StatusOK {
		t.Errorf("normal HTTP export among slow bodies: %d %s", code, body)
	}
	normal := ptraceotlp.NewExportRequest()
	if err := normal.UnmarshalProto(arTraces(t, 16<<10, "proto", 8)); err != nil {
		t.Fatal(err)
	}
	if _, err := ptraceotlp.NewGRPCClient(arGRPC(t, s)).Export(ctx(t), normal); err != nil {
		t.Errorf("normal gRPC export among slow bodies: %v", err)
	}

	statuses := map[int]int{}
	for _, a := range slow {
		select {
		case code := <-a:
			statuses[code]++
		case <-time.After(30 * time.Second):
			t.Fatalf("slow bodies not answered after 30s: %v", statuses)
		}
	}
	if statuses[http.StatusServiceUnavailable] != 70 {
		t.Errorf("slow bodies answered %v, want 70 × 503", statuses)
	}
	if got := arCollect(t, calls, 10); got[int(codes.Canceled)]+got[-1] != 10 {
		t.Errorf("stalled gRPC calls answered %v, want 10 cancelled", got)
	}
	for _, tt := range []struct {
		transport, reason string
		want              float64
	}{{"http", "timeout", 70}, {"grpc", "timeout", 10}, {"http", "bad_request", 0}, {"http", "overloaded", 0}} {
		if got := arRefused(t, s, tt.transport, tt.reason); got != tt.want {
			t.Errorf("refused{%s,%s} = %v, want %v", tt.transport, tt.reason, got, tt.want)
		}
	}
	eventually(t, 20*time.Second, "the budget to be free again", func() bool {
		return arGauge(t, s, "servicegraph_receiver_inflight_bytes") == 0
	})
}

// arConnServed reports whether the service answers on c: an HTTP
// response, or the gRPC server's first frame; false when c ends first.
func arConnServed(c net.Conn, transport string) bool {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if transport == "http" {
		if _, err := io.WriteString(c, "GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return false
	}
	_, err := http2.NewFramer(io.Discard, c).ReadFrame()
	return err == nil
}

// arOpenFiles counts the service's open file descriptors.
func arOpenFiles(t *testing.T, s *service) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestAttackReceiverConnections (item 10): with --otlp-max-connections 50
// and the service's open-file limit lowered to 400 (50 × 2 + the reserve
// of 256 fit), 80 idle connections to each OTLP listener, then 300 more to
// each: 50 per listener are kept and served, every other one is closed at
// once and counted, the service's descriptors stay far below the limit,
// /-/healthy answers and saves succeed. A cap that cannot fit the limit
// stops the service at start.
func TestAttackReceiverConnections(t *testing.T) {
	out, err := exec.CommandContext(ctx(t), sgBin, "serve", "--otlp-grpc-addr", "127.0.0.1:0", "--otlp-http-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--otlp-max-connections", "100000000").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "open-file limit (RLIMIT_NOFILE)") {
		t.Errorf("caps past the open-file limit: err %v, output %.500s; want a refusal naming the limit", err, out)
	}

	s := start(t, t.TempDir(), "--otlp-max-connections", "50", "--save-interval", "1s")
	if out, err := exec.CommandContext(ctx(t), "prlimit", "--pid", strconv.Itoa(s.cmd.Process.Pid), "--nofile=400:400").CombinedOutput(); err != nil {
		t.Skipf("cannot lower the service's open-file limit: %v %s", err, out)
	}
	dial := func(addr string, n int) []net.Conn {
		var conns []net.Conn
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			t.Cleanup(func() { _ = c.Close() })
			conns = append(conns, c)
		}
		return conns
	}
	for _, tt := range []struct {
		transport, addr string
	}{{"grpc", s.grpc}, {"http", s.http}} {
		conns := dial(tt.addr, 80)
		eventually(t, 20*time.Second, tt.transport+": 30 connections refused", func() bool {
			return arRefused(t, s, tt.transport, "too_many_connections") == 30
		})
		served := 0
		for _, c := range conns {
			if arConnServed(c, tt.transport) {
				served++
			}
		}
		if served != 50 {
			t.Errorf("%s: %d of 80 connections served, want 50", tt.transport, served)
		}
		if v, _ := value(s.metrics(t), "servicegraph_receiver_connections", "transport="+tt.transport); v != 50 {
			t.Errorf("connections{%s} = %v, want 50", tt.transport, v)
		}
	}
	// 300 more on each: all closed at once; the descriptors stay bounded.
	dial(s.grpc, 300)
	dial(s.http, 300)
	eventually(t, 30*time.Second, "330 connections refused on each listener", func() bool {
		return arRefused(t, s, "grpc", "too_many_connections") == 330 && arRefused(t, s, "http", "too_many_connections") == 330
	})
	n := arOpenFiles(t, s)
	t.Logf("after 760 connections: %d descriptors open", n)
	if n > 2*50+netlimit.Reserve {
		t.Errorf("the service holds %d descriptors, more than its caps and reserve (%d)", n, 2*50+netlimit.Reserve)
	}
	if code, body := s.get(t, "/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy with both OTLP listeners at their cap: %d %s", code, body)
	}
	saved := func() float64 {
		v, _ := value(s.metrics(t), "servicegraph_state_saves_total", "result=ok")
		return v
	}
	before := saved()
	eventually(t, 20*time.Second, "a save to succeed at the cap", func() bool { return saved() > before })
	if v, _ := value(s.metrics(t), "servicegraph_state_saves_total", "result=error"); v != 0 {
		t.Errorf("saves failed at the cap: %v", v)
	}
}

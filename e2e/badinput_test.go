package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func postTraces(t *testing.T, s *service, contentType string, body []byte, gz bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.http+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// span JSON: service "" means no service.name attribute.
func spanJSON(service, traceID, spanID string, start, end uint64) []byte {
	res := `{}`
	if service != "" {
		res = fmt.Sprintf(`{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]}`, service)
	}
	return []byte(fmt.Sprintf(`{"resourceSpans":[{"resource":%s,"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"name":"op","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`,
		res, traceID, spanID, start, end))
}

func protoWithService(t *testing.T, name string) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", name)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID([16]byte{1, 2, 3})
	sp.SetSpanID([8]byte{byte(len(name)), 2})
	sp.SetKind(ptrace.SpanKindServer)
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInput sends every kind of bad input to the binary over OTLP/HTTP
// and checks the answer, the counters and that the service keeps serving.
func TestBadInput(t *testing.T) {
	s := start(t, t.TempDir())
	now := uint64(time.Now().UnixNano())
	var bomb bytes.Buffer
	// BestSpeed: 1.2 s in the race-built test (81 KB) where the default
	// level took 6.5 s (65 KB).
	zw, err := gzip.NewWriterLevel(&bomb, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 1<<20)
	for range 64 { // 64 MiB of zeros, over the 16 MiB limit once inflated
		zw.Write(zero)
	}
	zw.Close()
	longName := strings.Repeat("x", 100_000)
	tests := []struct {
		name     string
		ctype    string
		body     []byte
		gz       bool
		wantCode int
		wantBody string
	}{
		{"missing service.name", "application/json", spanJSON("", "0102030405060708090a0b0c0d0e0f10", "0102030405060708", now, now+1e6), false, 200, ""},
		{"zero trace id", "application/json", spanJSON("zeroes", "00000000000000000000000000000000", "0102030405060709", now, now+1e6), false, 200, "all-zero trace or span id"},
		{"end before start", "application/json", spanJSON("backwards", "0102030405060708090a0b0c0d0e0f11", "010203040506070a", now, now-1e9), false, 200, ""},
		{"decades away", "application/json", spanJSON("time-traveller", "0102030405060708090a0b0c0d0e0f12", "010203040506070b", 1, now+100*365*24*3600*1e9), false, 200, ""},
		{"short trace id", "application/json", spanJSON("short", "0102", "010203040506070c", now, now), false, 400, ""},
		{"malformed json", "application/json", []byte(`{"resourceSpans": [`), false, 400, ""},
		{"malformed protobuf", "application/x-protobuf", []byte{0x0a, 0xff, 0xff, 0xff}, false, 400, ""},
		{"wrong content type", "text/plain", []byte("hello"), false, 415, ""},
		{"gzip bomb", "application/x-protobuf", bomb.Bytes(), true, 413, ""},
		{"non-UTF-8 service name", "application/x-protobuf", protoWithService(t, "bad\xff\xfename"), false, 200, ""},
		{"100k-character service name", "application/x-protobuf", protoWithService(t, longName), false, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postTraces(t, s, tc.ctype, tc.body, tc.gz)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("status %d body %q, want %d containing %q", code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
	fams := s.metrics(t)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"servicegraph_spans_rejected_total", []string{"reason=invalid_id"}, 1},
		{"servicegraph_spans_sanitised_total", []string{"reason=end_before_start"}, 1},
		{"traces_service_graph_request_total", edgeLabels("user", "unknown_service", "virtual_node"), 1},
		{"traces_service_graph_request_total", edgeLabels("user", "bad\uFFFDname", "virtual_node"), 1},
		{"traces_service_graph_request_total", edgeLabels("user", strings.Repeat("x", 256), "virtual_node"), 1},
		{"traces_service_graph_request_total", edgeLabels("user", "time-traveller", "virtual_node"), 1},
		{"servicegraph_receiver_refused_total", []string{"reason=too_large", "transport=http"}, 1},
		{"servicegraph_receiver_refused_total", []string{"reason=unsupported_media_type", "transport=http"}, 1},
		{"servicegraph_receiver_refused_total", []string{"reason=bad_request", "transport=http"}, 3},
	}
	for _, c := range checks {
		if v, ok := value(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %g (present %v), want %g", c.name, c.labels, v, ok, c.want)
		}
	}
	if code, _ := s.get(t, "/-/ready"); code != 200 {
		t.Fatalf("not ready after bad input: %d", code)
	}
}

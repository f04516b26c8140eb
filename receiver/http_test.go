package receiver_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/servicegraph/servicegraph/consumer"
)

const (
	ctProto = "application/x-protobuf"
	ctJSON  = "application/json"
)

// manySpans returns n spans of one service, about 100 bytes each encoded.
func manySpans(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bulk")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetName(fmt.Sprintf("span-%06d-%s", i, strings.Repeat("x", 80)))
	}
	return td
}

func TestHTTP(t *testing.T) {
	big := manySpans(100) // ~10 KB encoded
	tests := []struct {
		name     string
		consumer error // what the consumer answers
		limit    int64 // max_request_bytes; 0: default
		method   string
		path     string
		header   map[string]string
		body     func(t testing.TB) []byte

		wantStatus     int
		wantSpans      []got  // received by the consumer (nil: none)
		wantRejected   int64  // partial_success.rejected_spans
		wantPartialMsg string // partial_success.error_message
		wantErrCode    codes.Code
		wantErrHas     string            // in Status.message
		wantHeader     map[string]string // response headers
	}{
		{
			name:       "protobuf",
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
		},
		{
			name:       "json",
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
		},
		{
			name:       "json with charset parameter",
			header:     map[string]string{"Content-Type": "Application/JSON; charset=utf-8"},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
		},
		{
			name:       "gzip protobuf",
			header:     map[string]string{"Content-Type": ctProto, "Content-Encoding": "gzip"},
			body:       func(t testing.TB) []byte { return gzipped(t, mustProto(t, sampleTraces())) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
		},
		{
			name:       "gzip json",
			header:     map[string]string{"Content-Type": ctJSON, "Content-Encoding": "gzip"},
			body:       func(t testing.TB) []byte { return gzipped(t, mustJSON(t, sampleTraces())) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
		},
		{
			name:       "empty request is a success",
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(testing.TB) []byte { return nil },
			wantStatus: http.StatusOK, wantSpans: []got{},
		},
		{
			name:       "malformed protobuf",
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(testing.TB) []byte { return []byte{0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01} },
			wantStatus: http.StatusBadRequest, wantErrCode: codes.InvalidArgument, wantErrHas: "decode protobuf",
		},
		{
			name:       "malformed json",
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(testing.TB) []byte { return []byte(`{"resourceSpans": [`) },
			wantStatus: http.StatusBadRequest, wantErrCode: codes.InvalidArgument, wantErrHas: "decode JSON",
		},
		{
			name:       "json that is not UTF-8",
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(testing.TB) []byte { return []byte("\xbd") },
			wantStatus: http.StatusBadRequest, wantErrCode: codes.InvalidArgument, wantErrHas: "decode JSON",
		},
		{
			name:       "corrupt gzip",
			header:     map[string]string{"Content-Type": ctProto, "Content-Encoding": "gzip"},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusBadRequest, wantErrCode: codes.InvalidArgument, wantErrHas: "gzip",
		},
		{
			name:       "wrong content type",
			header:     map[string]string{"Content-Type": "text/plain"},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusUnsupportedMediaType, wantErrHas: "text/plain",
		},
		{
			name:       "unsupported content encoding",
			header:     map[string]string{"Content-Type": ctProto, "Content-Encoding": "br"},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusUnsupportedMediaType, wantErrHas: "br",
			wantHeader: map[string]string{"Accept-Encoding": "gzip"},
		},
		{
			name:       "GET",
			method:     http.MethodGet,
			wantStatus: http.StatusMethodNotAllowed, wantErrHas: "GET",
			wantHeader: map[string]string{"Allow": "POST"},
		},
		{
			name:       "unknown path",
			path:       "/v1/metrics",
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusNotFound, wantErrHas: "/v1/metrics",
		},
		{
			name:       "body over limit",
			limit:      4 << 10,
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(t testing.TB) []byte { return mustProto(t, big) },
			wantStatus: http.StatusRequestEntityTooLarge, wantErrHas: "max_request_bytes",
		},
		{
			name:       "gzip body over limit once inflated",
			limit:      4 << 10,
			header:     map[string]string{"Content-Type": ctJSON, "Content-Encoding": "gzip"},
			body:       func(t testing.TB) []byte { return gzipped(t, mustJSON(t, big)) },
			wantStatus: http.StatusRequestEntityTooLarge, wantErrHas: "max_request_bytes",
		},
		{
			name:       "partial success protobuf",
			consumer:   &consumer.PartialError{Rejected: 2, Reason: "2 spans without a span id"},
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
			wantRejected: 2, wantPartialMsg: "2 spans without a span id",
		},
		{
			name:       "partial success json",
			consumer:   fmt.Errorf("pairing: %w", &consumer.PartialError{Rejected: 1, Reason: "1 span too old"}),
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
			wantRejected: 1, wantPartialMsg: "1 span too old",
		},
		{
			name:       "partial success reason that is not UTF-8",
			consumer:   &consumer.PartialError{Rejected: 1, Reason: "span \xff\xfe"},
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusOK, wantSpans: sampleWant,
			wantRejected: 1, wantPartialMsg: "span \uFFFD",
		},
		{
			name:       "retryable",
			consumer:   consumer.NewRetryable(errors.New("span index full"), 2500*time.Millisecond),
			header:     map[string]string{"Content-Type": ctProto},
			body:       func(t testing.TB) []byte { return mustProto(t, sampleTraces()) },
			wantStatus: http.StatusServiceUnavailable, wantSpans: sampleWant,
			wantErrCode: codes.Unavailable, wantErrHas: "span index full",
			wantHeader: map[string]string{"Retry-After": "3"},
		},
		{
			name:       "retryable without delay",
			consumer:   consumer.NewRetryable(errors.New("busy"), 0),
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusServiceUnavailable, wantSpans: sampleWant,
			wantErrCode: codes.Unavailable, wantErrHas: "busy",
			wantHeader: map[string]string{"Retry-After": "1"},
		},
		{
			name:       "permanent",
			consumer:   errors.New("trace id is all zeros"),
			header:     map[string]string{"Content-Type": ctJSON},
			body:       func(t testing.TB) []byte { return mustJSON(t, sampleTraces()) },
			wantStatus: http.StatusBadRequest, wantSpans: sampleWant,
			wantErrCode: codes.InvalidArgument, wantErrHas: "trace id is all zeros",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.GRPCAddr = ""
			if tt.limit > 0 {
				cfg.MaxRequestBytes = tt.limit
			}
			rec := &recorder{err: tt.consumer}
			r, _ := start(t, cfg, rec)
			method := cmpOr(tt.method, http.MethodPost)
			url := "http://" + r.HTTPAddr().String() + cmpOr(tt.path, "/v1/traces")
			var body []byte
			if tt.body != nil {
				body = tt.body(t)
			}
			resp := post(t, httpClient(t, nil), method, url, tt.header, body)

			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", resp.status, tt.wantStatus, resp.body)
			}
			for k, v := range tt.wantHeader {
				if got := resp.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			// The answer uses the request's encoding, protobuf when unknown.
			wantCT := ctProto
			if strings.Contains(strings.ToLower(tt.header["Content-Type"]), ctJSON) {
				wantCT = ctJSON
			}
			if got := resp.header.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %q, want %q", got, wantCT)
			}
			if resp.status == http.StatusOK {
				checkExportResponse(t, resp, tt.wantRejected, tt.wantPartialMsg)
			} else {
				checkStatus(t, resp, tt.wantErrCode, tt.wantErrHas)
			}
			if gotSpans := rec.received(); tt.wantSpans != nil && !slices.Equal(gotSpans, tt.wantSpans) {
				t.Errorf("consumer got %v, want %v", gotSpans, tt.wantSpans)
			} else if tt.wantSpans == nil && len(gotSpans) != 0 {
				t.Errorf("consumer got %v, want nothing", gotSpans)
			}
		})
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkExportResponse decodes an ExportTraceServiceResponse in the
// response's encoding and checks partial_success.
func checkExportResponse(t *testing.T, resp response, wantRejected int64, wantMsg string) {
	t.Helper()
	er := ptraceotlp.NewExportResponse()
	var err error
	if resp.header.Get("Content-Type") == ctJSON {
		err = er.UnmarshalJSON(resp.body)
	} else {
		err = er.UnmarshalProto(resp.body)
	}
	if err != nil {
		t.Fatalf("decode ExportTraceServiceResponse %q: %v", resp.body, err)
	}
	ps := er.PartialSuccess()
	if ps.RejectedSpans() != wantRejected || ps.ErrorMessage() != wantMsg {
		t.Errorf("partial_success = {%d, %q}, want {%d, %q}", ps.RejectedSpans(), ps.ErrorMessage(), wantRejected, wantMsg)
	}
}

// checkStatus decodes the google.rpc.Status body of an error answer.
func checkStatus(t *testing.T, resp response, wantCode codes.Code, wantHas string) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if resp.header.Get("Content-Type") == ctJSON {
		err = protojson.Unmarshal(resp.body, st)
	} else {
		err = proto.Unmarshal(resp.body, st)
	}
	if err != nil {
		t.Fatalf("decode Status %q: %v", resp.body, err)
	}
	if wantCode != codes.OK && codes.Code(st.GetCode()) != wantCode {
		t.Errorf("Status.code = %v, want %v", codes.Code(st.GetCode()), wantCode)
	}
	if !strings.Contains(st.GetMessage(), wantHas) {
		t.Errorf("Status.message = %q, want it to contain %q", st.GetMessage(), wantHas)
	}
	if codes.Code(st.GetCode()) == codes.Unavailable {
		if d := retryDelay(st); d <= 0 {
			t.Errorf("retryable Status has no RetryInfo delay: %v", st)
		}
	}
	return st
}

func retryDelay(st *spb.Status) time.Duration {
	for _, a := range st.GetDetails() {
		ri := &errdetails.RetryInfo{}
		if a.UnmarshalTo(ri) == nil {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

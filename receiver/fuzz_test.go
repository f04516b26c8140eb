package receiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

type nopConsumer struct{}

func (nopConsumer) ConsumeTraces(context.Context, ptrace.Traces) error { return nil }

// FuzzHTTPDecode drives the whole OTLP/HTTP request path (content type,
// optional gzip, size limit, decoding, response encoding) with arbitrary
// bodies. The seed corpus is testdata/fuzz/FuzzHTTPDecode. Invariants: no
// panic; only 200, 400, 413 or 415; every answer decodes in the request's
// encoding (ExportTraceServiceResponse on 200, google.rpc.Status otherwise).
func FuzzHTTPDecode(f *testing.F) {
	cfg := NewDefaultConfig()
	cfg.MaxRequestBytes = 1 << 20
	r, err := New(cfg, Settings{}, nopConsumer{})
	if err != nil {
		f.Fatal(err)
	}
	h := r.httpHandler()
	f.Fuzz(func(t *testing.T, body []byte, contentType string, gz bool) {
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = buf.Bytes()
		}
		req := httptest.NewRequest(http.MethodPost, tracesPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		enc, known := parseContentType(contentType)
		if got := rec.Header().Get("Content-Type"); got != enc.contentType() {
			t.Fatalf("response Content-Type %q for request %q", got, contentType)
		}
		switch rec.Code {
		case http.StatusOK:
			if !known {
				t.Fatalf("200 for unsupported Content-Type %q", contentType)
			}
			resp := ptraceotlp.NewExportResponse()
			if enc == encJSON {
				err = resp.UnmarshalJSON(rec.Body.Bytes())
			} else {
				err = resp.UnmarshalProto(rec.Body.Bytes())
			}
			if err != nil {
				t.Fatalf("200 body does not decode: %v", err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			st := &spb.Status{}
			if enc == encJSON {
				err = protojson.Unmarshal(rec.Body.Bytes(), st)
			} else {
				err = proto.Unmarshal(rec.Body.Bytes(), st)
			}
			if err != nil {
				t.Fatalf("%d body does not decode as Status: %v", rec.Code, err)
			}
			if st.GetCode() == 0 || st.GetMessage() == "" {
				t.Fatalf("%d with empty Status %v", rec.Code, st)
			}
		default:
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body)
		}
	})
}

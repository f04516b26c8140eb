package receiver

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// encoding is the OTLP/HTTP payload encoding, chosen by Content-Type; the
// response uses the request's encoding.
type encoding int

const (
	encProto encoding = iota // application/x-protobuf
	encJSON                  // application/json
)

const (
	contentTypeProto = "application/x-protobuf"
	contentTypeJSON  = "application/json"
)

func (e encoding) contentType() string {
	if e == encJSON {
		return contentTypeJSON
	}
	return contentTypeProto
}

func (e encoding) String() string {
	if e == encJSON {
		return "JSON"
	}
	return "protobuf"
}

// parseContentType maps a Content-Type header to an encoding, ignoring
// parameters such as "; charset=utf-8".
func parseContentType(v string) (encoding, bool) {
	mt, _, _ := strings.Cut(v, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case contentTypeProto:
		return encProto, true
	case contentTypeJSON:
		return encJSON, true
	}
	return encProto, false
}

// parseContentEncoding reports whether the body is gzip-compressed; ok is
// false for any coding other than gzip and identity.
func parseContentEncoding(v string) (gz, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "identity":
		return false, true
	case "gzip", "x-gzip":
		return true, true
	}
	return false, false
}

// readBody reads at most limit bytes of raw, the body as sent, and, when gz
// is set, at most limit bytes of the decompressed stream: a gzip bomb is
// inflated no further than limit+1 bytes. hint is the Content-Length (-1
// when unknown). The buffer grows fourfold from readStep, up to the
// declared length, and twice each buffer (readSlack) is reserved from res
// before it is allocated (outgrown ones too: they are garbage, not yet
// free), so a body reserves at most about ten times what has arrived
// (2.7 times once whole), never what it merely declares.
func readBody(raw io.Reader, gz bool, hint, limit int64, res *reservation) ([]byte, *refusal) {
	var src io.Reader = http.MaxBytesReader(nil, io.NopCloser(raw), limit)
	if gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, bodyRefusal(err, limit)
		}
		defer zr.Close()
		src = http.MaxBytesReader(nil, io.NopCloser(zr), limit)
		hint = -1 // the compressed length says little about the inflated one
	}
	var buf []byte
	var allocated int64
	for {
		if len(buf) == cap(buf) {
			next := nextCap(int64(cap(buf)), hint, limit)
			allocated += next
			if err := res.resize(readSlack * allocated); err != nil {
				return nil, budgetRefusal(err, readSlack*allocated)
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, bodyRefusal(err, limit)
		}
	}
}

// nextCap is the capacity after c: four times c, at least readStep, at most one
// byte past the declared length (hint ≥ 0) or the limit, so that the end of
// the body is seen without growing again.
func nextCap(c, hint, limit int64) int64 {
	ceiling := limit + 1
	if hint >= 0 {
		ceiling = min(hint+1, ceiling)
	}
	next := min(max(4*c, readStep), ceiling)
	if next <= c {
		next = c + readStep // past a wrong hint; the limit still applies
	}
	return next
}

func bodyRefusal(err error, limit int64) *refusal {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return refuse(reasonTooLarge, fmt.Sprintf("request body exceeds max_request_bytes (%d bytes), before or after decompression", limit))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return refuse(reasonTimeout, "request body not received within read_timeout: retry later")
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return refuse(reasonBadRequest, "read request body: "+err.Error())
}

// decode unmarshals an ExportTraceServiceRequest.
func decode(data []byte, enc encoding) (ptraceotlp.ExportRequest, *refusal) {
	req := ptraceotlp.NewExportRequest()
	var err error
	if enc == encJSON {
		// pdata's JSON decoder recurses once per bracket without a bound.
		if !otlpwire.JSONDepthWithin(data, otlpwire.MaxJSONDepth) {
			return req, refuse(reasonTooDeep, fmt.Sprintf("decode JSON ExportTraceServiceRequest: %v: more than %d levels (brackets nest more than %d deep)",
				consumer.ErrTooDeep, otlpwire.MaxValueDepth, otlpwire.MaxJSONDepth))
		}
		err = req.UnmarshalJSON(data)
	} else {
		err = req.UnmarshalProto(data)
	}
	if err != nil {
		return req, refuse(reasonBadRequest, fmt.Sprintf("decode %s ExportTraceServiceRequest: %v", enc, err))
	}
	return req, nil
}

// encodeResponse marshals a success response in enc.
func encodeResponse(resp ptraceotlp.ExportResponse, enc encoding) ([]byte, error) {
	if enc == encJSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}

// encodeStatus marshals an error body (google.rpc.Status) in enc.
func encodeStatus(st *spb.Status, enc encoding) ([]byte, error) {
	if enc == encJSON {
		return protojson.Marshal(st)
	}
	return proto.Marshal(st)
}

package receiver

import (
	"io"
	"net/http"
	"strconv"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// tracesPath is the OTLP/HTTP traces endpoint.
const tracesPath = "/v1/traces"

// httpHandler serves OTLP/HTTP. Order of checks, cheapest first: path
// (404), method (405), bearer token (401), Content-Type (415),
// Content-Encoding (415), declared size (413), the least cost of the
// declared size against the memory budget (413 past all of it, 429 past
// what is free), then the body as it arrives, within read_timeout (503
// timeout; 413 past max_request_bytes; its buffer reserved from the budget
// step by step, 413/429), the body's cost (413/429), the concurrency
// limit (429), decoding (400) and the consumer. A slow body holds no
// concurrency slot. A protobuf body goes undecoded to a consumer that implements
// consumer.ProtoTraces (raw.go), which then reports malformed ones.
func (r *Receiver) httpHandler() http.Handler {
	export := http.Handler(http.HandlerFunc(r.serveExport))
	if r.tokens != nil {
		deny := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.writeRefusal(w, req, refuse(reasonUnauthenticated, "missing or invalid bearer token"))
		})
		export = r.tokens.HTTPMiddleware(export, deny)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path != tracesPath:
			r.writeRefusal(w, req, refuse(reasonNotFound, "unknown path "+strconv.Quote(req.URL.Path)+": OTLP traces go to POST "+tracesPath))
		case req.Method != http.MethodPost:
			w.Header().Set("Allow", http.MethodPost)
			r.writeRefusal(w, req, refuse(reasonMethodNotAllowed, "method "+req.Method+" not allowed: use POST"))
		default:
			export.ServeHTTP(w, req)
		}
	})
}

func (r *Receiver) serveExport(w http.ResponseWriter, req *http.Request) {
	enc, ok := parseContentType(req.Header.Get("Content-Type"))
	if !ok {
		r.writeRefusal(w, req, refuse(reasonUnsupportedMedia,
			"unsupported Content-Type "+strconv.Quote(req.Header.Get("Content-Type"))+": use "+contentTypeProto+" or "+contentTypeJSON))
		return
	}
	gz, ok := parseContentEncoding(req.Header.Get("Content-Encoding"))
	if !ok {
		// RFC 9110 15.5.16: 415 for an unsupported content coding, with
		// Accept-Encoding listing the ones we take. Not retryable.
		w.Header().Set("Accept-Encoding", "gzip")
		r.writeRefusal(w, req, refuse(reasonUnsupportedMedia,
			"unsupported Content-Encoding "+strconv.Quote(req.Header.Get("Content-Encoding"))+": use gzip or none"))
		return
	}
	if req.ContentLength > r.cfg.MaxRequestBytes {
		r.writeRefusal(w, req, bodyRefusal(&http.MaxBytesError{Limit: r.cfg.MaxRequestBytes}, r.cfg.MaxRequestBytes))
		return
	}
	if !gz && req.ContentLength >= 0 {
		// A declared length the budget cannot hold now is refused unread.
		need := minCost(req.ContentLength, enc)
		if err := r.budget.check(need); err != nil {
			r.writeRefusal(w, req, budgetRefusal(err, need))
			return
		}
	}
	resv := r.budget.reserve()
	defer resv.release()
	// The body must arrive within read_timeout; a slow one holds no
	// concurrency slot and only the budget for what it has sent.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(r.cfg.ReadTimeout))
	// The server closes the connection after an oversized body.
	body := http.MaxBytesReader(w, req.Body, r.cfg.MaxRequestBytes)
	data, ref := readBody(body, gz, req.ContentLength, r.cfg.MaxRequestBytes, resv)
	if ref != nil {
		// Drain what is left of the bounded body (until the deadline), so
		// that the client reads our answer rather than a reset connection.
		_, _ = io.Copy(io.Discard, body)
		r.writeRefusal(w, req, ref)
		return
	}
	// The body is in: lift the deadline, which would otherwise end the
	// request's context while the consumer runs.
	_ = rc.SetReadDeadline(time.Time{})
	need := cost(data, enc)
	if err := resv.resize(need); err != nil {
		r.writeRefusal(w, req, budgetRefusal(err, need))
		return
	}
	if !r.limit.acquire() {
		r.writeRefusal(w, req, refuse(reasonOverloaded, "too many concurrent requests: retry later"))
		return
	}
	defer r.limit.release()
	res, spans := r.consume(req.Context(), data, enc) // raw.go
	if res.refused != nil {
		r.metrics.refuse(transportHTTP, res.refused.reason, spans)
		r.writeError(w, enc, res.refused)
		return
	}
	r.metrics.accept(transportHTTP, spans, res.partial)
	out, err := encodeResponse(exportResponse(res.partial), enc)
	if err != nil {
		// Cannot happen for a response we built; answer retryable.
		r.writeError(w, enc, refuse(reasonRetryable, "encode response: "+err.Error()))
		return
	}
	writeBody(w, http.StatusOK, enc, out)
}

// writeRefusal counts a refusal made before the consumer ran and answers
// it in the request's encoding (protobuf when that is unknown).
func (r *Receiver) writeRefusal(w http.ResponseWriter, req *http.Request, ref *refusal) {
	r.metrics.refuse(transportHTTP, ref.reason, 0)
	enc, _ := parseContentType(req.Header.Get("Content-Type"))
	r.writeError(w, enc, ref)
}

// writeError writes a google.rpc.Status body with the refusal's HTTP status
// and, for retryable refusals, Retry-After.
func (r *Receiver) writeError(w http.ResponseWriter, enc encoding, ref *refusal) {
	m := ref.mapping()
	if m.retryable {
		w.Header().Set("Retry-After", strconv.FormatInt(ref.retryAfterSeconds(), 10))
	}
	body, err := encodeStatus(ref.statusProto(), enc)
	if err != nil {
		// Messages are sanitized, so this is not expected: send the code.
		body, _ = encodeStatus(&spb.Status{Code: int32(m.grpc), Message: ref.reason}, enc)
	}
	writeBody(w, m.http, enc, body)
}

func writeBody(w http.ResponseWriter, code int, enc encoding, body []byte) {
	h := w.Header()
	h.Set("Content-Type", enc.contentType())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/servicegraph/servicegraph/render/picture"
)

// Handlers return what to answer and one writer answers it, so that status
// codes, headers and the error envelope cannot drift between endpoints
// (Prometheus' web/api/v1 apiFunc and apiFuncResult).

// apiFunc is a handler: it reads the request and returns the answer.
type apiFunc func(r *http.Request) apiFuncResult

// apiFuncResult is one answer. err set: an error answer (see errorStatus),
// whatever else is set. Otherwise rows, else body, else data is written.
type apiFuncResult struct {
	err error // answered by responder.error
	// rows streams a JSON answer (200) to the connection as it is
	// appended (writeRows), never held whole.
	rows func(b []byte, flush func([]byte) []byte) []byte
	// body is sent as it is, with contentType: pictures, the page,
	// static files, the liveness "ok".
	body        []byte
	contentType string
	// data is encoded as JSON (HTML-escaped).
	data any
	// status is the code of a body or data answer; 0 means 200.
	status int
	// header is added to the answer's headers (Retry-After,
	// Cache-Control).
	header http.Header
}

// Answers of the middleware and of the routes without a handler of their
// own. Each is mapped to its status code by errorStatus.
var (
	errNotFound     = errors.New("not found")
	errReadOnly     = errors.New("method not allowed: the API is read-only (GET, HEAD)")
	errUnauthorized = errors.New("missing or invalid bearer token")
	errLoading      = errors.New(ReasonLoading)
	errNoRenderer   = errors.New("rendering is not configured on this server")
	errCancelled    = errors.New("request cancelled")
)

// internalError is a 500 whose cause goes to the log, not to the client.
type internalError struct {
	msg   string // what the client reads
	cause error  // what the log records
}

func (e *internalError) Error() string { return e.msg }
func (e *internalError) Unwrap() error { return e.cause }

// errorStatus maps an error to its status code and the Retry-After, in
// seconds, that goes with it (0: none). It is the one place where errors
// become status codes.
func errorStatus(err error) (status, retry int) {
	var pe *ParamError
	switch {
	case errors.As(err, &pe):
		return http.StatusBadRequest, 0
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, 0
	case errors.Is(err, errNoClientCert):
		return http.StatusForbidden, 0
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, 0
	case errors.Is(err, errReadOnly):
		return http.StatusMethodNotAllowed, 0
	case errors.Is(err, picture.ErrTooLarge):
		return http.StatusUnprocessableEntity, 0
	case errors.Is(err, errNoRenderer):
		return http.StatusNotImplemented, 0
	case errors.Is(err, errLoading):
		return http.StatusServiceUnavailable, loadingRetryAfter
	case errors.Is(err, errBusy), errors.Is(err, picture.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, retryAfter
	case errors.Is(err, errCancelled):
		return http.StatusServiceUnavailable, 0 // the client left; nobody reads it
	default:
		return http.StatusInternalServerError, 0
	}
}

// errorBody is the JSON body of every error answer but Jaeger's: 4xx and
// 5xx alike.
type errorBody struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

// responder writes the answers of one route. Its errors take the route's
// envelope: errorBody, or Jaeger's for /api/dependencies.
type responder struct {
	log    *slog.Logger
	jaeger bool
}

// handler serves f's answers.
func (rs responder) handler(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rs.respond(w, f(r)) })
}

// respond writes res: the one writer of every answer but /metrics'.
func (rs responder) respond(w http.ResponseWriter, res apiFuncResult) {
	if res.err != nil {
		rs.error(w, res.err)
		return
	}
	h := w.Header()
	for k, v := range res.header {
		h[k] = v
	}
	status := res.status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case res.rows != nil:
		writeRows(w, res.rows)
	case res.body != nil:
		h.Set("Content-Type", res.contentType)
		h.Set("Content-Length", strconv.Itoa(len(res.body)))
		w.WriteHeader(status)
		_, _ = w.Write(res.body)
	default:
		writeJSON(w, rs.log, status, res.data)
	}
}

// error answers err with the status errorStatus gives it, in the route's
// envelope. A *ParamError names its parameter. 5xx but 503 are logged;
// an *internalError's cause is logged, not answered.
func (rs responder) error(w http.ResponseWriter, err error) {
	status, retry := errorStatus(err)
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, HEAD")
	}
	if status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusNotImplemented {
		cause := err
		if ie := (*internalError)(nil); errors.As(err, &ie) {
			cause = ie.cause
		}
		rs.log.Error("API request failed", "status", status, "err", cause)
	}
	msg := errorMessage(err)
	if rs.jaeger {
		writeJSON(w, rs.log, status, jaegerBody{Errors: []jaegerError{{Code: status, Msg: msg}}})
		return
	}
	body := errorBody{Error: msg}
	var pe *ParamError
	if errors.As(err, &pe) {
		body.Parameter = pe.Param
	}
	writeJSON(w, rs.log, status, body)
}

// writeJSON encodes v (HTML-escaped: "<" travels as \u003c) with status.
// Encoding happens before the header is written, so a failure is a clean
// 500. log may be nil when encoding cannot fail.
func writeJSON(w http.ResponseWriter, log *slog.Logger, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		if log != nil {
			log.Error("encode JSON answer", "err", err)
		}
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString(`{"error":"internal error"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// maxErrorMessage bounds, in bytes, the message of every error answer.
// Values a request carried are already cut to maxEcho where a message
// quotes them (echo); this catches a message from anywhere else that
// would repeat one at length.
const maxErrorMessage = 1024

// errorMessage is err's text for an error answer, cut to maxErrorMessage.
// Every error answer's message goes through it (responder.error).
func errorMessage(err error) string { return cut(err.Error(), maxErrorMessage) }

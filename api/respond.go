package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// errorBody is the JSON body of every error answer of the graph endpoints.
type errorBody struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

// writeJSON encodes v (HTML-escaped: "<" travels as \u003c) with status.
// Encoding happens before the header is written, so a failure is a clean
// 500.
func writeJSON(w http.ResponseWriter, log *slog.Logger, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		log.Error("encode JSON answer", "err", err)
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
// Every error answer's message goes through it: writeError,
// writeJaegerError and the render endpoints' plain-text answers.
func errorMessage(err error) string { return cut(err.Error(), maxErrorMessage) }

// writeError answers err: a *ParamError with 400 naming the parameter,
// anything else with status and its message.
func writeError(w http.ResponseWriter, log *slog.Logger, status int, err error) {
	var pe *ParamError
	if errors.As(err, &pe) {
		writeJSON(w, log, http.StatusBadRequest, errorBody{Error: errorMessage(pe), Parameter: pe.Param})
		return
	}
	if status >= 500 {
		log.Error("API request failed", "status", status, "err", err)
	}
	writeJSON(w, log, status, errorBody{Error: errorMessage(err)})
}

// writeJaegerError answers err in Jaeger's error envelope
// {"data": null, "errors": [{"code", "msg"}]}.
func writeJaegerError(w http.ResponseWriter, log *slog.Logger, status int, err error) {
	if status >= 500 {
		log.Error("API request failed", "status", status, "err", err)
	}
	writeJSON(w, log, status, jaegerErrorBody{Errors: []jaegerError{{Code: status, Msg: errorMessage(err)}}})
}

// writeText answers a plain-text message.
func writeText(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

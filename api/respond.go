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

// writeError answers err: a *ParamError with 400 naming the parameter,
// anything else with status and its message.
func writeError(w http.ResponseWriter, log *slog.Logger, status int, err error) {
	var pe *ParamError
	if errors.As(err, &pe) {
		writeJSON(w, log, http.StatusBadRequest, errorBody{Error: pe.Msg, Parameter: pe.Param})
		return
	}
	if status >= 500 {
		log.Error("API request failed", "status", status, "err", err)
	}
	writeJSON(w, log, status, errorBody{Error: err.Error()})
}

// writeText answers a plain-text message.
func writeText(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

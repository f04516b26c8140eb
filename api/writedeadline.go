package api

import (
	"net/http"
	"time"
)

// progressDeadline serves h with a write deadline that follows progress:
// each write moves the connection's deadline to timeout after it (at most
// every timeout/4), so that a large answer (a 100k-edge scrape is ~280 MB
// of text) is bounded by how long the client takes to read each piece,
// not by the server's total write timeout, while a client that stops
// reading is still cut after timeout. Moves stop after maxTotal from the
// request's start, so that a reader trickling bytes cannot hold an answer
// open for ever.
func progressDeadline(h http.Handler, timeout, maxTotal time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now() // connection deadlines are on the wall clock
		h.ServeHTTP(&progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout,
			start: now, last: now, maxTotal: maxTotal}, r)
	})
}

// progressWriter is the ResponseWriter of progressDeadline.
type progressWriter struct {
	http.ResponseWriter
	rc                *http.ResponseController
	timeout, maxTotal time.Duration
	start, last       time.Time // the request's start, the last move
}

func (w *progressWriter) Write(b []byte) (int, error) {
	if now := time.Now(); now.Sub(w.last) >= w.timeout/4 && now.Sub(w.start) < w.maxTotal {
		w.last = now
		_ = w.rc.SetWriteDeadline(now.Add(w.timeout)) // not supported (a test's recorder): nothing to move
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer
// (Flush, and the deadlines).
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

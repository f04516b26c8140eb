package api

import "net/http"

// serveHealthy is the liveness probe: 200 "ok" while the process serves.
func serveHealthy(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// serveReady is the readiness probe: 200 "ok" when Sources.Ready reports
// true (or is nil), else 503.
func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if s.src.Ready != nil && !s.src.Ready() {
		writeText(w, http.StatusServiceUnavailable, "not ready")
		return
	}
	writeText(w, http.StatusOK, "ok")
}

package api

import (
	"net/http"
	"strconv"
)

// Readiness is what Sources.Ready reports and /-/ready answers.
type Readiness struct {
	// Ready: /-/ready answers 200 when true, 503 when false.
	Ready bool
	// Loading: the saved graph is being restored. Every endpoint but
	// /-/healthy and /-/ready answers 503 {"error": "loading state"}
	// meanwhile, rather than an empty or partial graph.
	Loading bool
	// Reason says why the service is not ready ("loading state",
	// "shutting down") or, when it is, what is degraded; empty otherwise.
	// Probes are served without authentication: no paths, no details.
	Reason string
}

// readyBody is the JSON answer of /-/ready.
type readyBody struct {
	Status  string `json:"status"`            // "ready" or "not ready"
	Reason  string `json:"reason,omitempty"`  // why not ready
	Warning string `json:"warning,omitempty"` // ready, but degraded
}

// ReasonLoading is the Readiness.Reason, and the error of refused answers,
// while the saved graph is restored.
const ReasonLoading = "loading state"

// loadingRetryAfter is the Retry-After, in seconds, of answers refused
// while the saved graph loads.
const loadingRetryAfter = 5

// serveHealthy is the liveness probe: 200 "ok" while the process serves.
func serveHealthy(*http.Request) apiFuncResult {
	return apiFuncResult{body: []byte("ok"), contentType: "text/plain; charset=utf-8"}
}

// readiness is Sources.Ready's answer; always ready when it is nil.
func (s *Server) readiness() Readiness {
	if s.src.Ready == nil {
		return Readiness{Ready: true}
	}
	return s.src.Ready()
}

// serveReady is the readiness probe: 200 {"status": "ready"} (with a
// warning when degraded), else 503 {"status": "not ready", "reason": ...}.
func (s *Server) serveReady(*http.Request) apiFuncResult {
	r := s.readiness()
	if r.Ready {
		return apiFuncResult{data: readyBody{Status: "ready", Warning: r.Reason}}
	}
	res := apiFuncResult{status: http.StatusServiceUnavailable, data: readyBody{Status: "not ready", Reason: r.Reason}}
	if r.Loading {
		res.header = http.Header{"Retry-After": {strconv.Itoa(loadingRetryAfter)}}
	}
	return res
}

// whileLoading answers 503 {"error": "loading state"} with Retry-After
// while the saved graph is being restored, else calls next.
func (s *Server) whileLoading(next http.Handler, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.readiness().Loading {
			rs.error(w, errLoading)
			return
		}
		next.ServeHTTP(w, r)
	})
}

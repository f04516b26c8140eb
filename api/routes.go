package api

import (
	"errors"
	"net/http"
)

// Route names: the values of the handler label of the request metrics.
const (
	routePage         = "page"
	routeStatic       = "static"
	routeFields       = "graph_fields"
	routeData         = "graph_data"
	routeHealth       = "health"
	routeNodes        = "graph_nodes"
	routeEdges        = "graph_edges"
	routeDependencies = "dependencies"
	routeSVG          = "graph_svg"
	routeDOT          = "graph_dot"
	routePNG          = "graph_png"
	routeUnresolved   = "links_unresolved"
	routeHealthy      = "healthy"
	routeReady        = "ready"
	routeMetrics      = "metrics"
	routeNotFound     = "not_found"
)

// contentSecurityPolicy allows nothing from elsewhere: the page's script
// and style sheet are served from here, inline scripts are refused.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

type route struct {
	name, pattern string
	h             http.Handler
	open          bool // probes: served without a bearer token, and while loading
	query         bool // a graph query: within Config.MaxConcurrentQueries
}

// routes builds the handler of every endpoint.
func (s *Server) routes() http.Handler {
	rs := []route{
		{name: routePage, pattern: "/{$}", h: http.HandlerFunc(s.servePage)},
		{name: routeStatic, pattern: "/static/app.js", h: staticFile("static/app.js")},
		{name: routeStatic, pattern: "/static/style.css", h: staticFile("static/style.css")},
		{name: routeFields, pattern: "/api/graph/fields", h: http.HandlerFunc(s.serveFields)},
		{name: routeData, pattern: "/api/graph/data", h: http.HandlerFunc(s.serveData), query: true},
		{name: routeHealth, pattern: "/api/health", h: http.HandlerFunc(s.serveAPIHealth)},
		{name: routeNodes, pattern: "/api/graph/nodes", h: http.HandlerFunc(s.serveNodes), query: true},
		{name: routeEdges, pattern: "/api/graph/edges", h: http.HandlerFunc(s.serveEdges), query: true},
		{name: routeDependencies, pattern: "/api/dependencies", h: http.HandlerFunc(s.serveDependencies), query: true},
		{name: routeSVG, pattern: "/graph.svg", h: s.renderHandler(FormatSVG), query: true},
		{name: routeDOT, pattern: "/graph.dot", h: s.renderHandler(FormatDOT), query: true},
		{name: routePNG, pattern: "/graph.png", h: s.renderHandler(FormatPNG), query: true},
		{name: routeUnresolved, pattern: "/api/links/unresolved", h: http.HandlerFunc(s.serveUnresolved)},
		{name: routeHealthy, pattern: "/-/healthy", h: http.HandlerFunc(serveHealthy), open: true},
		{name: routeReady, pattern: "/-/ready", h: http.HandlerFunc(s.serveReady), open: true},
		{name: routeNotFound, pattern: "/", h: http.HandlerFunc(serveNotFound)},
	}
	if s.src.Metrics != nil {
		rs = append(rs, route{name: routeMetrics, pattern: "/metrics", h: s.src.Metrics})
	}
	mux := http.NewServeMux()
	for _, rt := range rs {
		h := rt.h
		if rt.query {
			h = s.queries.wrap(h)
		}
		if !rt.open {
			h = s.whileLoading(h)
		}
		if s.tokens != nil && !rt.open {
			h = s.tokens.HTTPMiddleware(h, nil)
		}
		h = readOnly(h)
		if s.cfg.TLS.HealthWithoutClientCert && !rt.open {
			h = s.requireClientCert(h)
		}
		mux.Handle(rt.pattern, s.metrics.instrument(rt.name, h))
	}
	return secure(mux)
}

// errNoClientCert is the answer, 403, of a request without a verified
// client certificate where the probes are exempt from mutual TLS.
var errNoClientCert = errors.New("client certificate required: this API uses mutual TLS; " +
	"only /-/healthy and /-/ready are served without one")

// requireClientCert answers 403 to a connection that presented no client
// certificate (one that did not verify never got past the handshake).
func (s *Server) requireClientCert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			writeError(w, s.log, http.StatusForbidden, errNoClientCert)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readOnly refuses every method but GET and HEAD with 405.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeText(w, http.StatusMethodNotAllowed, "method not allowed: the API is read-only (GET, HEAD)\n")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secure sets the headers every answer carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func serveNotFound(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusNotFound, "not found\n")
}

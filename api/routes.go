package api

import (
	"errors"
	"net/http"

	"github.com/servicegraph/servicegraph/render/picture"
)

// Route names: the values of the handler label of the request metrics.
const (
	routePage         = "page"
	routeStatic       = "static"
	routeFields       = "graph_fields"
	routeData         = "graph_data"
	routeDetails      = "graph_details"
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
	fn            apiFunc      // the handler; answered by the route's responder
	h             http.Handler // instead of fn: a handler that writes itself (/metrics)
	open          bool         // probes: served without a bearer token, and while loading
	query         bool         // a graph query: within Config.MaxConcurrentQueries
	jaeger        bool         // errors in Jaeger's envelope
}

// routes builds the handler of every endpoint.
func (s *Server) routes() http.Handler {
	rs := []route{
		{name: routePage, pattern: "/{$}", fn: s.servePage},
		{name: routeStatic, pattern: "/static/app.js", fn: staticFile("static/app.js")},
		{name: routeStatic, pattern: "/static/style.css", fn: staticFile("static/style.css")},
		{name: routeFields, pattern: "/api/graph/fields", fn: s.serveFields},
		{name: routeData, pattern: "/api/graph/data", fn: s.serveData, query: true},
		{name: routeDetails, pattern: "/api/graph/details", fn: s.serveDetails, query: true},
		{name: routeHealth, pattern: "/api/health", fn: s.serveAPIHealth},
		{name: routeNodes, pattern: "/api/graph/nodes", fn: s.serveNodes, query: true},
		{name: routeEdges, pattern: "/api/graph/edges", fn: s.serveEdges, query: true},
		{name: routeDependencies, pattern: "/api/dependencies", fn: s.serveDependencies, query: true, jaeger: true},
		{name: routeSVG, pattern: "/graph.svg", fn: s.renderOrDiff(picture.SVG), query: true},
		{name: routeDOT, pattern: "/graph.dot", fn: s.renderOrDiff(picture.DOT), query: true},
		{name: routePNG, pattern: "/graph.png", fn: s.renderOrDiff(picture.PNG), query: true},
		{name: routeDiff, pattern: "/api/graph/diff", fn: s.serveDiff, query: true},
		{name: routeDiffFields, pattern: "/api/graph/diff/fields", fn: s.serveDiffFields},
		{name: routeSnapshot, pattern: "/api/graph/snapshot", fn: s.serveSnapshot, query: true},
		{name: routeDiffData, pattern: "/api/graph/diff/data", fn: s.serveDiffData, query: true},
		// The same for a Node Graph API datasource whose URL ends in /diff
		// (the plugin appends /api/graph/fields, /api/graph/data, /api/health).
		{name: routeDiffFields, pattern: "/diff/api/graph/fields", fn: s.serveDiffFields},
		{name: routeDiffData, pattern: "/diff/api/graph/data", fn: s.serveDiffData, query: true},
		{name: routeHealth, pattern: "/diff/api/health", fn: s.serveAPIHealth},
		{name: routeUnresolved, pattern: "/api/links/unresolved", fn: s.serveUnresolved},
		{name: routeClusterGraph, pattern: pathClusterGraph, fn: s.serveClusterGraph},
		{name: routeHealthy, pattern: "/-/healthy", fn: serveHealthy, open: true},
		{name: routeReady, pattern: "/-/ready", fn: s.serveReady, open: true},
		{name: routeNotFound, pattern: "/", fn: func(*http.Request) apiFuncResult { return apiFuncResult{err: errNotFound} }},
	}
	if s.src.Metrics != nil {
		rs = append(rs, route{name: routeMetrics, pattern: "/metrics", h: s.src.Metrics})
	}
	mux := http.NewServeMux()
	for _, rt := range rs {
		out := responder{log: s.log, jaeger: rt.jaeger}
		h := rt.h
		if rt.fn != nil {
			h = out.handler(s.clustered(rt.name, rt.fn))
		}
		if rt.query {
			h = s.queries.wrap(h, out)
		}
		h = s.cacheReads(rt.name, h)
		if !rt.open {
			h = s.whileLoading(h, out)
		}
		if s.tokens != nil && !rt.open {
			h = s.tokens.HTTPMiddleware(h, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { out.error(w, errUnauthorized) }))
		}
		h = readOnly(h, out)
		if s.cfg.TLS.HealthWithoutClientCert && !rt.open {
			h = requireClientCert(h, out)
		}
		// The server's WriteTimeout bounds a write without progress, not
		// a whole answer; at most 10 of them in all.
		wt := s.cfg.ReadHeaderTimeout + s.cfg.RequestTimeout
		mux.Handle(rt.pattern, s.metrics.instrument(rt.name, progressDeadline(h, wt, 10*wt)))
	}
	return secure(mux)
}

// errNoClientCert is the answer, 403, of a request without a verified
// client certificate where the probes are exempt from mutual TLS.
var errNoClientCert = errors.New("client certificate required: this API uses mutual TLS; " +
	"only /-/healthy and /-/ready are served without one")

// requireClientCert answers 403 to a connection that presented no client
// certificate (one that did not verify never got past the handshake).
func requireClientCert(next http.Handler, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			rs.error(w, errNoClientCert)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readOnly refuses every method but GET and HEAD with 405.
func readOnly(next http.Handler, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rs.error(w, errReadOnly)
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

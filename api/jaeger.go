package api

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/servicegraph/servicegraph/graph"
)

// dependencyLink is Jaeger's ui.DependencyLink.
type dependencyLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount uint64 `json:"callCount"`
}

// jaegerBody is Jaeger's structuredResponse (cmd/query/app/http_handler.go),
// every key always present, as Jaeger writes it: on success data and
// "errors": null; on an error "data": null and the errors. Jaeger leaves
// total, limit and offset 0 for dependencies, and so does this.
type jaegerBody struct {
	Data   []dependencyLink `json:"data"`
	Total  int              `json:"total"`
	Limit  int              `json:"limit"`
	Offset int              `json:"offset"`
	Errors []jaegerError    `json:"errors"`
}

// jaegerError is one of Jaeger's structured errors.
type jaegerError struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// serveDependencies answers Jaeger's GET /api/dependencies: every edge in
// [endTs-lookback, endTs], summed over kinds per (parent, child), sorted by
// parent then child. service= keeps the links that start or end at it, as
// Jaeger does (an unknown service gives an empty list).
// Its errors are answered in Jaeger's envelope (the route's responder).
func (s *Server) serveDependencies(r *http.Request) apiFuncResult {
	v := r.URL.Query()
	from, to, err := parseDependencies(v, s.now())
	if err != nil {
		return apiFuncResult{err: err}
	}
	service := v.Get(ParamService)
	snap, err := s.snapshot(r, from, to)
	if err != nil {
		return apiFuncResult{err: err}
	}
	view, err := snap.Query(graph.Query{From: from, To: to, Kinds: graph.AllKinds})
	if err != nil {
		return apiFuncResult{err: fmt.Errorf("query graph: %w", err)}
	}
	type pair struct{ parent, child string }
	sums := map[pair]uint64{}
	for _, e := range view.Edges {
		if service == "" || e.Client == service || e.Server == service {
			sums[pair{e.Client, e.Server}] += e.Count
		}
	}
	links := make([]dependencyLink, 0, len(sums))
	for p, n := range sums {
		links = append(links, dependencyLink{Parent: p.parent, Child: p.child, CallCount: n})
	}
	slices.SortFunc(links, func(a, b dependencyLink) int {
		return cmp.Or(cmp.Compare(a.Parent, b.Parent), cmp.Compare(a.Child, b.Child))
	})
	return apiFuncResult{data: jaegerBody{Data: links}}
}

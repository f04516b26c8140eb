package api

import (
	"net/http"
	"slices"

	"github.com/servicegraph/servicegraph/pairing"
)

type problemsBody struct {
	Problems []pairing.Problem `json:"problems"`
}

// serveUnresolved answers the recent span links that made no edge, newest
// first, optionally only the linking service's (service=), at most limit=
// (default DefaultLimit, at most MaxLimit).
func (s *Server) serveUnresolved(r *http.Request) apiFuncResult {
	v := r.URL.Query()
	limit, err := parseLimit(v)
	if err != nil {
		return apiFuncResult{err: err}
	}
	service := v.Get(ParamService)
	all := s.problems(r, service, limit)
	slices.SortStableFunc(all, func(a, b pairing.Problem) int { return b.Time.Compare(a.Time) })
	out := make([]pairing.Problem, 0, min(len(all), limit))
	for _, p := range all {
		if len(out) == limit {
			break
		}
		if service == "" || p.Service == service {
			out = append(out, p)
		}
	}
	return apiFuncResult{data: problemsBody{Problems: out}}
}

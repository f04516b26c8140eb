package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/servicegraph/servicegraph/internal/traceurl"
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
	tpl := s.traceURL()
	for _, p := range all {
		if len(out) == limit {
			break
		}
		if service == "" || p.Service == service {
			p.TraceURL, p.LinkTraceURL = "", ""
			if tpl.Set() {
				p.TraceURL = tpl.URL(p.TraceID, p.SpanID)
				if validHex(p.LinkTraceID, 32) {
					p.LinkTraceURL = tpl.URL(p.LinkTraceID, p.LinkSpanID)
				}
			}
			out = append(out, p)
		}
	}
	return apiFuncResult{data: problemsBody{Problems: out}}
}

// traceURL is the configured trace URL template (Config.TraceURLTemplate,
// validated by New); the zero Template when none.
func (s *Server) traceURL() traceurl.Template {
	t, _ := traceurl.Parse(s.cfg.TraceURLTemplate)
	return t
}

// validHex reports whether id is n lowercase hex digits, not all zero: a
// link target id worth a URL (an invalid link's may be empty or malformed).
func validHex(id string, n int) bool {
	if len(id) != n || strings.Trim(id, "0") == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

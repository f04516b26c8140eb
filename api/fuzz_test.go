package api_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

// FuzzParams feeds raw query strings to ParseQuery: it never panics, every
// error names one of the filters, and every accepted query is usable (a
// non-empty window after the epoch, a depth within the cap, some kinds).
// The seed corpus in testdata/fuzz/FuzzParams runs in every go test.
func FuzzParams(f *testing.F) {
	for _, s := range []string{
		"", "from=1717243200&to=1717246800", "from=1717243200000&to=1717246800000",
		"from=2024-06-01T12:00:00Z&to=2024-06-01T13:00:00%2B01:00", "service=a&depth=3&kinds=call,span_link",
		"depth=-1", "kinds=bogus", "from=9999999999999999999", "to=1e9", "from=%zz",
	} {
		f.Add(s)
	}
	known := map[string]bool{api.ParamFrom: true, api.ParamTo: true, api.ParamService: true, api.ParamDepth: true, api.ParamKinds: true}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw) // keeps what parses
		const maxDepth = 10
		q, err := api.ParseQuery(v, t0, maxDepth)
		if err != nil {
			var pe *api.ParamError
			if !errors.As(err, &pe) || !known[pe.Param] || pe.Msg == "" {
				t.Fatalf("ParseQuery(%q): error %#v names no filter", raw, err)
			}
			return
		}
		if !q.From.Before(q.To) || q.From.Unix() < 0 || q.Depth < 0 || q.Depth > maxDepth || q.Kinds == 0 || q.Kinds&^graph.AllKinds != 0 {
			t.Fatalf("ParseQuery(%q) accepted a bad query: %+v", raw, q)
		}
		if q.Service != v.Get(api.ParamService) {
			t.Fatalf("ParseQuery(%q): service %q, want %q", raw, q.Service, v.Get(api.ParamService))
		}
	})
}

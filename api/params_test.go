package api_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

func TestParseQuery(t *testing.T) {
	now := time.Date(2024, 6, 1, 13, 0, 0, 0, time.UTC)
	noon := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		query    string
		from, to time.Time
		service  string
		depth    int
		kinds    graph.KindSet
		dir      graph.Direction
		cycles   bool
	}{
		{name: "defaults", query: "", from: now.Add(-time.Hour), to: now, depth: 2, kinds: graph.AllKinds},
		{name: "unix seconds", query: "from=1717243200&to=1717246800", from: noon, to: now, depth: 2, kinds: graph.AllKinds},
		{name: "unix milliseconds", query: "from=1717243200000&to=1717246800000", from: noon, to: now, depth: 2, kinds: graph.AllKinds},
		{name: "milliseconds above 1e11", query: "from=100000000001&to=1717246800", from: time.UnixMilli(100000000001), to: now, depth: 2, kinds: graph.AllKinds},
		{name: "RFC 3339", query: "from=2024-06-01T12:00:00Z&to=2024-06-01T13:00:00.000Z", from: noon, to: now, depth: 2, kinds: graph.AllKinds},
		{name: "RFC 3339 offset with raw plus", query: "from=2024-06-01T14:00:00+02:00", from: noon, to: now, depth: 2, kinds: graph.AllKinds},
		{name: "only to", query: "to=1717243200", from: noon.Add(-time.Hour), to: noon, depth: 2, kinds: graph.AllKinds},
		{name: "service depth kinds", query: "service=checkout&depth=0&kinds=call,+span_link", from: now.Add(-time.Hour), to: now,
			service: "checkout", depth: 0, kinds: graph.KindSet(0).With(graph.Call).With(graph.SpanLink)},
		{name: "empty kinds is all", query: "kinds=", from: now.Add(-time.Hour), to: now, depth: 2, kinds: graph.AllKinds},
		{name: "max depth", query: "depth=10", from: now.Add(-time.Hour), to: now, depth: 10, kinds: graph.AllKinds},
		{name: "downstream reach", query: "service=checkout&direction=downstream", from: now.Add(-time.Hour), to: now,
			service: "checkout", depth: 2, kinds: graph.AllKinds, dir: graph.Downstream},
		{name: "upstream cycles", query: "service=checkout&direction=upstream&cycles=true", from: now.Add(-time.Hour), to: now,
			service: "checkout", depth: 2, kinds: graph.AllKinds, dir: graph.Upstream, cycles: true},
		{name: "both without service", query: "direction=both&cycles=false", from: now.Add(-time.Hour), to: now, depth: 2, kinds: graph.AllKinds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := api.ParseQuery(v, now, 10)
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", tt.query, err)
			}
			if !q.From.Equal(tt.from) || !q.To.Equal(tt.to) || q.Service != tt.service || q.Depth != tt.depth || q.Kinds != tt.kinds ||
				q.Direction != tt.dir || q.Cycles != tt.cycles {
				t.Errorf("ParseQuery(%q) = %v..%v %q depth %d kinds %b; want %v..%v %q depth %d kinds %b", tt.query,
					q.From.UTC(), q.To.UTC(), q.Service, q.Depth, q.Kinds, tt.from, tt.to, tt.service, tt.depth, tt.kinds)
			}
		})
	}
}

// TestBadParameters: every bad parameter is a 400 whose JSON body names it,
// on every graph endpoint.
func TestBadParameters(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, nil)
	tests := []struct {
		name, query, param string
		lookup             bool // needs the graph: not checked by /api/graph/fields
	}{
		{name: "non-numeric from", query: "from=yesterday", param: "from"},
		{name: "negative from", query: "from=-5", param: "from"},
		{name: "fractional to", query: "to=1717243200.5", param: "to"},
		{name: "huge to", query: "to=99999999999999999999", param: "to"},
		{name: "year 3000", query: "to=3000-01-01T00:00:00Z", param: "to"},
		{name: "1e11 is seconds: year 5138", query: "to=100000000000", param: "to"},
		{name: "to at the epoch", query: "to=0", param: "to"},
		{name: "from after to", query: "from=1717246800&to=1717243200", param: "from"},
		{name: "empty window", query: "from=1717243200&to=1717243200", param: "from"},
		{name: "unknown kind", query: "kinds=call,rpc", param: "kinds"},
		{name: "trailing comma in kinds", query: "kinds=call,", param: "kinds"},
		{name: "negative depth", query: "depth=-1", param: "depth"},
		{name: "non-numeric depth", query: "depth=two", param: "depth"},
		{name: "depth above the cap", query: "depth=11", param: "depth"},
		{name: "unknown service", query: "service=nope", param: "service", lookup: true},
		{name: "unknown direction", query: "service=a&direction=sideways", param: "direction"},
		{name: "direction without service", query: "direction=downstream", param: "direction"},
		{name: "cycles not a bool", query: "cycles=maybe", param: "cycles"},
	}
	endpoints := []string{"/api/graph/fields", "/api/graph/data", "/api/graph/nodes", "/api/graph/edges", "/graph.svg", "/graph.dot", "/graph.png"}
	for _, tt := range tests {
		for _, ep := range endpoints {
			if ep == "/api/graph/fields" && tt.lookup {
				continue
			}
			t.Run(tt.name+ep, func(t *testing.T) {
				checkBadParam(t, s.Handler(), ep+"?"+tt.query, tt.param)
			})
		}
	}
	t.Run("bad rankdir", func(t *testing.T) { checkBadParam(t, s.Handler(), "/graph.svg?rankdir=up", "rankdir") })
	t.Run("bad limit", func(t *testing.T) { checkBadParam(t, s.Handler(), "/api/links/unresolved?limit=0", "limit") })
	t.Run("limit above max", func(t *testing.T) { checkBadParam(t, s.Handler(), "/api/links/unresolved?limit=1001", "limit") })
}

func checkBadParam(t *testing.T, h http.Handler, target, param string) {
	t.Helper()
	rec := get(h, target)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("GET %s: %d %s, want 400", target, rec.Code, rec.Body)
	}
	var body struct {
		Error     string `json:"error"`
		Parameter string `json:"parameter"`
	}
	decode(t, rec, &body)
	if body.Parameter != param || body.Error == "" {
		t.Errorf("GET %s: body %+v, want parameter %q and a message", target, body, param)
	}
}

func TestParamErrorType(t *testing.T) {
	_, err := api.ParseQuery(url.Values{"depth": {"x"}}, t0, 10)
	var pe *api.ParamError
	if !errors.As(err, &pe) || pe.Param != api.ParamDepth {
		t.Fatalf("err = %#v, want a *ParamError for depth", err)
	}
}

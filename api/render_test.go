package api_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// fakeRenderer draws views the way the render package's SVG looks: an
// element <g class="edge"> per edge whose <title> is "client&#45;&gt;server"
// and whose path is dashed (stroke-dasharray) for async edges. It records
// the keys it is given.
type fakeRenderer struct {
	mu   sync.Mutex
	keys []string
	err  error // returned instead of a picture when set
}

var _ api.Renderer = (*fakeRenderer)(nil)

func (r *fakeRenderer) Render(ctx context.Context, key string, v *graph.View, format picture.Format, o picture.Options) ([]byte, error) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch format {
	case picture.SVG:
		return fakeSVG(v), nil
	case picture.DOT:
		return []byte("digraph servicegraph { rankdir=" + o.RankDir + " }\n"), nil
	case picture.PNG:
		return []byte("\x89PNG\r\n\x1a\nfake"), nil
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

func (r *fakeRenderer) lastKey() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.keys) == 0 {
		return ""
	}
	return r.keys[len(r.keys)-1]
}

// fakeSVG lays nodes out on a grid and draws every edge as a line.
func fakeSVG(v *graph.View) []byte {
	pos := map[string][2]int{}
	var b, nodes strings.Builder
	rows := (len(v.Nodes) + 2) / 3
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg xmlns="http://www.w3.org/2000/svg" width="640pt" height="%dpt" viewBox="0 0 640 %d"><g id="graph0" class="graph"><title>servicegraph</title>
`, 40+100*rows, 40+100*rows)
	for i, n := range v.Nodes {
		x, y := 110+(i%3)*210, 50+(i/3)*100
		pos[n.Name] = [2]int{x, y}
		name := html.EscapeString(n.Name)
		fmt.Fprintf(&nodes, `<g class="node"><title>%s</title><rect x="%d" y="%d" width="160" height="36" rx="6" fill="#eaf1fb" stroke="#4d4d4d"/><text x="%d" y="%d" text-anchor="middle" font-size="12">%s</text></g>
`, name, x-80, y-18, x, y+4, name)
	}
	for _, e := range v.Edges {
		from, to := pos[e.Client], pos[e.Server]
		dash := ""
		if e.Kind.Async() {
			dash = ` stroke-dasharray="5,2"`
		}
		d := fmt.Sprintf("M%d,%d L%d,%d", from[0], from[1]+18, to[0], to[1]-18)
		if e.Client == e.Server {
			d = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", from[0]+80, from[1], from[0]+120, from[1]-30, from[0]+120, from[1]+30, from[0]+80, from[1]+8)
		}
		fmt.Fprintf(&b, `<g class="edge"><title>%s&#45;&gt;%s</title><path fill="none" stroke="#4d4d4d" d="%s"%s/></g>
`, html.EscapeString(e.Client), html.EscapeString(e.Server), d, dash)
	}
	b.WriteString(nodes.String()) // over the edges, as outputorder=edgesfirst
	b.WriteString("</g></svg>\n")
	return []byte(b.String())
}

func TestRender(t *testing.T) {
	st, c := fixture(t)
	r := &fakeRenderer{}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: r}, nil)
	tests := []struct {
		target, contentType, prefix string
	}{
		{target: "/graph.svg", contentType: "image/svg+xml", prefix: "<?xml"},
		{target: "/graph.dot?rankdir=tb", contentType: "text/vnd.graphviz; charset=utf-8", prefix: "digraph servicegraph { rankdir=TB }"},
		{target: "/graph.png", contentType: "image/png", prefix: "\x89PNG"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := get(s.Handler(), tt.target)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			if !strings.HasPrefix(rec.Body.String(), tt.prefix) {
				t.Errorf("body starts %q, want %q", rec.Body.String()[:min(20, rec.Body.Len())], tt.prefix)
			}
		})
	}
}

func TestRenderKey(t *testing.T) {
	st, c := fixture(t)
	r := &fakeRenderer{}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: r}, nil)
	key := func(target string) string {
		t.Helper()
		if rec := get(s.Handler(), target); rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		return r.lastKey()
	}
	first := key("/graph.svg")
	if !strings.HasPrefix(first, "topo=") || !strings.Contains(first, "format=svg") {
		t.Errorf("key %q does not start with the topology and hold the format", first)
	}
	if again := key("/graph.svg"); again != first {
		t.Errorf("same request, new key: %q then %q", first, again)
	}
	// A few seconds later the window touches the same buckets: same key.
	c.Set(t0.Add(5 * 1e9))
	if later := key("/graph.svg"); later != first {
		t.Errorf("5 s later: key %q, want %q", later, first)
	}
	c.Set(t0)
	for _, other := range []string{"/graph.dot", "/graph.svg?rankdir=TB", "/graph.svg?service=checkout", "/graph.svg?kinds=call",
		"/graph.svg?from=" + unix(t0.Add(-2*3600e9)) + "&to=" + unix(t0)} {
		if k := key(other); k == first {
			t.Errorf("%s shares the key %q", other, k)
		}
	}
	// More occurrences of an edge already drawn: same key (the numbers
	// may be one bucket old).
	st.Observe([]graph.Observation{{Client: st.Node("frontend", graph.ServiceNode), Server: st.Node("checkout", graph.ServiceNode)}}, nil)
	if k := key("/graph.svg"); k != first {
		t.Errorf("after more of a known edge: key %q, want %q", k, first)
	}
	// A new edge: a new topology, hence a new key.
	st.Observe([]graph.Observation{{Client: st.Node("frontend", graph.ServiceNode), Server: st.Node("payments", graph.ServiceNode)}}, nil)
	if k := key("/graph.svg"); k == first || !strings.HasPrefix(k, "topo=") {
		t.Errorf("after a new edge: key %q, want a new topology (was %q)", k, first)
	}
}

// hint is picture.HintURL as the JSON body carries it (HTML-escaped).
const hintJSON = `narrow the graph: pick a service with service=\u003cname\u003e\u0026depth=1, or fewer kinds with kinds=call,messaging_system`

// TestRenderErrors: every failure of the render endpoints is answered in
// the one JSON error shape, with the hint once.
func TestRenderErrors(t *testing.T) {
	st, c := fixture(t)
	tests := []struct {
		name       string
		renderer   api.Renderer
		wantStatus int
		wantBody   string
		retryAfter string
	}{
		{name: "too large", renderer: &fakeRenderer{err: fmt.Errorf("%w: 316 nodes and 730 edges, the limits are 300 nodes and 1500 edges", picture.ErrTooLarge)},
			wantStatus: http.StatusUnprocessableEntity,
			wantBody:   `{"error":"graph too large to draw: 316 nodes and 730 edges, the limits are 300 nodes and 1500 edges; ` + hintJSON + `"}`},
		{name: "timeout", renderer: &fakeRenderer{err: fmt.Errorf("%w: not done after 10s (316 nodes, 730 edges)", picture.ErrTimeout)},
			wantStatus: http.StatusServiceUnavailable, retryAfter: "10",
			wantBody: `{"error":"drawing took too long: not done after 10s (316 nodes, 730 edges); ` + hintJSON + `"}`},
		{name: "request deadline", renderer: &fakeRenderer{err: context.DeadlineExceeded},
			wantStatus: http.StatusServiceUnavailable, retryAfter: "10",
			wantBody: `{"error":"drawing took too long: the request timeout of 30s passed; ` + hintJSON + `"}`},
		{name: "other failure", renderer: &fakeRenderer{err: fmt.Errorf("graphviz crashed in /tmp/x")},
			wantStatus: http.StatusInternalServerError, wantBody: `{"error":"drawing failed; see the server log"}`},
		{name: "no renderer", wantStatus: http.StatusNotImplemented, wantBody: `{"error":"rendering is not configured on this server"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: tt.renderer}, nil)
			rec := get(s.Handler(), "/graph.svg")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := rec.Body.String(); got != tt.wantBody+"\n" {
				t.Errorf("body\n%s\nwant\n%s", got, tt.wantBody)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
		})
	}
}

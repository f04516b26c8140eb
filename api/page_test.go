package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

func TestPage(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, nil)
	rec := get(s.Handler(), "/?service=checkout&depth=1&kinds=call,span_link&window=6h&rankdir=TB")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`id="service"`, `value="checkout"`, `id="depth"`, `value="1"`, `id="window"`, `id="rankdir"`,
		`id="autorefresh"`, `id="refresh"`, `id="graph"`, `id="links"`, `id="error"`,
		`value="call" checked`, `value="span_link" checked`, `value="database">`,
		`value="6h" data-secs="21600" selected`, `value="TB" selected`,
		`<script src="static/app.js" defer></script>`, `<option value="orders-db">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("page has an inline script or an external reference")
	}
	for _, asset := range []struct{ path, ctype string }{{"/static/app.js", "text/javascript; charset=utf-8"}, {"/static/style.css", "text/css; charset=utf-8"}} {
		rec := get(s.Handler(), asset.path)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != asset.ctype || rec.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q", asset.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	if js := get(s.Handler(), "/static/app.js").Body.String(); strings.Contains(js, "innerHTML") || strings.Contains(js, "eval(") {
		t.Errorf("app.js uses innerHTML or eval")
	}
}

// TestEscaping puts markup into a service name, a span name and the query
// string: it comes back escaped in the page and in every JSON answer.
func TestEscaping(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	st, c := fixture(t)
	st.Observe([]graph.Observation{{Client: st.Node(evil, graph.ServiceNode), Server: st.Node("checkout", graph.ServiceNode), Kind: graph.SpanLink}}, nil)
	problems := func() []pairing.Problem {
		return []pairing.Problem{{Result: "unresolved", Service: evil, SpanName: evil, Time: t0}}
	}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}, Problems: problems}, nil)
	q := url.QueryEscape(evil)
	for _, target := range []string{
		"/", "/?service=" + q, "/api/graph/data", "/api/graph/nodes", "/api/graph/edges",
		"/api/graph/data?service=" + q, "/api/dependencies", "/api/links/unresolved",
		"/api/graph/data?service=" + q + "x", "/api/graph/data?kinds=" + q, "/api/dependencies?endTs=" + q,
	} {
		rec := get(s.Handler(), target)
		body := rec.Body.String()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, `"x")`) {
			t.Errorf("GET %s (%d): markup not escaped:\n%s", target, rec.Code, body)
		}
		if rec.Code == http.StatusOK && !strings.Contains(body, "alert") {
			t.Errorf("GET %s: the name is missing", target)
		}
		if strings.HasPrefix(target, "/api/") && !json.Valid(rec.Body.Bytes()) {
			t.Errorf("GET %s: invalid JSON", target)
		}
	}
	// Escaped, not mangled: a JSON client gets the name back.
	var rows []struct {
		ID string `json:"id"`
	}
	decode(t, get(s.Handler(), "/api/graph/nodes?service="+q+"&depth=0"), &rows)
	if len(rows) != 1 || rows[0].ID != evil {
		t.Errorf("nodes = %+v, want the one node %q", rows, evil)
	}
	if page := get(s.Handler(), "/?service="+q).Body.String(); !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("page does not hold the escaped name")
	}
}

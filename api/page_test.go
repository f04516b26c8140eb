package api_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
	// A custom window: the pickers show the URL's from and to, in UTC; a
	// preset keeps them hidden, at the last hour.
	from, to := t0.Add(-90*time.Minute), t0.Add(-30*time.Minute)
	custom := get(s.Handler(), fmt.Sprintf("/?window=custom&from=%d&to=%d", from.Unix(), to.Unix())).Body.String()
	for _, want := range []string{`<span id="custom">`, `value="custom" data-secs="0" selected>custom…</option>`,
		`id="from" type="datetime-local" step="1" value="` + from.UTC().Format("2006-01-02T15:04:05") + `"`,
		`id="to" type="datetime-local" step="1" value="` + to.UTC().Format("2006-01-02T15:04:05") + `"`,
		`id="baseline"`, `id="baseline-from"`, `id="details"`, `id="find"`, `id="export-png"`, `id="legend"`, `id="empty"`} {
		if !strings.Contains(custom, want) {
			t.Errorf("custom page lacks %q", want)
		}
	}
	if !strings.Contains(body, `<span id="custom" hidden>`) || !strings.Contains(body, `value="`+t0.Add(-time.Hour).UTC().Format("2006-01-02T15:04:05")+`"`) {
		t.Errorf("a preset window shows the pickers, or not at the last hour")
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

// TestDetails reads /api/graph/details on the fixture: the exact numbers of
// a sync edge, an async self-loop and a node over the last hour, and the
// percentiles interpolated in the histogram as histogram_quantile does.
func TestDetails(t *testing.T) {
	st, c := fixture(t)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, nil)
	var body struct {
		From, To time.Time
		Seconds  float64
		Nodes    []struct {
			Name, Kind       string
			Requests, Failed uint64
			Rate             float64
			ErrorPercent     float64 `json:"error_percent"`
			Links            map[string]uint64
		}
		Edges []struct {
			Client, Server, Kind string
			Async                bool
			Requests, Failed     uint64
			Rate                 float64
			ErrorPercent         float64   `json:"error_percent"`
			Mean                 float64   `json:"mean_seconds"`
			P50                  *float64  `json:"p50_seconds"`
			P95                  *float64  `json:"p95_seconds"`
			P99                  *float64  `json:"p99_seconds"`
			HistogramCount       uint64    `json:"histogram_count"`
			FirstSeen            time.Time `json:"first_seen"`
			LastSeen             time.Time `json:"last_seen"`
		}
	}
	decode(t, get(s.Handler(), "/api/graph/details?service=checkout&depth=1"), &body)
	if !body.To.Equal(t0) || body.Seconds != 3600 || len(body.Nodes) != 6 || len(body.Edges) != 6 {
		t.Fatalf("window %s..%s (%v s), %d nodes, %d edges", body.From, body.To, body.Seconds, len(body.Nodes), len(body.Edges))
	}
	n := body.Nodes[5]
	if n.Name != "payments" || n.Kind != "service" || n.Requests != 68 || n.Failed != 14 || n.Rate != 68.0/3600 ||
		math.Abs(n.ErrorPercent-100*14.0/68) > 1e-12 || fmt.Sprint(n.Links) != "map[dropped:0 invalid:0 resolved:0 unresolved:0]" {
		t.Errorf("payments = %+v", n)
	}
	e := body.Edges[3]
	if e.Client != "checkout" || e.Server != "payments" || e.Kind != "call" || e.Async || e.Requests != 60 || e.Failed != 6 ||
		e.Rate != 60.0/3600 || e.ErrorPercent != 10 || e.Mean != 0.25 || e.HistogramCount != 60 ||
		!e.FirstSeen.Equal(t0.Add(-40*time.Minute)) || !e.LastSeen.Equal(t0.Add(-40*time.Minute)) {
		t.Errorf("checkout->payments = %+v", e)
	}
	// All 60 fall in the bucket 0.2..0.4: p50 = 0.2 + 0.2×30/60, p95 =
	// 0.2 + 0.2×57/60, p99 = 0.2 + 0.2×59.4/60.
	if e.P50 == nil || e.P95 == nil || e.P99 == nil || *e.P50 != 0.3 || *e.P95 != 0.39 || *e.P99 != 0.398 {
		t.Errorf("p50, p95, p99 = %v %v %v, want 0.3 0.39 0.398", e.P50, e.P95, e.P99)
	}
	loop := body.Edges[5]
	if loop.Client != "payments" || loop.Server != "payments" || !loop.Async || loop.Requests != 8 || loop.ErrorPercent != 100 || loop.Mean != 2 {
		t.Errorf("payments self-loop = %+v", loop)
	}
	rec := get(s.Handler(), "/api/graph/details?service=nope")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"parameter":"service"`) {
		t.Errorf("unknown service: %d %s", rec.Code, rec.Body)
	}
	decode(t, get(s.Handler(), "/api/graph/details?from="+fmt.Sprint(t0.Add(-5*time.Minute).Unix())), &body)
	if len(body.Nodes) != 0 || len(body.Edges) != 0 {
		t.Errorf("the last 5 minutes: %d nodes, %d edges, want none", len(body.Nodes), len(body.Edges))
	}
}

// TestDetailsWindowPercentiles: the side panel's percentiles are the
// window's, not the edge's since first seen: ten 50 ms calls 50 minutes
// ago and ten 3 s calls 10 minutes ago; the last 20 minutes hold only the
// slow ones.
func TestDetailsWindowPercentiles(t *testing.T) {
	c := &clock{t: t0}
	st := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.Now})
	a, b := st.Node("a", graph.ServiceNode), st.Node("b", graph.ServiceNode)
	for _, at := range []struct {
		ago  time.Duration
		secs float64
	}{{50 * time.Minute, 0.05}, {10 * time.Minute, 3}} {
		c.Set(t0.Add(-at.ago))
		obs := make([]graph.Observation, 10)
		for i := range obs {
			obs[i] = graph.Observation{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{at.secs, -1}}
		}
		st.Observe(obs, nil)
	}
	c.Set(t0)
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: &fakeRenderer{}}, nil)
	var body struct {
		Edges []struct {
			Requests       uint64
			P50            *float64 `json:"p50_seconds"`
			P95            *float64 `json:"p95_seconds"`
			HistogramCount uint64   `json:"histogram_count"`
		}
	}
	for _, tc := range []struct {
		from     time.Duration
		n        uint64
		p50, p95 float64
	}{
		// The 10 slow calls in the bucket 1.6..3.2: p50 = 1.6 + 1.6×5/10,
		// p95 = 1.6 + 1.6×9.5/10.
		{20 * time.Minute, 10, 2.4, 3.12},
		// All 20: p50 is the 10th, the top of the bucket 0..0.1; p95
		// (rank 19) is in 1.6..3.2 at 1.6 + 1.6×9/10.
		{time.Hour, 20, 0.1, 3.04},
	} {
		decode(t, get(s.Handler(), "/api/graph/details?from="+fmt.Sprint(t0.Add(-tc.from).Unix())), &body)
		if len(body.Edges) != 1 {
			t.Fatalf("last %s: %d edges, want 1", tc.from, len(body.Edges))
		}
		e := body.Edges[0]
		if e.Requests != tc.n || e.HistogramCount != tc.n || e.P50 == nil || e.P95 == nil ||
			math.Abs(*e.P50-tc.p50) > 1e-9 || math.Abs(*e.P95-tc.p95) > 1e-9 {
			t.Errorf("last %s: requests %d, histogram_count %d, p50 %v, p95 %v; want %d, %d, %v, %v",
				tc.from, e.Requests, e.HistogramCount, e.P50, e.P95, tc.n, tc.n, tc.p50, tc.p95)
		}
	}
}

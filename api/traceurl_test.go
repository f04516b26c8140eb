package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// With a trace URL template, /api/links/unresolved links each problem's
// linking trace and, when its ids are valid, the link's target trace;
// without one it carries the ids only.
func TestUnresolvedLinksTraceURL(t *testing.T) {
	st, c := fixture(t)
	problems := []pairing.Problem{
		{Result: "unresolved", Service: "batch", SpanName: "run", TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "1112131415161718",
			LinkTraceID: "a1a2a3a4a5a6a7a8a9aaabacadaeafb0", LinkSpanID: "b1b2b3b4b5b6b7b8", Time: t0, LikelyCause: pairing.CauseNeverSeen},
		{Result: "invalid", Service: "batch", SpanName: "run", TraceID: "0102030405060708090a0b0c0d0e0f10", SpanID: "2122232425262728",
			LinkTraceID: "00000000000000000000000000000000", LinkSpanID: "0000000000000000", Time: t0.Add(-time.Second), LikelyCause: pairing.CauseInvalid},
	}
	src := api.Sources{Graph: st, Problems: func() []pairing.Problem { return problems }}
	with, _ := newServer(t, c, src, func(cfg *api.Config) { cfg.TraceURLTemplate = "http://jaeger:16686/trace/{trace_id}?uiFind={span_id}" })
	without, _ := newServer(t, c, src, nil)
	for _, tc := range []struct {
		name string
		h    http.Handler
		want string
	}{
		{"template", with.Handler(), `{"problems":[` +
			`{"result":"unresolved","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"1112131415161718","link_trace_id":"a1a2a3a4a5a6a7a8a9aaabacadaeafb0","link_span_id":"b1b2b3b4b5b6b7b8","time":"2025-06-01T12:00:30Z","likely_cause":"` + pairing.CauseNeverSeen + `",` +
			`"trace_url":"http://jaeger:16686/trace/0102030405060708090a0b0c0d0e0f10?uiFind=1112131415161718","link_trace_url":"http://jaeger:16686/trace/a1a2a3a4a5a6a7a8a9aaabacadaeafb0?uiFind=b1b2b3b4b5b6b7b8"},` +
			`{"result":"invalid","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"2122232425262728","link_trace_id":"00000000000000000000000000000000","link_span_id":"0000000000000000","time":"2025-06-01T12:00:29Z","likely_cause":"` + pairing.CauseInvalid + `",` +
			`"trace_url":"http://jaeger:16686/trace/0102030405060708090a0b0c0d0e0f10?uiFind=2122232425262728"}]}`},
		{"no template", without.Handler(), `{"problems":[` +
			`{"result":"unresolved","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"1112131415161718","link_trace_id":"a1a2a3a4a5a6a7a8a9aaabacadaeafb0","link_span_id":"b1b2b3b4b5b6b7b8","time":"2025-06-01T12:00:30Z","likely_cause":"` + pairing.CauseNeverSeen + `"},` +
			`{"result":"invalid","service":"batch","span_name":"run","trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"2122232425262728","link_trace_id":"00000000000000000000000000000000","link_span_id":"0000000000000000","time":"2025-06-01T12:00:29Z","likely_cause":"` + pairing.CauseInvalid + `"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.h, "/api/links/unresolved")
			if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// A bad template is refused at start with what is wrong.
func TestTraceURLTemplateValidate(t *testing.T) {
	cfg := api.NewDefaultConfig()
	cfg.TraceURLTemplate = "http://jaeger:16686/trace/"
	err := cfg.Validate()
	if err == nil || err.Error() != `trace_url_template: trace URL template "http://jaeger:16686/trace/" has no {trace_id} placeholder` {
		t.Fatalf("err = %v", err)
	}
}

// tracedFixture is fixture with one traced occurrence of checkout →
// payments five minutes ago (span 0102…08 of trace 0af7…319c).
func tracedFixture(t testing.TB) (*graph.Store, *clock) {
	st, c := fixture(t)
	c.Set(t0.Add(-5 * time.Minute))
	st.Observe([]graph.Observation{{Client: st.Node("checkout", graph.ServiceNode), Server: st.Node("payments", graph.ServiceNode),
		Kind: graph.Call, Seconds: [2]float64{0.25, -1},
		Trace: [16]byte{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
		Span:  [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}}, nil)
	c.Set(t0)
	return st, c
}

// /api/graph/details gives an edge, and both its nodes, the window's
// latest sample trace: ids always, the URL with a template; none for
// edges without a traced occurrence in the window.
func TestDetailsSampleTrace(t *testing.T) {
	st, c := tracedFixture(t)
	with, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.TraceURLTemplate = "http://jaeger:16686/trace/{trace_id}" })
	without, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	for _, tc := range []struct {
		name   string
		h      http.Handler
		target string
		url    string
	}{
		{"template", with.Handler(), "/api/graph/details", "http://jaeger:16686/trace/0af7651916cd43dd8448eb211c80319c"},
		{"no template", without.Handler(), "/api/graph/details", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.h, tc.target)
			var body struct {
				Nodes []struct {
					Name     string `json:"name"`
					TraceID  string `json:"trace_id"`
					SpanID   string `json:"span_id"`
					TraceURL string `json:"trace_url"`
				} `json:"nodes"`
				Edges []struct {
					Client   string `json:"client"`
					Server   string `json:"server"`
					TraceID  string `json:"trace_id"`
					SpanID   string `json:"span_id"`
					TraceURL string `json:"trace_url"`
				} `json:"edges"`
			}
			decode(t, rec, &body)
			var got []string
			for _, n := range body.Nodes {
				if n.TraceID != "" {
					got = append(got, "node "+n.Name+" "+n.TraceID+" "+n.SpanID+" "+n.TraceURL)
				}
			}
			for _, e := range body.Edges {
				if e.TraceID != "" {
					got = append(got, "edge "+e.Client+">"+e.Server+" "+e.TraceID+" "+e.SpanID+" "+e.TraceURL)
				}
			}
			want := []string{
				"node checkout 0af7651916cd43dd8448eb211c80319c 0102030405060708 " + tc.url,
				"node payments 0af7651916cd43dd8448eb211c80319c 0102030405060708 " + tc.url,
				"edge checkout>payments 0af7651916cd43dd8448eb211c80319c 0102030405060708 " + tc.url,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("samples:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if tc.url == "" && strings.Contains(rec.Body.String(), "trace_url") {
				t.Fatal("a trace_url without a template")
			}
		})
	}
	// A window that ends before the sample has none.
	rec := get(with.Handler(), fmt.Sprintf("/api/graph/details?from=%d&to=%d", t0.Add(-2*time.Hour).Unix(), t0.Add(-30*time.Minute).Unix()))
	if strings.Contains(rec.Body.String(), "trace_id") {
		t.Fatalf("a sample outside the window: %s", rec.Body)
	}
}

// The Node Graph API's rows carry each edge's and node's sample trace
// (detail__trace_id, "" if none in the window) and, with a template, its
// URL (detail__trace_url, listed in the fields then).
func TestNodeGraphSampleTrace(t *testing.T) {
	st, c := tracedFixture(t)
	with, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.TraceURLTemplate = "http://jaeger:16686/trace/{trace_id}" })
	without, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	const id = `"detail__trace_id":"0af7651916cd43dd8448eb211c80319c"`
	const url = `,"detail__trace_url":"http://jaeger:16686/trace/0af7651916cd43dd8448eb211c80319c"`
	for _, tc := range []struct {
		name, target, want string
		h                  http.Handler
	}{
		{"edge", "/api/graph/edges", `"detail__requests":61,"detail__failed":6,"detail__mean_seconds":0.25,` + id + url + `}`, with.Handler()},
		{"edge without template", "/api/graph/edges", `"detail__requests":61,"detail__failed":6,"detail__mean_seconds":0.25,` + id + `}`, without.Handler()},
		{"untraced edge", "/api/graph/edges", `"detail__requests":80,"detail__failed":0,"detail__mean_seconds":0.0625,"detail__trace_id":""}`, with.Handler()},
		{"node", "/api/graph/data", `"title":"payments","subtitle":"service","mainstat":0.019166666666666665,"secondarystat":20.28985507246377,"arc__success":0.7971014492753623,"arc__failed":0.2028985507246377,"color":"#f2495c","detail__requests":69,"detail__failed":14,` + id + url + `}`, with.Handler()},
		{"fields", "/api/graph/fields", `{"field_name":"detail__trace_id","type":"string","displayName":"Sample trace"},{"field_name":"detail__trace_url","type":"string","displayName":"Sample trace URL"}]`, with.Handler()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := get(tc.h, tc.target).Body.String()
			if !strings.Contains(body, tc.want) {
				t.Fatalf("%s lacks\n%s\n%s", tc.target, tc.want, body)
			}
		})
	}
	if body := get(without.Handler(), "/api/graph/fields").Body.String(); strings.Contains(body, "detail__trace_url") {
		t.Fatalf("fields without a template: %s", body)
	}
}

// A node's sample trace is the latest in the window among all its edges,
// whichever side it is on: checkout's is its newer call to inventory,
// payments keeps checkout's call (newer than its own call to ledger).
func TestNodeSampleIsLatest(t *testing.T) {
	st, c := tracedFixture(t)
	observe := func(ago time.Duration, client, server string, trace byte) {
		c.Set(t0.Add(-ago))
		st.Observe([]graph.Observation{{Client: st.Node(client, graph.ServiceNode), Server: st.Node(server, graph.ServiceNode),
			Kind: graph.Call, Seconds: [2]float64{0.25, -1}, Trace: [16]byte{15: trace}, Span: [8]byte{7: trace}}}, nil)
	}
	observe(2*time.Minute, "checkout", "inventory", 0xbb)
	observe(10*time.Minute, "payments", "ledger", 0xcc)
	c.Set(t0)
	srv, _ := newServer(t, c, api.Sources{Graph: st}, nil)
	want := map[string]string{
		"checkout":  "000000000000000000000000000000bb",
		"inventory": "000000000000000000000000000000bb",
		"payments":  "0af7651916cd43dd8448eb211c80319c",
		"ledger":    "000000000000000000000000000000cc",
	}
	type node struct {
		Title   string `json:"title"`
		TraceID string `json:"detail__trace_id"`
	}
	for _, target := range []string{"/api/graph/nodes", "/api/graph/data"} {
		var nodes []node
		rec := get(srv.Handler(), target)
		if target == "/api/graph/data" {
			var body struct{ Nodes []node }
			decode(t, rec, &body)
			nodes = body.Nodes
		} else {
			decode(t, rec, &nodes)
		}
		got := map[string]string{}
		for _, n := range nodes {
			got[n.Title] = n.TraceID
		}
		for n, id := range want {
			if got[n] != id {
				t.Errorf("%s: node %s: sample trace %q, want %q", target, n, got[n], id)
			}
		}
	}
}

// The rows keep no stale sample: a newer traced call replaces an edge's
// sample in its rows and its nodes' (here bringing it into a window the
// older one was not in), and a window that ends before the sample shows
// none, on the same topology (whose sample times are kept between
// answers).
func TestSampleFollowsDataAndWindow(t *testing.T) {
	st, c := tracedFixture(t)
	c.Set(t0)
	srv, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.ReadMaxStaleness = 0 })
	samples := func(from, to time.Duration) string {
		var body struct {
			Nodes []struct {
				Title   string `json:"title"`
				TraceID string `json:"detail__trace_id"`
			}
			Edges []struct {
				Source  string `json:"source"`
				Target  string `json:"target"`
				TraceID string `json:"detail__trace_id"`
			}
		}
		decode(t, get(srv.Handler(), fmt.Sprintf("/api/graph/data?from=%d&to=%d", t0.Add(-from).Unix(), t0.Add(-to).Unix())), &body)
		var got []string
		for _, n := range body.Nodes {
			if n.TraceID != "" {
				got = append(got, n.Title+" "+n.TraceID)
			}
		}
		for _, e := range body.Edges {
			if e.TraceID != "" {
				got = append(got, e.Source+">"+e.Target+" "+e.TraceID)
			}
		}
		return strings.Join(got, ", ")
	}
	// An untraced call puts the edge in the last 3 minutes; its sample
	// stays the older one, 5 minutes ago.
	c.Set(t0.Add(-2 * time.Minute))
	st.Observe([]graph.Observation{{Client: st.Node("checkout", graph.ServiceNode), Server: st.Node("payments", graph.ServiceNode),
		Kind: graph.Call, Seconds: [2]float64{0.25, -1}}}, nil)
	c.Set(t0)
	const first = "0af7651916cd43dd8448eb211c80319c"
	for _, from := range []time.Duration{time.Hour, 10 * time.Minute} {
		if got, want := samples(from, 0), "checkout "+first+", payments "+first+", checkout>payments "+first; got != want {
			t.Fatalf("the last %s: %s, want %s", from, got, want)
		}
	}
	// The same edge data, its encoded row kept: the sample is older than
	// this window.
	if got := samples(3*time.Minute, 0); got != "" {
		t.Fatalf("the last 3 minutes, before the newer call: %s", got)
	}
	c.Set(t0.Add(-time.Minute))
	st.Observe([]graph.Observation{{Client: st.Node("checkout", graph.ServiceNode), Server: st.Node("payments", graph.ServiceNode),
		Kind: graph.Call, Seconds: [2]float64{0.25, -1}, Trace: [16]byte{15: 0xbb}, Span: [8]byte{7: 0xbb}}}, nil)
	c.Set(t0)
	const second = "000000000000000000000000000000bb"
	if got, want := samples(3*time.Minute, 0), "checkout "+second+", payments "+second+", checkout>payments "+second; got != want {
		t.Fatalf("the last 3 minutes, after a newer call: %s, want %s", got, want)
	}
	if got := samples(2*time.Hour, 30*time.Minute); got != "" {
		t.Fatalf("a window before the sample: %s", got)
	}
}

package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// exemplarGraph has a call edge (two traced occurrences, the latest with
// an unknown client duration) and a messaging edge (one, its delay past
// the last bound: the +Inf bucket's).
func exemplarGraph(t *testing.T) (*graph.Store, *pairing.Processor) {
	t.Helper()
	now := time.Unix(1767225600, 500000000)
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, g)
	if err != nil {
		t.Fatal(err)
	}
	web, api, q := g.Node("web", graph.ServiceNode), g.Node("api", graph.ServiceNode), g.Node("queue", graph.ServiceNode)
	id := func(b byte) (tr [16]byte, sp [8]byte) {
		tr[0], tr[15], sp[7] = 0xab, b, b
		return
	}
	t1, s1 := id(1)
	t2, s2 := id(2)
	t3, s3 := id(3)
	g.Observe([]graph.Observation{
		{Client: web, Server: api, Kind: graph.Call, Seconds: [2]float64{0.3, 0.35}, Trace: t1, Span: s1},
	}, nil)
	now = now.Add(2 * time.Second)
	g.Observe([]graph.Observation{
		{Client: web, Server: api, Kind: graph.Call, Seconds: [2]float64{0.04, -1}, Trace: t2, Span: s2},
		{Client: api, Server: q, Kind: graph.Messaging, Seconds: [2]float64{20, -1}, AsyncSeconds: [2]float64{0.002, 0.001},
			AsyncTimed: true, Trace: t3, Span: s3, Weight: 4},
	}, nil)
	return g, p
}

// An OpenMetrics scrape carries each edge's latest trace as the exemplar
// of its request counter and of the bucket each histogram's latest
// observation fell in; the default text scrape is unchanged (no
// exemplars: the 0.0.4 format has none).
func TestExemplarExposition(t *testing.T) {
	g, p := exemplarGraph(t)
	reg := prometheus.NewRegistry()
	cfg := metrics.NewDefaultConfig()
	cfg.Exemplars = true
	h, err := metrics.NewHandler(cfg, metrics.Settings{Registerer: reg, Gatherer: reg}, g, p)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := get(t, srv.URL, "Accept", "application/openmetrics-text;version=1.0.0")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
		t.Fatalf("Content-Type %q", ct)
	}
	text := string(body)
	for _, want := range []string{
		`traces_service_graph_request_total{client="web",connection_type="",server="api"} 2.0 # {trace_id="ab000000000000000000000000000002",span_id="0000000000000002"} 1.0 1.7672256025e+09`,
		`traces_service_graph_request_total{client="api",connection_type="messaging_system",server="queue"} 4.0 # {trace_id="ab000000000000000000000000000003",span_id="0000000000000003"} 4.0 1.7672256025e+09`,
		`traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="0.1"} 1 # {trace_id="ab000000000000000000000000000002",span_id="0000000000000002"} 0.04 1.7672256025e+09`,
		`traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",server="api",le="0.4"} 2` + "\n",
		`traces_service_graph_request_client_seconds_bucket{client="api",connection_type="messaging_system",server="queue",le="0.1"} 4 # {trace_id="ab000000000000000000000000000003",span_id="0000000000000003"} 0.001 1.7672256025e+09`,
		`traces_service_graph_request_client_seconds_bucket{client="web",connection_type="",server="api",le="0.4"} 1 # {trace_id="ab000000000000000000000000000001",span_id="0000000000000001"} 0.35 1.7672256005e+09`,
		`traces_service_graph_request_messaging_system_seconds_bucket{client="api",connection_type="messaging_system",server="queue",le="+Inf"} 4 # {trace_id="ab000000000000000000000000000003",span_id="0000000000000003"} 20.0 1.7672256025e+09`,
		`traces_service_graph_request_server_seconds_bucket{client="api",connection_type="messaging_system",server="queue",le="0.1"} 4 # {trace_id="ab000000000000000000000000000003",span_id="0000000000000003"} 0.002 1.7672256025e+09`,
		"servicegraph_spans_received_total 0.0\n", // the self-telemetry, from the caller's registry
		"# EOF\n",
	} {
		if !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if !strings.Contains(text, want) {
			t.Errorf("missing %s", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
	// The default scrape is the streamed text: no exemplars.
	resp, body = get(t, srv.URL)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("default Content-Type %q", ct)
	}
	if strings.Contains(string(body), "trace_id") {
		t.Fatal("exemplar in the text format")
	}
	// Without Config.Exemplars, an OpenMetrics scrape gets the streamed
	// text, as before.
	off, err := metrics.NewHandler(metrics.NewDefaultConfig(), metrics.Settings{Registerer: prometheus.NewRegistry(), Gatherer: reg}, g, p)
	if err != nil {
		t.Fatal(err)
	}
	srvOff := httptest.NewServer(off)
	defer srvOff.Close()
	resp, body = get(t, srvOff.URL, "Accept", "application/openmetrics-text;version=1.0.0")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || strings.Contains(string(body), "trace_id") {
		t.Fatalf("exemplars off: Content-Type %q", ct)
	}
}

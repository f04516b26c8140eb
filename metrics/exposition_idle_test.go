package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// TestSeriesIdleTimeout: with --series-idle-timeout 5m, an edge last seen
// more than 5 minutes ago (by the injected clocks) has no series, in the
// streamed text nor through the Collector (the OpenMetrics path of
// --exemplars, on the handler's clock; and a registry of its own, on the
// real clock); the API's snapshot keeps it; its next occurrence brings its
// series back, the counter continuing. 0 exports every edge.
func TestSeriesIdleTimeout(t *testing.T) {
	start := time.Now().Add(-time.Hour)
	now := start
	clock := func() time.Time { return now }
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: clock})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: clock}, g)
	if err != nil {
		t.Fatal(err)
	}
	web, api, db := g.Node("web", graph.ServiceNode), g.Node("api", graph.ServiceNode), g.Node("db", graph.DatabaseNode)
	call := graph.Observation{Client: web, Server: api, Seconds: [2]float64{0.1, 0.1}}
	query := graph.Observation{Client: api, Server: db, Kind: graph.Database, Seconds: [2]float64{0.1, 0.1}}
	g.Observe([]graph.Observation{call, query}, nil)
	now = start.Add(6 * time.Minute) // web -> api idle for 6 min from here
	g.Observe([]graph.Observation{query}, nil)

	scrape := func(timeout time.Duration, at time.Time) (streamed, openMetrics, registry string) {
		t.Helper()
		cfg := metrics.NewDefaultConfig()
		cfg.SeriesIdleTimeout, cfg.Exemplars = timeout, true
		reg := prometheus.NewPedanticRegistry()
		h, err := metrics.NewHandler(cfg, metrics.Settings{Registerer: reg, Gatherer: reg, Now: func() time.Time { return at }}, g, p)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		_, a := get(t, srv.URL)
		_, om := get(t, srv.URL, "Accept", "application/openmetrics-text; version=1.0.0")
		srv.Close()
		// The Collector judges by the real clock: the graph's is an hour behind it.
		regB := prometheus.NewPedanticRegistry()
		regB.MustRegister(metrics.NewCollectorWith(g, p, cfg))
		ref := httptest.NewServer(promhttp.HandlerFor(regB, promhttp.HandlerOpts{}))
		_, b := get(t, ref.URL)
		ref.Close()
		return string(a), string(om), string(b)
	}
	const webAPI = `{client="web",connection_type="",server="api"}`
	const apiDB = `traces_service_graph_request_total{client="api",connection_type="database",server="db"} 2`
	for _, c := range []struct {
		name     string
		timeout  time.Duration
		at       time.Time
		web      bool // web -> api exported
		registry bool // the Collector's judgement (real clock, an hour ahead)
	}{
		{"off", 0, now, true, true},
		{"within", 10 * time.Minute, now, true, false},
		{"idle", 5 * time.Minute, now, false, false},
	} {
		streamed, om, registry := scrape(c.timeout, c.at)
		if got := strings.Contains(streamed, "traces_service_graph_request_total"+webAPI+" 1"); got != c.web {
			t.Errorf("%s: web -> api in the text: %v, want %v\n%s", c.name, got, c.web, streamed)
		}
		if got := strings.Contains(streamed, "servicegraph_edge_last_seen_timestamp_seconds"+webAPI); got != c.web {
			t.Errorf("%s: web -> api last seen in the text: %v, want %v", c.name, got, c.web)
		}
		if !strings.Contains(streamed, apiDB) {
			t.Errorf("%s: no %s", c.name, apiDB)
		}
		if got := strings.Contains(om, "traces_service_graph_request_total"+webAPI+" 1"); got != c.web {
			t.Errorf("%s: web -> api in OpenMetrics: %v, want %v\n%s", c.name, got, c.web, om)
		}
		if got := strings.Contains(registry, webAPI); got != c.registry {
			t.Errorf("%s: web -> api through the Collector: %v, want %v", c.name, got, c.registry)
		}
	}
	if n := len(g.Snapshot().Edges); n != 2 {
		t.Errorf("the graph holds %d edges, want 2 (idle ones stay)", n)
	}
	// Traffic again: the series is back, counting on.
	g.Observe([]graph.Observation{call}, nil)
	streamed, _, _ := scrape(5*time.Minute, now)
	if !strings.Contains(streamed, "traces_service_graph_request_total"+webAPI+" 2") {
		t.Errorf("web -> api not back at 2 after its next occurrence:\n%s", streamed)
	}
}

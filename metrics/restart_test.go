package metrics_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// After a restore from a file that a clean shutdown did not write, every
// counter-typed series derived from the graph counts from the restored
// totals (a reset to zero, then what arrives), while the API's snapshot
// keeps the totals; after a clean shutdown they continue from the totals.
// A process running from such a base never marks its final save clean.
// The streamed exposition matches promhttp's over the Collector in both.
func TestCountersAfterRestart(t *testing.T) {
	g, _ := handlerGraph(t)
	var unclean, clean bytes.Buffer
	if err := g.WriteState(&unclean); err != nil {
		t.Fatal(err)
	}
	if err := g.WriteFinalState(&clean); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		file  []byte
		total float64 // web → api requests exported after one more
		fail  float64 // of which failed
		links float64 // resolved links of bätch after 5 more
		idle  float64 // api → orders-db, not seen since
	}{
		{"unclean", unclean.Bytes(), 1, 1, 5, 0},
		{"clean", clean.Bytes(), 41, 7, 85, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1767225660, 0)
			r := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
			if err := r.ReadState(bytes.NewReader(tc.file)); err != nil {
				t.Fatal(err)
			}
			web, api, b := r.Node("web", graph.ServiceNode), r.Node(`api "v2"\`+"\n", graph.ServiceNode), r.Node("bätch", graph.ServiceNode)
			r.Observe([]graph.Observation{{Client: web, Server: api, Kind: graph.Call, Failed: true, Seconds: [2]float64{0.05, 0.05}}},
				[]graph.LinkTally{{Service: b, Result: graph.LinkResolved, N: 5}})
			p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, r)
			if err != nil {
				t.Fatal(err)
			}
			text := scrapeBoth(t, r, p)
			parser := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			val := func(name string, want map[string]string) float64 {
				for _, m := range fams[name].GetMetric() {
					match := 0
					for _, l := range m.GetLabel() {
						if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
							match++
						}
					}
					if match == len(want) {
						if h := m.GetHistogram(); h != nil {
							return float64(h.GetSampleCount())
						}
						return m.GetCounter().GetValue()
					}
				}
				t.Fatalf("no %s%v in\n%s", name, want, text)
				return 0
			}
			webAPI := map[string]string{"client": "web", "server": `api "v2"\` + "\n"}
			for _, c := range []struct {
				name string
				got  float64
				want float64
			}{
				{"requests", val("traces_service_graph_request_total", webAPI), tc.total},
				{"failed", val("traces_service_graph_request_failed_total", webAPI), tc.fail},
				{"server seconds count", val("traces_service_graph_request_server_seconds", webAPI), tc.total},
				{"links", val("servicegraph_span_links_total", map[string]string{"service": "bätch", "result": "resolved"}), tc.links},
				{"idle edge", val("traces_service_graph_request_total", map[string]string{"client": `api "v2"\` + "\n", "server": "orders-db"}), tc.idle},
			} {
				if c.got != c.want {
					t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
				}
			}
			snap := r.Snapshot()
			if (snap.Base != nil) != (tc.name == "unclean") {
				t.Fatalf("base %v", snap.Base != nil)
			}
			for _, e := range snap.Edges {
				if e.Client == "web" && e.Server == `api "v2"\`+"\n" && e.Count != 41 {
					t.Fatalf("the snapshot lost the restored total: %d, want 41", e.Count)
				}
			}
			// The next start after this process's clean shutdown: from a
			// base again if this one ran from one.
			var final bytes.Buffer
			if err := r.WriteFinalState(&final); err != nil {
				t.Fatal(err)
			}
			next := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
			if err := next.ReadState(&final); err != nil {
				t.Fatal(err)
			}
			if got := next.Snapshot().Base != nil; got != (tc.name == "unclean") {
				t.Fatalf("next start from a base: %v", got)
			}
			// It exports exactly what this process did: no reset, no jump.
			pn, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, next)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := graphCounters(text), graphCounters(scrapeBoth(t, next, pn)); a != b || a == "" {
				t.Fatalf("after a clean restart the counters changed:\n%s\nwere\n%s", b, a)
			}
		})
	}
}

// scrapeBoth returns the Handler's exposition of g, checking that it is
// promhttp's over the Collector.
func scrapeBoth(t *testing.T, g *graph.Store, p *pairing.Processor) []byte {
	t.Helper()
	regA := prometheus.NewPedanticRegistry()
	if err := metrics.Register(regA, g, p); err != nil {
		t.Fatal(err)
	}
	old := httptest.NewServer(promhttp.HandlerFor(regA, promhttp.HandlerOpts{Registry: regA}))
	defer old.Close()
	regB := prometheus.NewPedanticRegistry()
	h, err := metrics.NewHandler(metrics.NewDefaultConfig(), metrics.Settings{Registerer: regB, Gatherer: regB}, g, p)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, want := get(t, old.URL)
	_, got := get(t, srv.URL)
	got = dropFamily(got, "servicegraph_scrapes_refused_total")
	if !bytes.Equal(got, want) {
		t.Fatalf("exposition differs from promhttp's:\n%s\nwant\n%s", got, want)
	}
	return got
}

// graphCounters keeps the counter and histogram lines derived from the graph.
func graphCounters(text []byte) string {
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(l, "traces_service_graph_") || strings.HasPrefix(l, "servicegraph_span_links_total{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Scrapes of successive snapshots of one topology (the series order kept)
// still match promhttp's exposition of each.
func TestHandlerAcrossSnapshots(t *testing.T) {
	g, p := handlerGraph(t)
	regB := prometheus.NewPedanticRegistry()
	h, err := metrics.NewHandler(metrics.NewDefaultConfig(), metrics.Settings{Registerer: regB, Gatherer: regB}, g, p)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	web, api := g.Node("web", graph.ServiceNode), g.Node(`api "v2"\`+"\n", graph.ServiceNode)
	for i := range 3 {
		before := g.Snapshot()
		g.Observe([]graph.Observation{{Client: web, Server: api, Kind: graph.Call, Seconds: [2]float64{0.3, 0.3}}}, nil)
		if after := g.Snapshot(); after.Topology != before.Topology {
			t.Fatal("the topology changed with a known edge")
		}
		_, got := get(t, srv.URL)
		if want := scrapeBoth(t, g, p); graphCounters(got) != graphCounters(want) {
			t.Fatalf("scrape %d differs from promhttp's:\n%s\nwant\n%s", i, got, want)
		}
	}
}

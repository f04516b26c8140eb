package metrics_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
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

// handlerGraph is a graph with every kind of edge, names that need
// escaping, histograms with and without samples, and link tallies.
func handlerGraph(t *testing.T) (*graph.Store, *pairing.Processor) {
	t.Helper()
	now := time.Unix(1767225600, 123456789)
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, g)
	if err != nil {
		t.Fatal(err)
	}
	n := func(name string, k graph.NodeKind) graph.NodeID { return g.Node(name, k) }
	web, api, q := n("web", graph.ServiceNode), n(`api "v2"\`+"\n", graph.ServiceNode), n("queue-consumer", graph.ServiceNode)
	db, peer, b := n("orders-db", graph.DatabaseNode), n("stripe.com", graph.VirtualNode), n("bätch", graph.ServiceNode)
	var obs []graph.Observation
	for i := range 40 {
		obs = append(obs,
			graph.Observation{Client: web, Server: api, Kind: graph.Call, Failed: i%7 == 0, Seconds: [2]float64{0.013 * float64(i), 0.02 * float64(i)}},
			graph.Observation{Client: api, Server: db, Kind: graph.Database, Seconds: [2]float64{-1, 0.3}},
			graph.Observation{Client: api, Server: q, Kind: graph.Messaging, Seconds: [2]float64{float64(i) / 3, -1}},
			graph.Observation{Client: q, Server: b, Kind: graph.SpanLink, Seconds: [2]float64{20, -1}},
			graph.Observation{Client: b, Server: b, Kind: graph.SpanLink, Failed: true, Seconds: [2]float64{-1, -1}},
			graph.Observation{Client: api, Server: peer, Kind: graph.Virtual, Seconds: [2]float64{-1, 1e-7}},
		)
	}
	obs = append(obs, graph.Observation{Client: g.User(), Server: web, Kind: graph.Virtual, Seconds: [2]float64{0.5, -1}},
		graph.Observation{Client: web, Server: q, Kind: graph.Messaging, Seconds: [2]float64{-1, -1}}, // an empty delay histogram
		graph.Observation{Client: web, Server: b, Kind: graph.Call, Seconds: [2]float64{-1, -1}})      // no histogram at all
	g.Observe(obs, []graph.LinkTally{{Service: b, Result: graph.LinkResolved, N: 80}, {Service: api, Result: graph.LinkInvalid, N: 3}})
	return g, p
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// dropFamily removes a family's lines from a text exposition.
func dropFamily(text []byte, name string) []byte {
	var out []string
	for _, l := range strings.SplitAfter(string(text), "\n") {
		if strings.HasPrefix(l, name) || strings.HasPrefix(l, "# HELP "+name+" ") || strings.HasPrefix(l, "# TYPE "+name+" ") {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, ""))
}

// The handler's text is byte for byte what promhttp served over a registry
// holding the Collector, plus its own refusal counter; gzip and the name[]
// filter answer the same text.
func TestHandlerMatchesPromhttp(t *testing.T) {
	g, p := handlerGraph(t)
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

	respA, want := get(t, old.URL)
	respB, got := get(t, srv.URL)
	if ct := respB.Header.Get("Content-Type"); ct != respA.Header.Get("Content-Type") || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("content type %q, promhttp's %q", ct, respA.Header.Get("Content-Type"))
	}
	if !bytes.Contains(got, []byte("servicegraph_scrapes_refused_total{reason=\"max_concurrent_scrapes\"} 0\n")) {
		t.Fatalf("no refusal counter in\n%s", got)
	}
	got = dropFamily(got, "servicegraph_scrapes_refused_total")
	if !bytes.Equal(got, want) {
		t.Fatalf("exposition differs from promhttp's:\n%s\nwant\n%s", got, want)
	}
	for _, name := range []string{"traces_service_graph_request_messaging_system_seconds_bucket", `api \"v2\"\\\n`, "bätch", `le="+Inf"`,
		`servicegraph_span_links_total{result="invalid",service="api \"v2\"\\\n"} 3`} {
		if !bytes.Contains(got, []byte(name)) {
			t.Fatalf("fixture does not exercise %q", name)
		}
	}
	if _, gz := get(t, srv.URL, "Accept-Encoding", "gzip"); !bytes.Equal(dropFamily(gz, "servicegraph_scrapes_refused_total"), want) {
		t.Fatalf("gzip exposition differs:\n%s", gz)
	}
	q := "?name[]=traces_service_graph_request_total&name[]=servicegraph_nodes"
	_, fa := get(t, old.URL+q)
	if _, fb := get(t, srv.URL+q); !bytes.Equal(fa, fb) || !bytes.Contains(fb, []byte("servicegraph_nodes 7\n")) {
		t.Fatalf("filtered exposition:\n%s\nwant\n%s", fb, fa)
	}
	// It parses, and promtool accepts it.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := parser.TextToMetricFamilies(bytes.NewReader(got)); err != nil {
		t.Fatal(err)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(got)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed: not checked")
	}
}

// blockingGraph holds every Snapshot call until released, so that scrapes
// stay in flight.
type blockingGraph struct {
	metrics.GraphSource
	entered chan struct{}
	release chan struct{}
}

func (b *blockingGraph) Snapshot() *graph.Snapshot {
	b.entered <- struct{}{}
	<-b.release
	return b.GraphSource.Snapshot()
}

// Past max_concurrent_scrapes a scrape is refused with 503 and Retry-After,
// counted; the ones in flight complete.
func TestHandlerConcurrencyCap(t *testing.T) {
	g, p := handlerGraph(t)
	bg := &blockingGraph{GraphSource: g, entered: make(chan struct{}), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	cfg := metrics.Config{MaxConcurrentScrapes: 2}
	h, err := metrics.NewHandler(cfg, metrics.Settings{Registerer: reg, Gatherer: reg}, bg, p)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	<-bg.entered
	<-bg.entered // two scrapes hold both slots
	for want := 1; want <= 2; want++ {
		resp, body := get(t, srv.URL)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("third scrape: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if v := refused(t, reg); v != float64(want) {
			t.Fatalf("refused counter %g, want %d", v, want)
		}
	}
	close(bg.release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("scrapes in flight answered %v", codes)
	}
	go func() { <-bg.entered }()
	if resp, _ := get(t, srv.URL); resp.StatusCode != 200 {
		t.Fatalf("scrape after the others: %d", resp.StatusCode)
	}
}

func refused(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "servicegraph_scrapes_refused_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no servicegraph_scrapes_refused_total")
	return 0
}

func TestHandlerConfig(t *testing.T) {
	reg := prometheus.NewRegistry()
	g, p := handlerGraph(t)
	for _, tc := range []struct {
		name string
		cfg  metrics.Config
		set  metrics.Settings
	}{
		{"zero scrapes", metrics.Config{}, metrics.Settings{Registerer: reg, Gatherer: reg}},
		{"no registry", metrics.NewDefaultConfig(), metrics.Settings{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := metrics.NewHandler(tc.cfg, tc.set, g, p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
)

// With native histograms on, a protobuf scrape carries each duration
// histogram's native buckets (schema 3, the zero bucket, one span, the
// deltas) beside its classic buckets.
func TestNativeHistogramExposition(t *testing.T) {
	now := time.Unix(1767225600, 0)
	gcfg := graph.NewDefaultConfig()
	gcfg.NativeHistograms = true
	g := graph.MustNew(gcfg, graph.Settings{Now: func() time.Time { return now }})
	p, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, g)
	if err != nil {
		t.Fatal(err)
	}
	web, api := g.Node("web", graph.ServiceNode), g.Node("api", graph.ServiceNode)
	g.Observe([]graph.Observation{
		{Client: web, Server: api, Kind: graph.Call, Seconds: [2]float64{1, -1}},
		{Client: web, Server: api, Kind: graph.Call, Seconds: [2]float64{2, -1}, Weight: 2},
		{Client: web, Server: api, Kind: graph.Call, Seconds: [2]float64{0, -1}},
	}, nil)
	cfg := metrics.NewDefaultConfig()
	cfg.NativeHistograms = true
	reg := prometheus.NewRegistry()
	h, err := metrics.NewHandler(cfg, metrics.Settings{Registerer: reg, Gatherer: reg}, g, p)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.NewFormat(expfmt.TypeProtoDelim))
	var hist *dto.Histogram
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			break
		}
		if mf.GetName() == "traces_service_graph_request_server_seconds" {
			hist = mf.Metric[0].Histogram
		}
	}
	if hist == nil {
		t.Fatal("no server_seconds family in the protobuf answer")
	}
	if hist.GetSampleCount() != 4 || hist.GetSampleSum() != 5 || hist.GetSchema() != 3 || hist.GetZeroCount() != 1 ||
		hist.GetZeroThreshold() != graph.NativeZeroThreshold {
		t.Fatalf("histogram %v", hist)
	}
	if len(hist.PositiveSpan) != 1 || hist.PositiveSpan[0].GetOffset() != 0 || hist.PositiveSpan[0].GetLength() != 9 ||
		!slices.Equal(hist.PositiveDelta, []int64{1, -1, 0, 0, 0, 0, 0, 0, 2}) {
		t.Fatalf("native buckets %v %v", hist.PositiveSpan, hist.PositiveDelta)
	}
	// The classic buckets stay: le=1.6 holds 0 and 1, le=3.2 all four.
	var classic []uint64
	for _, b := range hist.Bucket {
		classic = append(classic, b.GetCumulativeCount())
	}
	if !slices.Equal(classic, []uint64{1, 1, 1, 1, 2, 4, 4, 4}) {
		t.Fatalf("classic buckets %v", classic)
	}
}

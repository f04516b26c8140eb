package api_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
)

// The engine is an api.Renderer as it is: serve wires it in directly.
var _ api.Renderer = (*render.Renderer)(nil)

// newRealRenderer is an in-process renderer registering on reg, closed at
// the end of the test; mod edits the default Config.
func newRealRenderer(t testing.TB, reg prometheus.Registerer, mod func(*render.Config)) *render.Renderer {
	t.Helper()
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true
	if mod != nil {
		mod(&cfg)
	}
	r, err := render.New(cfg, render.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// pageTarget is /graph.svg as the built-in page asks for it at now: the
// last hour in whole seconds, and the direction.
func pageTarget(now time.Time) string {
	return fmt.Sprintf("/graph.svg?from=%d&to=%d&rankdir=LR", now.Unix()-3600, now.Unix())
}

// TestRenderCacheWhileSpansArrive: a page refreshing while spans keep
// arriving on edges it already shows is answered from the render cache
// until a bucket closes or the topology changes.
func TestRenderCacheWhileSpansArrive(t *testing.T) {
	st, c := fixture(t) // bucket width 1 min; t0 is 30 s into a bucket
	reg := prometheus.NewRegistry()
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: newRealRenderer(t, reg, nil)}, nil)
	frontend, checkout, payments := st.Node("frontend", graph.ServiceNode), st.Node("checkout", graph.ServiceNode), st.Node("payments", graph.ServiceNode)
	counts := func() (ok, cached float64) {
		return renderTotal(t, reg, "ok"), renderTotal(t, reg, "cached")
	}
	steps := []struct {
		name       string
		at         time.Duration // after t0
		observe    [][2]graph.NodeID
		ok, cached float64 // servicegraph_render_total{format="svg"} after the step
	}{
		{name: "first view draws", at: 0, ok: 1, cached: 0},
		{name: "spans on drawn edges, same bucket", at: 5 * time.Second, observe: [][2]graph.NodeID{{frontend, checkout}, {checkout, payments}}, ok: 1, cached: 1},
		{name: "more spans, same bucket", at: 20 * time.Second, observe: [][2]graph.NodeID{{frontend, checkout}}, ok: 1, cached: 2},
		{name: "a new edge", at: 25 * time.Second, observe: [][2]graph.NodeID{{frontend, payments}}, ok: 2, cached: 2},
		{name: "after the new edge, same bucket", at: 29 * time.Second, observe: [][2]graph.NodeID{{frontend, payments}}, ok: 2, cached: 3},
		{name: "a bucket closed", at: 31 * time.Second, observe: [][2]graph.NodeID{{frontend, checkout}}, ok: 3, cached: 3},
		{name: "next refresh in the new bucket", at: 41 * time.Second, ok: 3, cached: 4},
	}
	for _, step := range steps {
		at := t0.Add(step.at)
		c.Set(at)
		for _, o := range step.observe {
			st.Observe([]graph.Observation{{Client: o[0], Server: o[1], Kind: graph.Call, Seconds: [2]float64{0.1, -1}}}, nil)
		}
		if rec := get(s.Handler(), pageTarget(at)); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", step.name, rec.Code, rec.Body)
		}
		if ok, cached := counts(); ok != step.ok || cached != step.cached {
			t.Fatalf("%s: render_total ok=%v cached=%v, want ok=%v cached=%v", step.name, ok, cached, step.ok, step.cached)
		}
	}
}

// renderTotal is servicegraph_render_total{format="svg",result=result}.
func renderTotal(t testing.TB, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "servicegraph_render_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["format"] == "svg" && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no servicegraph_render_total{format=\"svg\",result=%q}", result)
	return 0
}

// TestRenderTooLargeWithEngine: the Graphviz engine, wired as serve wires
// it (no adapter), answers a view above its caps with 422 in the one error
// shape, the counts once and the URL hint once.
func TestRenderTooLargeWithEngine(t *testing.T) {
	st, c := fixture(t)
	reg := prometheus.NewRegistry()
	r := newRealRenderer(t, reg, func(cfg *render.Config) { cfg.MaxNodes = 3 })
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: r}, nil)
	rec := get(s.Handler(), "/graph.svg")
	want := `{"error":"graph too large to draw: 8 nodes and 8 edges, the limits are 3 nodes and 1500 edges; ` + hintJSON + `"}` + "\n"
	if rec.Code != http.StatusUnprocessableEntity || rec.Body.String() != want {
		t.Errorf("%d %s\nwant 422 %s", rec.Code, rec.Body, want)
	}
}

package graph_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

func dimStore(t *testing.T, maxValues int, dims ...string) *graph.Store {
	t.Helper()
	cfg := graph.NewDefaultConfig()
	cfg.Dimensions, cfg.MaxDimensionValues, cfg.MaxNameBytes = dims, maxValues, 16
	return graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return time.Unix(1e9, 0) }})
}

// TestDimTuple checks the values a tuple keeps: cut to MaxNameBytes at a
// rune boundary, OverflowNode's spelling escaped, past MaxDimensionValues
// distinct values of a dimension a new one folded into OverflowNode and
// counted per dimension, the same values the same tuple.
func TestDimTuple(t *testing.T) {
	g := dimStore(t, 2, "service.namespace", "env")
	values := func(vals ...string) []string {
		t.Helper()
		id := g.DimTuple(vals)
		snapVals := g.DimTupleValues(id)
		return snapVals
	}
	if id := g.DimTuple([]string{"", ""}); id != graph.DimTupleNone {
		t.Errorf("empty values: tuple %d, want DimTupleNone", id)
	}
	for _, c := range []struct {
		in, want []string
	}{
		{[]string{"shop", ""}, []string{"shop", ""}},
		{[]string{"shop", "prod"}, []string{"shop", "prod"}},
		{[]string{"éééééééééé", "prod"}, []string{"éééééééé", "prod"}},        // 20 bytes cut to 16
		{[]string{"core", "prod"}, []string{graph.OverflowNode, "prod"}},      // a third namespace
		{[]string{"shop", "__overflow__"}, []string{"shop", "__overflow__~"}}, // a real value spelled like the overflow
		{[]string{"shop", "canary"}, []string{"shop", graph.OverflowNode}},    // a third env
		{[]string{"core", "canary"}, []string{graph.OverflowNode, graph.OverflowNode}},
	} {
		if got := values(c.in...); !slices.Equal(got, c.want) {
			t.Errorf("DimTuple(%q): %q, want %q", c.in, got, c.want)
		}
	}
	if a, b := g.DimTuple([]string{"shop", "prod"}), g.DimTuple([]string{"shop", "prod"}); a != b {
		t.Errorf("the same values make tuples %d and %d", a, b)
	}
	st := g.Stats().Dims
	if want := []uint64{2, 2}; !slices.Equal(st.ValuesFolded, want) {
		t.Errorf("ValuesFolded %v, want %v", st.ValuesFolded, want)
	}
	if !slices.Equal(st.Dimensions, []string{"service.namespace", "env"}) {
		t.Errorf("Dimensions %q", st.Dimensions)
	}
}

// TestDimSeriesFold checks an edge's sub-series at MaxDimensionValues:
// a new combination counts in the all-OverflowNode sub-series (counted),
// and the sub-series still sum to the edge's totals.
func TestDimSeriesFold(t *testing.T) {
	g := dimStore(t, 2, "ns")
	a, b := g.Node("a", graph.ServiceNode), g.Node("b", graph.ServiceNode)
	x, y := g.DimTuple([]string{"x"}), g.DimTuple([]string{"y"})
	obs := []graph.Observation{
		{Client: a, Server: b, ClientDims: x, ServerDims: y, Seconds: [2]float64{0.05, 0.06}},
		{Client: a, Server: b, ClientDims: x, ServerDims: x, Seconds: [2]float64{0.3, 0.4}, Failed: true},
		{Client: a, Server: b, ClientDims: y, ServerDims: y, Seconds: [2]float64{1, 2}, Weight: 3}, // a third: folded
		{Client: a, Server: b, ClientDims: x, ServerDims: y, Seconds: [2]float64{0.05, 0.06}},
	}
	g.Observe(obs, nil)
	snap := g.Snapshot()
	e := snap.Edges[0]
	var got []string
	var count, failed uint64
	for _, d := range e.Dims {
		got = append(got, strings.Join(d.Client, ",")+"->"+strings.Join(d.Server, ",")+" "+
			strings.Repeat("|", int(d.Count))+" "+strings.Repeat("!", int(d.Failed)))
		count += d.Count
		failed += d.Failed
	}
	want := []string{"__overflow__->__overflow__ ||| ", "x->x | !", "x->y || "}
	if !slices.Equal(got, want) {
		t.Errorf("sub-series %q, want %q", got, want)
	}
	if count != e.Count || failed != e.Failed || e.Count != 6 {
		t.Errorf("sub-series sum to %d/%d, edge %d/%d (want 6/1)", count, failed, e.Count, e.Failed)
	}
	if st := g.Stats().Dims; st.SeriesFolded != 1 || st.Series != 3 {
		t.Errorf("SeriesFolded %d, Series %d; want 1, 3", st.SeriesFolded, st.Series)
	}
	if h := e.Dims[0].Hist[0]; h.Count != 3 || h.Sum != 3 || h.Counts[4] != 3 {
		t.Errorf("folded server histogram %+v, want 3 observations of 1 s (le 1.6)", h)
	}
}

// TestNoDimensions checks that without dimensions nothing is kept.
func TestNoDimensions(t *testing.T) {
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
	if id := g.DimTuple([]string{"x"}); id != graph.DimTupleNone {
		t.Errorf("tuple %d without dimensions", id)
	}
	a, b := g.Node("a", graph.ServiceNode), g.Node("b", graph.ServiceNode)
	g.Observe([]graph.Observation{{Client: a, Server: b, ClientDims: 5}}, nil)
	if d := g.Snapshot().Edges[0].Dims; d != nil {
		t.Errorf("sub-series without dimensions: %+v", d)
	}
}

// TestDimensionsConfig checks the configuration's refusals.
func TestDimensionsConfig(t *testing.T) {
	cfg := graph.NewDefaultConfig()
	cfg.Dimensions = []string{"service.namespace", "service_namespace", "", "a", "b", "c", "d", "e", "f", "g"}
	cfg.MaxDimensionValues, cfg.MaxDimensionSeries = 0, 0
	err := cfg.Validate()
	for _, want := range []string{
		"dimensions: at most 8, got 10",
		`dimensions: "service.namespace" and "service_namespace" both make the labels client_service_namespace and server_service_namespace`,
		"dimensions: an attribute name must not be empty",
		"max_dimension_values must be at least 1, got 0",
		"max_dimension_series must be at least 1, got 0",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q in it", err, want)
		}
	}
}

// TestDimSeriesGlobalCap checks MaxDimensionSeries: past it, a new
// combination of any edge counts in that edge's all-OverflowNode
// sub-series (counted), whatever the edge's own count.
func TestDimSeriesGlobalCap(t *testing.T) {
	cfg := graph.NewDefaultConfig()
	cfg.Dimensions, cfg.MaxDimensionSeries = []string{"ns"}, 3
	g := graph.MustNew(cfg, graph.Settings{})
	a, b, c := g.Node("a", graph.ServiceNode), g.Node("b", graph.ServiceNode), g.Node("c", graph.ServiceNode)
	x, y := g.DimTuple([]string{"x"}), g.DimTuple([]string{"y"})
	g.Observe([]graph.Observation{
		{Client: a, Server: b, ClientDims: x}, {Client: a, Server: b, ClientDims: y},
		{Client: a, Server: c, ClientDims: x}, {Client: a, Server: c, ClientDims: y}, {Client: a, Server: c, ClientDims: y},
	}, nil)
	var got []string
	for _, e := range g.Snapshot().Edges {
		for _, d := range e.Dims {
			got = append(got, e.Server+":"+d.Client[0]+strings.Repeat("|", int(d.Count)))
		}
	}
	want := []string{"b:x|", "b:y|", "c:__overflow__||", "c:x|"}
	if !slices.Equal(got, want) {
		t.Errorf("sub-series %q, want %q", got, want)
	}
	if st := g.Stats().Dims; st.SeriesFolded != 2 || st.Series != 4 {
		t.Errorf("SeriesFolded %d, Series %d; want 2, 4 (3 + an overflow one)", st.SeriesFolded, st.Series)
	}
}

// TestDimsPersist checks the sub-series in the state file: a clean
// file's continue (and still sum to the edge's totals), an unclean one's
// start from zero (no base for them), and a file saved with other
// dimensions restores none.
func TestDimsPersist(t *testing.T) {
	now := time.Unix(1e9, 0)
	newStore := func(dims ...string) *graph.Store {
		cfg := graph.NewDefaultConfig()
		cfg.Dimensions = dims
		return graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return now }})
	}
	g := newStore("ns")
	a, b := g.Node("a", graph.ServiceNode), g.Node("b", graph.ServiceNode)
	x, y := g.DimTuple([]string{"x"}), g.DimTuple([]string{"y"})
	g.Observe([]graph.Observation{
		{Client: a, Server: b, ClientDims: x, ServerDims: y, Seconds: [2]float64{0.05, 0.06}},
		{Client: a, Server: b, ClientDims: y, ServerDims: y, Seconds: [2]float64{0.3, 0.4}, Failed: true},
	}, nil)
	series := func(g *graph.Store) []string {
		var out []string
		for _, e := range g.Snapshot().Edges {
			for _, d := range e.Dims {
				out = append(out, fmt.Sprintf("%s->%s %d %d %d %.2f", d.Client[0], d.Server[0], d.Count, d.Failed, d.Hist[0].Count, d.Hist[0].Sum))
			}
		}
		return out
	}
	want := []string{"x->y 1 0 1 0.05", "y->y 1 1 1 0.30"}
	if got := series(g); !slices.Equal(got, want) {
		t.Fatalf("before saving: %q, want %q", got, want)
	}
	for _, c := range []struct {
		name  string
		clean bool
		dims  []string
		want  []string
	}{
		{"clean", true, []string{"ns"}, want},
		{"unclean", false, []string{"ns"}, nil},
		{"other dimensions", true, []string{"env"}, nil},
	} {
		var buf bytes.Buffer
		write := g.WriteState
		if c.clean {
			write = g.WriteFinalState
		}
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		r := newStore(c.dims...)
		if err := r.ReadState(&buf); err != nil {
			t.Fatal(err)
		}
		if got := series(r); !slices.Equal(got, c.want) {
			t.Errorf("%s: restored %q, want %q", c.name, got, c.want)
		}
		if c.clean && c.want != nil {
			// Traffic after the restart: still the sums of the edge.
			x2, y2 := r.DimTuple([]string{"x"}), r.DimTuple([]string{"y"})
			r.Observe([]graph.Observation{{Client: r.Node("a", graph.ServiceNode), Server: r.Node("b", graph.ServiceNode),
				ClientDims: x2, ServerDims: y2, Seconds: [2]float64{0.05, 0.06}}}, nil)
			e := r.Snapshot().Edges[0]
			var n uint64
			for _, d := range e.Dims {
				n += d.Count
			}
			if e.Count != 3 || n != 3 || r.Stats().Dims.Series != 2 {
				t.Errorf("%s: after one more: edge %d, sub-series sum %d, %d held; want 3, 3, 2", c.name, e.Count, n, r.Stats().Dims.Series)
			}
		}
	}
}

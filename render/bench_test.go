package render_test

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

// layeredView builds a realistic topology of n services, from a fixed seed:
// user → entry services → three layers of fan-out → a few databases, with a
// queue (producers in layer 1, consumers in layer 3: dashed messaging edges),
// a few span links and a batch job's self-loop.
func layeredView(n int) *graph.View {
	rng := rand.New(rand.NewPCG(20250102, uint64(n)))
	entry := max(1, n/10)
	sizes := []int{entry, (n - entry) / 3, (n - entry) / 3, n - entry - 2*((n-entry)/3)}
	var layers [][]string
	nodes := []graph.ViewNode{}
	for l, size := range sizes {
		var names []string
		for i := range size {
			name := fmt.Sprintf("l%d-svc-%03d", l, i)
			names = append(names, name)
			nodes = append(nodes, graph.ViewNode{Name: name, Kind: graph.ServiceNode})
		}
		layers = append(layers, names)
	}
	var dbs []string
	for i := range max(2, n/20) {
		dbs = append(dbs, fmt.Sprintf("db-%02d", i))
		nodes = append(nodes, graph.ViewNode{Name: dbs[i], Kind: graph.DatabaseNode})
	}
	nodes = append(nodes, graph.ViewNode{Name: graph.UserNode, Kind: graph.VirtualNode})

	seen := map[[3]string]bool{}
	var edges []graph.ViewEdge
	add := func(c, s string, k graph.Kind) {
		key := [3]string{c, s, k.String()}
		if seen[key] {
			return
		}
		seen[key] = true
		count := uint64(1 + rng.IntN(50000))
		failed := uint64(0)
		if rng.IntN(10) == 0 {
			failed = count * uint64(rng.IntN(8)) / 100
		}
		edges = append(edges, graph.ViewEdge{Client: c, Server: s, Kind: k, Count: count, Failed: failed,
			Rate: float64(count) / 3600, MeanSeconds: rng.Float64()})
	}
	pick := func(names []string) string { return names[rng.IntN(len(names))] }
	for _, e := range layers[0] {
		add(graph.UserNode, e, graph.Virtual)
	}
	for l := 1; l < len(layers); l++ {
		for _, s := range layers[l] { // everyone has a caller
			add(pick(layers[l-1]), s, graph.Call)
		}
		for _, c := range layers[l-1] { // and fans out
			for range 1 + rng.IntN(2) {
				add(c, pick(layers[l]), graph.Call)
			}
		}
	}
	for _, c := range layers[3] {
		add(c, pick(dbs), graph.Database)
	}
	for range max(2, n/15) {
		add(pick(layers[1]), pick(layers[3]), graph.Messaging)
	}
	for range max(1, n/30) {
		add(pick(layers[2]), pick(layers[3]), graph.SpanLink)
	}
	batch := layers[3][0]
	add(batch, batch, graph.SpanLink)

	slices.SortFunc(nodes, func(a, b graph.ViewNode) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(edges, func(a, b graph.ViewEdge) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Server, b.Server), cmp.Compare(a.Kind, b.Kind))
	})
	return &graph.View{From: picturetest.T0, To: picturetest.T0.Add(time.Hour), Nodes: nodes, Edges: edges}
}

// BenchmarkRender lays out SVG in process (the cost a child process adds on
// top is its start, ~0.1 s). Every iteration has a new key: no cache hits.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{20, 100, 300, 400, 500} {
		b.Run("services="+strconv.Itoa(n), func(b *testing.B) {
			v := layeredView(n)
			cfg := render.NewDefaultConfig()
			cfg.InProcess = true
			cfg.MaxNodes, cfg.MaxEdges = 1000, 5000 // 300 services come with databases and user
			cfg.Timeout = 10 * time.Minute
			r, err := render.New(cfg, render.Settings{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := r.Render(b.Context(), strconv.Itoa(i), v, picture.SVG, picture.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/render")
			b.ReportMetric(float64(len(v.Nodes)), "nodes")
			b.ReportMetric(float64(len(v.Edges)), "edges")
		})
	}
}

// TestLayeredViewShape keeps the benchmark's input honest.
func TestLayeredViewShape(t *testing.T) {
	v := layeredView(300)
	if len(v.Nodes) < 300 || len(v.Edges) > render.DefaultMaxEdges {
		t.Errorf("%d nodes, %d edges", len(v.Nodes), len(v.Edges))
	}
	kinds := map[graph.Kind]int{}
	for _, e := range v.Edges {
		kinds[e.Kind]++
	}
	for _, k := range graph.Kinds {
		if kinds[k] == 0 {
			t.Errorf("no %s edge", k)
		}
	}
}

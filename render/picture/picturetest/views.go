// Package picturetest holds the graph views the render and picture tests
// draw: one set of fixtures for both packages' golden files.
package picturetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// T0 and Window are the views' window: an hour from T0.
var (
	T0     = time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	Window = time.Hour
)

// Svc is a service node with count requests (failed of them) over the window.
func Svc(name string, count, failed uint64) graph.ViewNode {
	return Node(name, graph.ServiceNode, count, failed)
}

// Node is a node of kind k.
func Node(name string, k graph.NodeKind, count, failed uint64) graph.ViewNode {
	return graph.ViewNode{Name: name, Kind: k, Count: count, Failed: failed, Rate: float64(count) / Window.Seconds()}
}

// Edge is an edge of kind k with mean seconds, seen over the whole window.
func Edge(client, server string, k graph.Kind, count, failed uint64, mean float64) graph.ViewEdge {
	return graph.ViewEdge{Client: client, Server: server, Kind: k, Count: count, Failed: failed,
		Rate: float64(count) / Window.Seconds(), MeanSeconds: mean, FirstSeen: T0, LastSeen: T0.Add(Window)}
}

// View is a view of the window with these nodes and edges.
func View(nodes []graph.ViewNode, edges []graph.ViewEdge) *graph.View {
	return &graph.View{From: T0, To: T0.Add(Window), Nodes: nodes, Edges: edges}
}

// KindsView has every Node kind and every Edge kind, a self-loop span link,
// and a call and a span link between the same two services.
func KindsView() *graph.View {
	return View(
		[]graph.ViewNode{
			Node(graph.OverflowNode, graph.VirtualNode, 3, 0),
			Svc("batch", 40, 0),
			Svc("checkout", 1200, 6),
			Svc("frontend", 5000, 0),
			Svc("payments", 1300, 130),
			Node("postgres", graph.DatabaseNode, 900, 2),
			Svc("shipping", 800, 20),
			Node("stripe.com", graph.VirtualNode, 400, 0),
			Node(graph.UserNode, graph.VirtualNode, 5000, 0),
		},
		[]graph.ViewEdge{
			Edge("batch", "batch", graph.SpanLink, 40, 0, 12.5),
			Edge("checkout", "payments", graph.Call, 1200, 6, 0.035),
			Edge("checkout", "payments", graph.SpanLink, 100, 0, 0.2),
			Edge("checkout", "shipping", graph.Messaging, 800, 20, 1.5),
			Edge("frontend", graph.OverflowNode, graph.Call, 3, 0, 0),
			Edge("frontend", "checkout", graph.Call, 1200, 0, 0.12),
			Edge("payments", "postgres", graph.Database, 900, 2, 0.004),
			Edge("payments", "stripe.com", graph.Virtual, 400, 0, 0.25),
			Edge(graph.UserNode, "frontend", graph.Virtual, 5000, 0, 0.3),
		})
}

// Names that need escaping (NamesView uses them).
var (
	QuoteName   = `say "hi"`
	SlashName   = `C:\svc\`
	NewlineName = "line1\nline2"
	UnicodeName = "注文サービス-🚀"
	EntityName  = "a&b &amp; &bogus;"
	LongName    = "very-long-" + strings.Repeat("abcdefghij", 20)
	LegendName  = "legend:service" // collides with a legend node ID
	GhostName   = "not-in-nodes"   // an edge end the view does not list
)

// NamesView has names that need escaping in DOT, SVG and HTML.
func NamesView() *graph.View {
	return View(
		[]graph.ViewNode{
			Svc(SlashName, 10, 0),
			Svc(EntityName, 10, 1),
			Svc(LegendName, 10, 0),
			Svc(NewlineName, 10, 0),
			Svc(QuoteName, 10, 0),
			Node(LongName, graph.DatabaseNode, 10, 0),
			Svc(UnicodeName, 10, 0),
		},
		[]graph.ViewEdge{
			Edge(QuoteName, SlashName, graph.Call, 10, 0, 0.01),
			Edge(SlashName, NewlineName, graph.Messaging, 10, 0, 0.5),
			Edge(NewlineName, UnicodeName, graph.SpanLink, 10, 0, 0.5),
			Edge(UnicodeName, EntityName, graph.Call, 10, 1, 0.01),
			Edge(EntityName, LongName, graph.Database, 10, 0, 0.002),
			Edge(LegendName, QuoteName, graph.Call, 10, 0, 0.01),
			Edge(LegendName, GhostName, graph.Virtual, 10, 0, 0),
		})
}

// BigView is a deterministic graph of n services and m edges, far too
// costly to lay out in milliseconds.
func BigView(n, m int) *graph.View {
	v := View(nil, nil)
	for i := range n {
		v.Nodes = append(v.Nodes, Svc(fmt.Sprintf("svc-%03d", i), 10, 0))
	}
	for i := range m {
		a, b := (i*7919)%n, (i*104729+13)%n
		v.Edges = append(v.Edges, Edge(v.Nodes[a].Name, v.Nodes[b].Name, graph.Kinds[i%len(graph.Kinds)], uint64(i+1), 0, 0.1))
	}
	return v
}

// Diff is the diff of two hours, the baseline just before the window:
// every status, a latency change with percentiles (an edge whose window
// histogram is known) and one with means, a rate and an error change, an
// added async edge (still dashed) and a removed database.
//
//	frontend→checkout call      1000 → 3000             changed: rate
//	checkout→payments call      1200 → 1200, 6 → 60 err changed: errors
//	checkout→shipping messaging 800 → 800, delay p95    changed: latency (delay)
//	checkout→fraud span_link    none → 50               added (fraud too)
//	checkout→legacy-db database 400 → none              removed (legacy-db too)
//	user→frontend virtual_node  1000 → 1100, 35 → 40 ms same (+10%, +14%)
func Diff() *graph.Diff {
	bounds := []float64{0.1, 0.2, 0.4, 0.8, 1.6, 3.2}
	hist := func(counts ...uint64) *graph.Histogram { return &graph.Histogram{Counts: counts} }
	old := graph.Sample{From: T0.Add(-Window), To: T0, Bounds: bounds,
		Nodes: []graph.ViewNode{
			Svc("checkout", 1000, 0), Svc("frontend", 1000, 0), Node("legacy-db", graph.DatabaseNode, 400, 0),
			Svc("payments", 1200, 6), Svc("shipping", 800, 0), Node(graph.UserNode, graph.VirtualNode, 1000, 0),
		},
		Edges: []graph.SampleEdge{
			{ViewEdge: Edge("checkout", "legacy-db", graph.Database, 400, 0, 0.01)},
			{ViewEdge: Edge("checkout", "payments", graph.Call, 1200, 6, 0.035)},
			{ViewEdge: Edge("checkout", "shipping", graph.Messaging, 800, 0, 0.15), Hist: hist(0, 800, 0, 0, 0, 0, 0)},
			{ViewEdge: Edge("frontend", "checkout", graph.Call, 1000, 0, 0.05)},
			{ViewEdge: Edge(graph.UserNode, "frontend", graph.Virtual, 1000, 0, 0.035)},
		},
	}
	cur := graph.Sample{From: T0, To: T0.Add(Window), Bounds: bounds,
		Nodes: []graph.ViewNode{
			Svc("checkout", 3000, 0), Svc("fraud", 50, 0), Svc("frontend", 1100, 0),
			Svc("payments", 1200, 60), Svc("shipping", 800, 0), Node(graph.UserNode, graph.VirtualNode, 1100, 0),
		},
		Edges: []graph.SampleEdge{
			{ViewEdge: Edge("checkout", "fraud", graph.SpanLink, 50, 0, 0.3)},
			{ViewEdge: Edge("checkout", "payments", graph.Call, 1200, 60, 0.035)},
			{ViewEdge: Edge("checkout", "shipping", graph.Messaging, 800, 0, 0.9), Hist: hist(0, 0, 0, 400, 400, 0, 0)},
			{ViewEdge: Edge("frontend", "checkout", graph.Call, 3000, 0, 0.05)},
			{ViewEdge: Edge(graph.UserNode, "frontend", graph.Virtual, 1100, 0, 0.04)},
		},
	}
	d, err := graph.Compare(old, cur, graph.DefaultThresholds)
	if err != nil {
		panic(err)
	}
	return d
}

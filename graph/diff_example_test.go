package graph_test

import (
	"fmt"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// Compare two windows of the graph: a new consumer, a gone dependency and
// a call whose rate tripled.
func ExampleCompare() {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	edge := func(client, server string, k graph.Kind, count uint64) graph.SampleEdge {
		return graph.SampleEdge{ViewEdge: graph.ViewEdge{Client: client, Server: server, Kind: k, Count: count, Rate: float64(count) / 3600}}
	}
	svc := func(name string, count uint64) graph.ViewNode {
		return graph.ViewNode{Name: name, Kind: graph.ServiceNode, Count: count, Rate: float64(count) / 3600}
	}
	lastWeek := graph.Sample{From: t0, To: t0.Add(time.Hour),
		Nodes: []graph.ViewNode{svc("checkout", 100), svc("legacy", 50), svc("payments", 100)},
		Edges: []graph.SampleEdge{edge("checkout", "legacy", graph.Call, 50), edge("checkout", "payments", graph.Call, 100)}}
	now := graph.Sample{From: t0.Add(7 * 24 * time.Hour), To: t0.Add(7*24*time.Hour + time.Hour),
		Nodes: []graph.ViewNode{svc("checkout", 300), svc("fraud", 20), svc("payments", 300)},
		Edges: []graph.SampleEdge{edge("checkout", "fraud", graph.Messaging, 20), edge("checkout", "payments", graph.Call, 300)}}
	d, err := graph.Compare(lastWeek, now, graph.DefaultThresholds)
	if err != nil {
		panic(err)
	}
	for _, e := range d.Edges {
		fmt.Println(e.Client, "→", e.Server, e.Kind, e.Status, e.Reasons)
	}
	// Output:
	// checkout → fraud messaging_system added []
	// checkout → legacy call removed []
	// checkout → payments call changed [rate]
}

package picture_test

import (
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

var (
	t0     = time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	window = time.Hour
)

func svc(name string, count, failed uint64) graph.ViewNode {
	return node(name, graph.ServiceNode, count, failed)
}

func node(name string, k graph.NodeKind, count, failed uint64) graph.ViewNode {
	return graph.ViewNode{Name: name, Kind: k, Count: count, Failed: failed, Rate: float64(count) / window.Seconds()}
}

func edge(client, server string, k graph.Kind, count, failed uint64, mean float64) graph.ViewEdge {
	return graph.ViewEdge{Client: client, Server: server, Kind: k, Count: count, Failed: failed,
		Rate: float64(count) / window.Seconds(), MeanSeconds: mean, FirstSeen: t0, LastSeen: t0.Add(window)}
}

func view(nodes []graph.ViewNode, edges []graph.ViewEdge) *graph.View {
	return &graph.View{From: t0, To: t0.Add(window), Nodes: nodes, Edges: edges}
}

// kindsView has every node kind and every edge kind, a self-loop span link,
// and a call and a span link between the same two services.
func kindsView() *graph.View {
	return view(
		[]graph.ViewNode{
			node(graph.OverflowNode, graph.VirtualNode, 3, 0),
			svc("batch", 40, 0),
			svc("checkout", 1200, 6),
			svc("frontend", 5000, 0),
			svc("payments", 1300, 130),
			node("postgres", graph.DatabaseNode, 900, 2),
			svc("shipping", 800, 20),
			node("stripe.com", graph.VirtualNode, 400, 0),
			node(graph.UserNode, graph.VirtualNode, 5000, 0),
		},
		[]graph.ViewEdge{
			edge("batch", "batch", graph.SpanLink, 40, 0, 12.5),
			edge("checkout", "payments", graph.Call, 1200, 6, 0.035),
			edge("checkout", "payments", graph.SpanLink, 100, 0, 0.2),
			edge("checkout", "shipping", graph.Messaging, 800, 20, 1.5),
			edge("frontend", graph.OverflowNode, graph.Call, 3, 0, 0),
			edge("frontend", "checkout", graph.Call, 1200, 0, 0.12),
			edge("payments", "postgres", graph.Database, 900, 2, 0.004),
			edge("payments", "stripe.com", graph.Virtual, 400, 0, 0.25),
			edge(graph.UserNode, "frontend", graph.Virtual, 5000, 0, 0.3),
		})
}

// Names that need escaping.
var (
	quoteName   = `say "hi"`
	slashName   = `C:\svc\`
	newlineName = "line1\nline2"
	unicodeName = "注文サービス-🚀"
	entityName  = "a&b &amp; &bogus;"
	longName    = "very-long-" + strings.Repeat("abcdefghij", 20)
	legendName  = "legend:service" // collides with a legend node ID
	ghostName   = "not-in-nodes"   // an edge end the view does not list
)

func namesView() *graph.View {
	return view(
		[]graph.ViewNode{
			svc(slashName, 10, 0),
			svc(entityName, 10, 1),
			svc(legendName, 10, 0),
			svc(newlineName, 10, 0),
			svc(quoteName, 10, 0),
			node(longName, graph.DatabaseNode, 10, 0),
			svc(unicodeName, 10, 0),
		},
		[]graph.ViewEdge{
			edge(quoteName, slashName, graph.Call, 10, 0, 0.01),
			edge(slashName, newlineName, graph.Messaging, 10, 0, 0.5),
			edge(newlineName, unicodeName, graph.SpanLink, 10, 0, 0.5),
			edge(unicodeName, entityName, graph.Call, 10, 1, 0.01),
			edge(entityName, longName, graph.Database, 10, 0, 0.002),
			edge(legendName, quoteName, graph.Call, 10, 0, 0.01),
			edge(legendName, ghostName, graph.Virtual, 10, 0, 0),
		})
}

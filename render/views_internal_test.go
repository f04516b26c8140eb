package render

import (
	"fmt"

	"github.com/servicegraph/servicegraph/graph"
)

// overrunView takes Graphviz well over a millisecond to lay out.
func overrunView() *graph.View {
	v := &graph.View{}
	const n = 40
	for i := range n {
		v.Nodes = append(v.Nodes, graph.ViewNode{Name: fmt.Sprintf("s%02d", i), Kind: graph.ServiceNode, Count: 1})
	}
	for i := range 3 * n {
		v.Edges = append(v.Edges, graph.ViewEdge{Client: v.Nodes[i%n].Name, Server: v.Nodes[(i*7+3)%n].Name, Kind: graph.Call, Count: uint64(i + 1)})
	}
	return v
}

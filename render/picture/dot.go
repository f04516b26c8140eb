package picture

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/servicegraph/servicegraph/graph"
)

// GraphName is the name of the DOT graph, which SVG output carries as the
// document's <title>.
const GraphName = "servicegraph"

// WriteDOT writes deterministic DOT text for v: identical bytes for identical
// input. Nodes are sorted by name and edges by client, server and kind; node
// IDs are the exact (escaped) names and every node and edge has a stable SVG
// element id. Async edges (messaging_system, span_link) are dashed. v is only
// read. With o.Diff, the diff is drawn instead (v is not read): see
// writeDiffDOT.
func WriteDOT(w io.Writer, v *graph.View, o Options) error {
	if v == nil {
		return errors.New("nil view")
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("picture options: %w", err)
	}
	o = o.Normalized()
	var b bytes.Buffer
	if o.Diff != nil {
		writeDiffDOT(&b, o.Diff, o)
	} else {
		writeDOT(&b, v, o)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeHeader opens the graph: its attributes and the node and edge
// defaults.
func writeHeader(b *bytes.Buffer, o Options) {
	fmt.Fprintf(b, "digraph %s {\n", quoteID(GraphName))
	fmt.Fprintf(b, "\tgraph [id=%q, rankdir=%s, bgcolor=\"white\", fontname=%q, fontsize=11, nodesep=0.35, ranksep=0.6, pad=0.2, outputorder=edgesfirst", GraphName, o.RankDir, fontName)
	if o.Title != "" {
		fmt.Fprintf(b, ", label=%s, labelloc=t, labeljust=l", quoteText(o.Title))
	}
	b.WriteString("];\n")
	fmt.Fprintf(b, "\tnode [fontname=%q, fontsize=10, margin=\"0.15,0.06\"];\n", fontName)
	fmt.Fprintf(b, "\tedge [fontname=%q, fontsize=8, arrowsize=0.7];\n", fontName)
}

func writeDOT(b *bytes.Buffer, v *graph.View, o Options) {
	nodes := slices.Clone(v.Nodes)
	slices.SortFunc(nodes, func(a, b graph.ViewNode) int { return cmp.Compare(a.Name, b.Name) })
	nodes = slices.CompactFunc(nodes, func(a, b graph.ViewNode) bool { return a.Name == b.Name })
	edges := slices.Clone(v.Edges)
	slices.SortStableFunc(edges, func(a, b graph.ViewEdge) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Server, b.Server), cmp.Compare(a.Kind, b.Kind))
	})

	// Names that edges use but the view does not list are drawn as virtual.
	taken := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		taken[n.Name] = true
	}
	var implicit []string
	var maxCount uint64
	for _, e := range edges {
		for _, n := range []string{e.Client, e.Server} {
			if !taken[n] {
				taken[n] = true
				implicit = append(implicit, n)
			}
		}
		maxCount = max(maxCount, e.Count)
	}
	for _, n := range implicit {
		nodes = append(nodes, graph.ViewNode{Name: n, Kind: graph.VirtualNode})
	}
	slices.SortFunc(nodes, func(a, b graph.ViewNode) int { return cmp.Compare(a.Name, b.Name) })

	writeHeader(b, o)
	writeLegend(b, taken, legendErrorColours)
	for i := range nodes {
		n := &nodes[i]
		fmt.Fprintf(b, "\t%s [id=%q, label=%s, tooltip=%s, %s];\n",
			quoteID(n.Name), elementID("n", n.Name), quoteText(nodeLabel(n.Name)), quoteText(nodeTooltip(n)), nodeAttrs(n))
	}
	for i := range edges {
		e := &edges[i]
		lines := edgeLabel(e, o)
		for j := range lines {
			lines[j] = escText(lines[j])
		}
		colour := errColour(e.ErrorRate())
		style, arrow := "solid", "normal"
		if e.Kind.Async() {
			style, arrow = "dashed", "vee"
		}
		fmt.Fprintf(b, "\t%s -> %s [id=%q, label=\"%s\", tooltip=%s, style=%s, arrowhead=%s, color=%q, fontcolor=%q, penwidth=%s];\n",
			quoteID(e.Client), quoteID(e.Server), elementID("e", e.Client, e.Server, e.Kind.String()),
			labelText(lines, e.Client == e.Server, o.RankDir), quoteText(edgeTooltip(e)), style, arrow, colour, colour,
			strconv.FormatFloat(penWidth(e.Count, maxCount), 'f', 2, 64))
	}
	b.WriteString("}\n")
}

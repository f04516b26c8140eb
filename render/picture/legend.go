package picture

import (
	"fmt"
	"io"
)

// Colour notes of the legend: the error-rate scale of a view, the
// statuses of a diff.
const (
	legendErrorColours = `edge colour: error rate\lgrey < 1%, orange < 5%, red ≥ 5%\lwidth: request volume\l`
	legendDiffColours  = `colour: change from the baseline\lgreen: added (bold)\lred, faded: removed\lorange: changed (label: the change)\lgrey: same\lwidth: request volume\l`
)

// writeLegend writes the legend cluster: the three node shapes, a solid sync
// edge and a dashed async edge, and what colour and width mean. Its node IDs
// start with "legend:" and are made unique against taken, the view's names.
// Its SVG element ids start with "legend".
func writeLegend(w io.Writer, taken map[string]bool, colourNote string) {
	id := func(s string) string {
		n := "legend:" + s
		for taken[n] {
			n += "~"
		}
		return quoteID(n)
	}
	sync1, sync2, async1, async2 := id("sync-from"), id("sync-to"), id("async-from"), id("async-to")
	fmt.Fprintf(w, "\tsubgraph cluster_legend {\n")
	fmt.Fprintf(w, "\t\tgraph [id=\"legend\", label=\"legend\", fontsize=9, style=\"rounded,dashed\", color=\"#bbbbbb\", fontcolor=\"#666666\"];\n")
	fmt.Fprintf(w, "\t\tnode [fontsize=9, height=0.3];\n")
	fmt.Fprintf(w, "\t\tedge [fontsize=8, arrowsize=0.5, color=%q, fontcolor=%q];\n", colourOK, colourOK)
	fmt.Fprintf(w, "\t\t%s [id=\"legend_service\", label=\"service\", tooltip=\"service (sends spans)\", shape=box, style=\"rounded,filled\", fillcolor=%q, color=%q];\n",
		id("service"), fillService, colourOK)
	fmt.Fprintf(w, "\t\t%s [id=\"legend_database\", label=\"database\", tooltip=\"database (named by db.* attributes)\", shape=cylinder, style=filled, fillcolor=%q, color=%q];\n",
		id("database"), fillDatabase, colourOK)
	fmt.Fprintf(w, "\t\t%s [id=\"legend_virtual\", label=\"virtual / uninstrumented\", tooltip=\"user, a peer that sends no spans, or overflow\", shape=ellipse, style=\"dashed,filled\", fillcolor=%q, color=%q, fontcolor=%q];\n",
		id("virtual"), fillVirtual, colourVirtual, colourVirtual)
	fmt.Fprintf(w, "\t\t%s [id=\"legend_colour\", shape=plaintext, label=\"%s\"];\n", id("colour"), colourNote)
	for i, n := range []string{sync1, sync2, async1, async2} {
		fmt.Fprintf(w, "\t\t%s [id=\"legend_point%d\", label=\"\", shape=point, width=0.05];\n", n, i+1)
	}
	fmt.Fprintf(w, "\t\t%s -> %s [id=\"legend_sync\", label=\"sync call\", tooltip=\"solid: synchronous call\"];\n", sync1, sync2)
	fmt.Fprintf(w, "\t\t%s -> %s [id=\"legend_async\", label=\"async: messaging / span link\", tooltip=\"dashed: asynchronous (messaging_system, span_link)\", style=dashed, arrowhead=vee];\n", async1, async2)
	fmt.Fprintf(w, "\t}\n")
}

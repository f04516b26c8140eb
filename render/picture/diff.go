package picture

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/servicegraph/servicegraph/graph"
)

// Looks of a diff beyond the status colours (diffstyle.go).
const (
	fillAdded     = "#e3f4e3"
	fillRemoved   = "#f7f7f7"
	fadedRemoved  = "#f0a8a8" // ColourRemoved faded: opaque, so that every renderer fades it alike
	fadedText     = "#a0a0a0"
	addedPenWidth = 2.5
)

// writeDiffDOT writes the DOT text of diff d, deterministic as writeDOT's:
// the nodes and edges of both windows, sorted as the diff is, with the
// element ids of a view's picture and an SVG class per status
// (diff-added, diff-removed, diff-changed, diff-same). Added nodes and
// edges are green and bold, removed ones red and faded, changed ones
// orange with the change in their label (rate, error %, p95 or mean
// latency or delay), same ones grey. Async edges stay dashed. Widths
// follow the volume of the current window (the baseline's for removed
// edges).
func writeDiffDOT(b *bytes.Buffer, d *graph.Diff, o Options) {
	taken := make(map[string]bool, len(d.Nodes))
	for i := range d.Nodes {
		taken[d.Nodes[i].Name] = true
	}
	// Names that edges use but the diff does not list are drawn as
	// virtual, as in writeDOT.
	var implicit []graph.NodeDiff
	var maxCount uint64
	for i := range d.Edges {
		e := &d.Edges[i]
		for _, n := range []string{e.Client, e.Server} {
			if !taken[n] {
				taken[n] = true
				implicit = append(implicit, graph.NodeDiff{Name: n, Kind: graph.VirtualNode, Status: e.Status})
			}
		}
		maxCount = max(maxCount, side(e).Count)
	}
	writeHeader(b, o)
	writeLegend(b, taken, legendDiffColours)
	nodes := append(append([]graph.NodeDiff(nil), d.Nodes...), implicit...)
	sortNodeDiffs(nodes)
	for i := range nodes {
		n := &nodes[i]
		lines := []string{escText(nodeLabel(n.Name))}
		switch n.Status {
		case graph.Added, graph.Removed:
			lines = append(lines, "("+n.Status.String()+")")
		case graph.Changed:
			if l := nodeChange(d, n); l != "" {
				lines = append(lines, escText(l))
			}
		}
		fmt.Fprintf(b, "\t%s [id=%q, class=\"diff-%s\", label=\"%s\", tooltip=%s, %s];\n",
			quoteID(n.Name), elementID("n", n.Name), n.Status, strings.Join(lines, `\n`), quoteText(nodeDiffTooltip(n)), nodeDiffAttrs(n))
	}
	for i := range d.Edges {
		e := &d.Edges[i]
		lines := edgeDiffLabel(d, e, o)
		for j := range lines {
			lines[j] = escText(lines[j])
		}
		colour, font := statusColour(e.Status), statusColour(e.Status)
		if e.Status == graph.Removed {
			colour, font = fadedRemoved, fadedText
		}
		style, arrow := "solid", "normal"
		if e.Kind.Async() {
			style, arrow = "dashed", "vee"
		}
		pw := penWidth(side(e).Count, maxCount)
		if e.Status == graph.Added {
			pw = max(pw, addedPenWidth)
		}
		fmt.Fprintf(b, "\t%s -> %s [id=%q, class=\"diff-%s\", label=\"%s\", tooltip=%s, style=%s, arrowhead=%s, color=%q, fontcolor=%q, penwidth=%s];\n",
			quoteID(e.Client), quoteID(e.Server), elementID("e", e.Client, e.Server, e.Kind.String()), e.Status,
			labelText(lines, e.Client == e.Server, o.RankDir), quoteText(edgeDiffTooltip(e)), style, arrow, colour, font,
			strconv.FormatFloat(pw, 'f', 2, 64))
	}
	b.WriteString("}\n")
}

// side is the edge's current numbers, the baseline's when removed.
func side(e *graph.EdgeDiff) *graph.EdgeSide {
	if e.New != nil {
		return e.New
	}
	return e.Old
}

func sortNodeDiffs(ns []graph.NodeDiff) {
	slices.SortStableFunc(ns, func(a, b graph.NodeDiff) int { return cmp.Compare(a.Name, b.Name) })
}

func statusColour(s graph.Status) string {
	switch s {
	case graph.Added:
		return ColourAdded
	case graph.Removed:
		return ColourRemoved
	case graph.Changed:
		return ColourChanged
	}
	return ColourSame
}

// nodeDiffAttrs gives each node kind its look (as nodeAttrs) in its
// status's colours.
func nodeDiffAttrs(n *graph.NodeDiff) string {
	shape, style, fill, font := "box", "rounded,filled", fillService, "#000000"
	switch n.Kind {
	case graph.DatabaseNode:
		shape, style, fill = "cylinder", "filled", fillDatabase
	case graph.TopicNode:
		shape, style, fill = "cds", "filled", fillTopic
	case graph.ServiceNode:
	default:
		shape, style, fill, font = "ellipse", "dashed,filled", fillVirtual, colourVirtual
	}
	colour, pw := statusColour(n.Status), 1.0
	switch n.Status {
	case graph.Added:
		fill, pw = fillAdded, addedPenWidth
	case graph.Removed:
		fill, colour, font = fillRemoved, fadedRemoved, fadedText
		if !strings.Contains(style, "dashed") {
			style += ",dashed"
		}
	case graph.Changed:
		pw = 2
	}
	return fmt.Sprintf(`shape=%s, style="%s", fillcolor="%s", color="%s", fontcolor="%s", penwidth=%s`,
		shape, style, fill, colour, font, strconv.FormatFloat(pw, 'f', 1, 64))
}

// nodeChange is the label line of a changed node: what crossed a
// threshold.
func nodeChange(d *graph.Diff, n *graph.NodeDiff) string {
	if n.Old == nil || n.New == nil {
		return ""
	}
	var parts []string
	for _, r := range n.Reasons {
		switch r {
		case graph.ReasonRate:
			parts = append(parts, "rate "+signedPercent(d, n.Old.Count, n.New.Count))
		case graph.ReasonErrors:
			parts = append(parts, "err "+signedPoints(n.New.ErrorPercent-n.Old.ErrorPercent))
		}
	}
	return strings.Join(parts, ", ")
}

// edgeDiffLabel returns the lines of an edge's label, unquoted: the kind
// of async edges, then by status the count (or rate), "added: N",
// "removed (was N)", or one line per change.
func edgeDiffLabel(d *graph.Diff, e *graph.EdgeDiff, o Options) []string {
	var lines []string
	if e.Kind.Async() {
		lines = append(lines, e.Kind.String())
	}
	amount := func(s *graph.EdgeSide) string {
		if o.Label == LabelRate {
			return formatRate(s.Rate) + "/s"
		}
		return formatCount(s.Count)
	}
	errLine := func(s *graph.EdgeSide) {
		if s.Failed > 0 {
			lines = append(lines, formatPercent(s.ErrorPercent/100)+" err")
		}
	}
	switch e.Status {
	case graph.Added:
		lines = append(lines, "added: "+amount(e.New))
		errLine(e.New)
	case graph.Removed:
		lines = append(lines, "removed (was "+amount(e.Old)+")")
	case graph.Same:
		lines = append(lines, amount(e.New))
		errLine(e.New)
	case graph.Changed:
		changed := map[string]bool{}
		for _, r := range e.Reasons {
			changed[r] = true
		}
		if changed[graph.ReasonRate] {
			lines = append(lines, amount(e.Old)+" → "+amount(e.New)+" ("+signedPercent(d, e.Old.Count, e.New.Count)+")")
		} else {
			lines = append(lines, amount(e.New))
		}
		if changed[graph.ReasonErrors] {
			lines = append(lines, "err "+formatPercent(e.Old.ErrorPercent/100)+" → "+formatPercent(e.New.ErrorPercent/100))
		} else {
			errLine(e.New)
		}
		if changed[graph.ReasonLatency] {
			lines = append(lines, latencyChange(e))
		}
	}
	return lines
}

// latencyChange is "p95 62.5ms → 250ms (+300%)", the mean where either
// p95 is unknown, "delay" before it for async edges.
func latencyChange(e *graph.EdgeDiff) string {
	name, a, b := "mean", e.Old.MeanSeconds, e.New.MeanSeconds
	if e.Old.Percentiles && e.New.Percentiles {
		name, a, b = "p95", e.Old.P95, e.New.P95
	}
	if e.Kind.Async() {
		name = "delay " + name
	}
	return name + " " + formatSeconds(a) + " → " + formatSeconds(b) + " (" + formatSigned(100*(b-a)/a) + "%)"
}

// signedPercent is the relative change of the rate, "+200%", "-50%"
// (graph.Diff.RateChange).
func signedPercent(d *graph.Diff, oldCount, newCount uint64) string {
	_, r, ok := d.RateChange(oldCount, newCount)
	if !ok {
		return "new"
	}
	return formatSigned(100*r) + "%"
}

// signedPoints is a change of percentage points, "+2.0 pts".
func signedPoints(p float64) string {
	s := strconv.FormatFloat(p, 'f', 1, 64)
	if p >= 0 {
		s = "+" + s
	}
	return s + " pts"
}

// formatSigned writes x with its sign, no decimals from 10 on, one below.
func formatSigned(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "?"
	}
	prec := 0
	if math.Abs(x) < 10 {
		prec = 1
	}
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if x >= 0 {
		s = "+" + s
	}
	return s
}

// nodeDiffTooltip is a node's one-line summary: status and both windows.
func nodeDiffTooltip(n *graph.NodeDiff) string {
	var b strings.Builder
	b.WriteString(n.Name + " (" + n.Kind.String() + "): " + n.Status.String())
	if len(n.Reasons) > 0 {
		b.WriteString(" (" + strings.Join(n.Reasons, ", ") + ")")
	}
	w := func(name string, s *graph.NodeSide) {
		if s != nil {
			b.WriteString("; " + name + ": " + strconv.FormatUint(s.Count, 10) + " requests, " + formatRate(s.Rate) + "/s, " +
				formatPercent(s.ErrorPercent/100) + " errors")
		}
	}
	w("baseline", n.Old)
	w("current", n.New)
	return b.String()
}

// edgeDiffTooltip is an edge's one-line summary: status and both windows.
func edgeDiffTooltip(e *graph.EdgeDiff) string {
	var b strings.Builder
	b.WriteString(e.Client + " → " + e.Server + " (" + e.Kind.String() + "): " + e.Status.String())
	if len(e.Reasons) > 0 {
		b.WriteString(" (" + strings.Join(e.Reasons, ", ") + ")")
	}
	measure := "latency"
	if e.Kind.Async() {
		measure = "delay"
	}
	w := func(name string, s *graph.EdgeSide) {
		if s == nil {
			return
		}
		b.WriteString("; " + name + ": " + strconv.FormatUint(s.Count, 10) + " requests, " + formatRate(s.Rate) + "/s, " +
			formatPercent(s.ErrorPercent/100) + " errors")
		if s.Percentiles {
			b.WriteString(", " + measure + " p50 " + formatSeconds(s.P50) + " p95 " + formatSeconds(s.P95))
		} else if s.MeanSeconds > 0 {
			b.WriteString(", mean " + measure + " " + formatSeconds(s.MeanSeconds))
		}
	}
	w("baseline", e.Old)
	w("current", e.New)
	return b.String()
}

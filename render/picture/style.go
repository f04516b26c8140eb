package picture

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// Colours of the picture. Edge and outline colours follow the error rate.
const (
	fontName      = "Helvetica" // Graphviz has hard-coded metrics for it; SVG adds sans-serif
	colourOK      = "#4d4d4d"   // error rate below 1%
	colourWarn    = "#e08a00"   // below 5%
	colourBad     = "#d62728"   // 5% and above
	fillService   = "#eaf1fb"
	fillDatabase  = "#f5f0dc"
	fillVirtual   = "#eeeeee"
	fillTopic     = "#e6f4ea"
	colourVirtual = "#8c8c8c"
	minPenWidth   = 1.0
	maxPenWidth   = 5.0
)

// errColour maps an error rate to grey, orange or red.
func errColour(rate float64) string {
	return [...]string{graph.Healthy: colourOK, graph.Degraded: colourWarn, graph.Failing: colourBad}[graph.HealthOf(rate)]
}

// penWidth maps an edge count to 1..5 on a log scale of the view's largest
// count.
func penWidth(count, maxCount uint64) float64 {
	return minPenWidth + (maxPenWidth-minPenWidth)*graph.Volume(count, maxCount)
}

// edgeLabel returns the lines of an edge label, unquoted: the kind of async
// edges, the count or rate, and the error percentage when there are errors.
func edgeLabel(e *graph.ViewEdge, o Options) []string {
	var lines []string
	if e.Kind.Async() {
		lines = append(lines, e.Kind.String())
	}
	if o.Label == LabelRate {
		lines = append(lines, formatRate(e.Rate)+"/s")
	} else {
		lines = append(lines, formatCount(e.Count))
	}
	if r := e.ErrorRate(); r > 0 {
		lines = append(lines, formatPercent(r)+" err")
	}
	return lines
}

// edgeTooltip is the one-line summary shown on hover.
func edgeTooltip(e *graph.ViewEdge) string {
	var b strings.Builder
	b.WriteString(e.Client + " → " + e.Server + " (" + e.Kind.String() + "): ")
	b.WriteString(strconv.FormatUint(e.Count, 10) + " requests, " + formatRate(e.Rate) + "/s")
	b.WriteString(", " + formatPercent(e.ErrorRate()) + " errors")
	if e.MeanSeconds > 0 {
		if e.Kind.Async() {
			b.WriteString(", mean delay ")
		} else {
			b.WriteString(", mean ")
		}
		b.WriteString(formatSeconds(e.MeanSeconds))
	}
	return b.String()
}

// nodeTooltip is the one-line summary of a node.
func nodeTooltip(n *graph.ViewNode) string {
	return n.Name + " (" + n.Kind.String() + "): " + strconv.FormatUint(n.Count, 10) + " requests, " +
		formatRate(n.Rate) + "/s, " + formatPercent(n.ErrorRate()) + " errors"
}

// nodeAttrs returns the attributes that give each node kind its look:
// services rounded boxes, databases cylinders, topics (--broker-nodes)
// green pennants, virtual nodes grey dashed ellipses. The outline follows
// the node's error rate.
func nodeAttrs(n *graph.ViewNode) string {
	switch n.Kind {
	case graph.ServiceNode:
		return `shape=box, style="rounded,filled", fillcolor="` + fillService + `", color="` + errColour(n.ErrorRate()) + `"`
	case graph.DatabaseNode:
		return `shape=cylinder, style=filled, fillcolor="` + fillDatabase + `", color="` + errColour(n.ErrorRate()) + `"`
	case graph.TopicNode:
		return `shape=cds, style=filled, fillcolor="` + fillTopic + `", color="` + errColour(n.ErrorRate()) + `"`
	default:
		return `shape=ellipse, style="dashed,filled", fillcolor="` + fillVirtual + `", color="` + colourVirtual + `", fontcolor="` + colourVirtual + `"`
	}
}

// nodeLabel is the visible name: long names are cut, the overflow node is
// explained.
func nodeLabel(name string) string {
	if name == graph.OverflowNode {
		return "other services (over the node cap)"
	}
	return truncate(name, maxLabelRunes)
}

// formatCount writes counts compactly: 999, 1.2k, 34k, 5.6M.
func formatCount(n uint64) string {
	switch {
	case n < 1000:
		return strconv.FormatUint(n, 10)
	case n < 1_000_000:
		return short(float64(n)/1e3) + "k"
	case n < 1_000_000_000:
		return short(float64(n)/1e6) + "M"
	default:
		return short(float64(n)/1e9) + "G"
	}
}

// formatRate writes a per-second rate with about three significant digits.
func formatRate(r float64) string {
	switch {
	case r <= 0 || math.IsNaN(r):
		return "0"
	case r < 0.01:
		return "<0.01"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 2, 64)
	case r < 100:
		return strconv.FormatFloat(r, 'f', 1, 64)
	case r < 1000:
		return strconv.FormatFloat(r, 'f', 0, 64)
	default:
		return formatCount(uint64(r))
	}
}

// formatPercent writes a fraction as a percentage with one decimal.
func formatPercent(f float64) string {
	p := f * 100
	if p > 0 && p < 0.1 {
		return "<0.1%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// formatSeconds writes a duration rounded to three significant digits.
func formatSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	for _, unit := range []time.Duration{time.Hour, time.Minute, time.Second, time.Millisecond, time.Microsecond} {
		if d >= unit {
			return d.Round(unit / 100).String()
		}
	}
	return d.String()
}

// short formats x (>= 1) with one decimal below 10 and none above.
func short(x float64) string {
	if x < 10 {
		return strings.TrimSuffix(strconv.FormatFloat(x, 'f', 1, 64), ".0")
	}
	return strconv.FormatFloat(x, 'f', 0, 64)
}

// labelText joins an edge's escaped label lines for DOT. Graphviz places
// a self-loop's label right against the loop, sized by its own estimate
// of the text's width, and a viewer's font may be wider: the label then
// touches or crosses the loop. So a self-loop's label keeps a gap: beside
// the loop (top-to-bottom layouts, TB and BT, where the loop is on the
// node's right) its lines are left-justified (\l) behind two no-break
// spaces, so that a wider font grows away from the loop; above it
// (left-to-right layouts, LR and RL, where the loop is on the node's
// top) a blank line follows the text.
func labelText(lines []string, selfLoop bool, rankDir string) string {
	if !selfLoop {
		return strings.Join(lines, `\n`)
	}
	if rankDir == "TB" || rankDir == "BT" {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString("\u00a0\u00a0")
			b.WriteString(l)
			b.WriteString(`\l`)
		}
		return b.String()
	}
	return strings.Join(lines, `\n`) + `\n `
}

package render_test

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

var number = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?`)

// A self-loop's label keeps clear of its loop in the laid-out SVG, in
// every direction: beside the loop (TB, BT) it starts at or right of the
// loop's rightmost point, left-justified behind two no-break spaces, so a
// wider font than Graphviz's estimate grows away from the loop; above it
// (LR, RL) its last line's baseline is at least one line (8 pt) above the
// loop's top. Before, the label was centred against the loop, and its last
// line's baseline 2.4 pt above the loop's top.
func TestSelfLoopLabelClear(t *testing.T) {
	r := newRenderer(t, render.NewDefaultConfig())
	for _, dir := range picture.RankDirs {
		t.Run(dir, func(t *testing.T) {
			out, err := r.Render(t.Context(), "loop-"+dir, picturetest.KindsView(), picture.SVG, picture.Options{RankDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			edges, _ := groups(parseSVG(t, out), "edge")
			loops := edges["batch->batch"]
			if len(loops) != 1 {
				t.Fatalf("%d batch->batch edges", len(loops))
			}
			minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
			var texts []*xnode
			loops[0].walk(func(n *xnode) {
				switch n.XMLName.Local {
				case "path":
					ns := number.FindAllString(n.attr("d"), -1)
					for i := 0; i+1 < len(ns); i += 2 {
						x, _ := strconv.ParseFloat(ns[i], 64)
						y, _ := strconv.ParseFloat(ns[i+1], 64)
						minX, maxX, minY, maxY = min(minX, x), max(maxX, x), min(minY, y), max(maxY, y)
					}
				case "text":
					if strings.TrimSpace(n.Text) != "" {
						texts = append(texts, n)
					}
				}
			})
			if len(texts) != 2 {
				t.Fatalf("%d label lines, want 2", len(texts))
			}
			for _, tx := range texts {
				x, _ := strconv.ParseFloat(tx.attr("x"), 64)
				y, _ := strconv.ParseFloat(tx.attr("y"), 64)
				switch dir {
				case "TB", "BT":
					if tx.attr("text-anchor") != "start" || x < maxX || !strings.HasPrefix(tx.Text, "\u00a0\u00a0") {
						t.Errorf("line %q at x %v (anchor %s): want left-justified behind two no-break spaces, at or right of the loop's %v",
							tx.Text, x, tx.attr("text-anchor"), maxX)
					}
				default:
					if y > minY-8 {
						t.Errorf("line %q: baseline %v, want at least 8 above the loop's top %v", tx.Text, y, minY)
					}
				}
			}
		})
	}
}

package render_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDiffSVGGolden lays the diff out (in process) and compares the SVG's
// structure with testdata/diff.svg.golden.txt: per node and edge, its
// element id, classes (diff-added, diff-removed, diff-changed,
// diff-same), title, stroke colour and opacity, whether it is dashed, and
// its text. Positions are left out: they are Graphviz's business.
func TestDiffSVGGolden(t *testing.T) {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true
	r := newRenderer(t, cfg)
	d := picturetest.Diff()
	out, err := r.Render(t.Context(), "diff", d.View(), picture.SVG, picture.Options{Diff: d})
	if err != nil {
		t.Fatal(err)
	}
	root := parseSVG(t, out)
	var lines []string
	root.walk(func(n *xnode) {
		class := n.attr("class")
		if n.XMLName.Local != "g" || !strings.Contains(class, "diff-") {
			return
		}
		var stroke, opacity, texts []string
		dashed := false
		n.walk(func(c *xnode) {
			switch c.XMLName.Local {
			case "path", "polygon", "ellipse":
				if s := c.attr("stroke"); s != "" && !slices.Contains(stroke, s) {
					stroke = append(stroke, s)
				}
				if s := c.attr("stroke-opacity"); s != "" && !slices.Contains(opacity, s) {
					opacity = append(opacity, s)
				}
				dashed = dashed || c.attr("stroke-dasharray") != ""
			case "text":
				texts = append(texts, c.Text)
			}
		})
		lines = append(lines, fmt.Sprintf("%s class=%q title=%q stroke=%s opacity=%s dashed=%t text=%q",
			n.attr("id"), class, n.title(), strings.Join(stroke, ","), strings.Join(opacity, ","), dashed, texts))
	})
	slices.Sort(lines)
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "diff.svg.golden.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./render -run TestDiffSVGGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("SVG structure differs from %s (-update rewrites it); got:\n%s", golden, got)
	}
	// The legend explains the statuses.
	if !strings.Contains(string(out), "red, faded: removed") {
		t.Error("legend without the diff's colours")
	}
}

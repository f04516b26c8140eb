package render_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
	"image"
	_ "image/png" // PNG decoder for image.DecodeConfig
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
)

// xnode is a generic XML element.
type xnode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []xnode    `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n *xnode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// walk calls fn on n and every descendant, depth first.
func (n *xnode) walk(fn func(*xnode)) {
	fn(n)
	for i := range n.Children {
		n.Children[i].walk(fn)
	}
}

func (n *xnode) title() string {
	for _, c := range n.Children {
		if c.XMLName.Local == "title" {
			return c.Text
		}
	}
	return ""
}

// dashed reports whether any path or ellipse under n is dashed.
func (n *xnode) dashed(elem string) bool {
	d := false
	n.walk(func(c *xnode) {
		if c.XMLName.Local == elem && c.attr("stroke-dasharray") != "" {
			d = true
		}
	})
	return d
}

// shape summarises how a node is drawn: the count of each drawing element.
func (n *xnode) shape() string {
	var parts []string
	n.walk(func(c *xnode) {
		switch c.XMLName.Local {
		case "path", "polygon", "ellipse", "polyline":
			parts = append(parts, c.XMLName.Local)
		}
	})
	return strings.Join(parts, "+")
}

func parseSVG(t *testing.T, b []byte) *xnode {
	t.Helper()
	var root xnode
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	if err := d.Decode(&root); err != nil {
		t.Fatalf("SVG does not parse: %v\n%s", err, b)
	}
	if root.XMLName.Local != "svg" {
		t.Fatalf("root element is %q, want svg", root.XMLName.Local)
	}
	return &root
}

// groups returns the <g class="..."> elements outside the legend, and the
// legend's, keyed by title.
func groups(root *xnode, class string) (view, legend map[string][]*xnode) {
	view, legend = map[string][]*xnode{}, map[string][]*xnode{}
	root.walk(func(n *xnode) {
		if n.XMLName.Local != "g" || n.attr("class") != class {
			return
		}
		m := view
		if strings.HasPrefix(n.attr("id"), "legend") {
			m = legend
		}
		m[n.title()] = append(m[n.title()], n)
	})
	return view, legend
}

func newRenderer(t *testing.T, cfg render.Config) *render.Renderer {
	t.Helper()
	r, err := render.New(cfg, render.Settings{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// TestSVGStructure lays out in a child process (the default) and checks the
// drawing by parsing the SVG: exactly the async edges are dashed, and the
// node kinds have different shapes.
func TestSVGStructure(t *testing.T) {
	r := newRenderer(t, render.NewDefaultConfig())
	v := picturetest.KindsView()
	out, err := r.Render(t.Context(), "kinds", v, picture.SVG, picture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := parseSVG(t, out)
	if got := root.Children[0].title(); got != picture.GraphName {
		t.Errorf("SVG <title> = %q, want %q", got, picture.GraphName)
	}

	edges, legendEdges := groups(root, "edge")
	// Per title (parallel edges share one): how many edges, how many dashed.
	type tally struct{ all, dashed int }
	want, got := map[string]tally{}, map[string]tally{}
	for _, e := range v.Edges {
		tl := want[e.Client+"->"+e.Server]
		tl.all++
		if e.Kind.Async() {
			tl.dashed++
		}
		want[e.Client+"->"+e.Server] = tl
	}
	for title, gs := range edges {
		for _, g := range gs {
			tl := got[title]
			tl.all++
			if g.dashed("path") {
				tl.dashed++
			}
			got[title] = tl
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("edges by title (count, dashed):\n got %v\nwant %v", got, want)
	}
	for _, l := range legendEdges {
		for _, g := range l {
			if wantDash := g.attr("id") == "legend_async"; g.dashed("path") != wantDash {
				t.Errorf("legend edge %s: dashed = %v, want %v", g.attr("id"), !wantDash, wantDash)
			}
		}
	}

	nodes, legendNodes := groups(root, "node")
	shapes := map[string]string{}
	for _, name := range []string{"checkout", "postgres", "user", "stripe.com"} {
		g := nodes[name]
		if len(g) != 1 {
			t.Fatalf("node %s drawn %d times", name, len(g))
		}
		shapes[name] = g[0].shape()
	}
	if s := shapes["checkout"]; strings.Contains(s, "ellipse") || s == shapes["postgres"] {
		t.Errorf("service shape %q should be a box, unlike the database's %q", s, shapes["postgres"])
	}
	if s := shapes["postgres"]; strings.Count(s, "path") < 2 {
		t.Errorf("database shape %q is not a cylinder (body and lid paths)", s)
	}
	for _, name := range []string{"user", "stripe.com"} {
		if !nodes[name][0].dashed("ellipse") {
			t.Errorf("virtual node %s (%q) is not a dashed ellipse", name, shapes[name])
		}
	}
	if nodes["checkout"][0].dashed("path") {
		t.Error("service node has a dashed outline")
	}
	if len(legendNodes) == 0 {
		t.Error("no legend nodes in the SVG")
	}
}

// TestSVGNames lays out awkward names in process and checks the SVG is
// well-formed XML with one node per name.
func TestSVGNames(t *testing.T) {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true
	r := newRenderer(t, cfg)
	v := picturetest.NamesView()
	out, err := r.Render(t.Context(), "names", v, picture.SVG, picture.Options{Title: `a "title" & <more>`})
	if err != nil {
		t.Fatal(err)
	}
	root := parseSVG(t, out)
	nodes, _ := groups(root, "node")
	edges, _ := groups(root, "edge")
	if got, want := len(nodes), len(v.Nodes)+1; got != want { // +1: the edge end not in Nodes
		t.Errorf("%d nodes in SVG, want %d: %v", got, want, slices.Sorted(maps.Keys(nodes)))
	}
	if got, want := len(edges), len(v.Edges); got != want {
		t.Errorf("%d edges in SVG, want %d", got, want)
	}
	for _, name := range []string{picturetest.QuoteName, picturetest.UnicodeName, picturetest.EntityName, picturetest.LongName, picturetest.LegendName} {
		if len(nodes[name]) != 1 {
			t.Errorf("node %q not found by its exact title", name)
		}
	}
}

func TestPNG(t *testing.T) {
	r := newRenderer(t, render.NewDefaultConfig())
	out, err := r.Render(context.Background(), "kinds", picturetest.KindsView(), picture.PNG, picture.Options{RankDir: "TB"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("no PNG signature: % x", out[:min(8, len(out))])
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
	if err != nil || format != "png" || cfg.Width <= 0 || cfg.Height <= 0 {
		t.Fatalf("DecodeConfig = %+v, %q, %v", cfg, format, err)
	}
}

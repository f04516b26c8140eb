package render_test

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

// pngInk measures a PNG: its size, its count of dark pixels (text, lines,
// outlines and arrowheads: luminance below half; the pale fills and the
// white background are not counted) and the bounding box of the first
// band of rows with dark pixels from the top, which is the title's glyph
// run (the title sits above the graph, labelloc=t).
type pngInk struct {
	w, h, dark int
	title      image.Rectangle
}

func measurePNG(t *testing.T, b []byte) pngInk {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bd := img.Bounds()
	m := pngInk{w: bd.Dx(), h: bd.Dy()}
	dark := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return (299*r+587*g+114*b)/1000 < 0x8000
	}
	inTitle, titleDone := false, false
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		rowDark := false
		for x := bd.Min.X; x < bd.Max.X; x++ {
			if !dark(x, y) {
				continue
			}
			m.dark++
			rowDark = true
			if !titleDone {
				if !inTitle {
					inTitle = true
					m.title = image.Rect(x, y, x+1, y+1)
				}
				m.title = m.title.Union(image.Rect(x, y, x+1, y+1))
			}
		}
		if inTitle && !rowDark {
			titleDone = true
		}
	}
	return m
}

// near reports whether got is want within ±tol.
func near(got, want, tol int) bool { return got >= want-tol && got <= want+tol }

// TestPNGScale: Options.Scale zooms a whole PNG, text and lines included
// (the dpi it was first built on grew the canvas and spread the layout
// but left text and lines at scale 1: the title's height stayed the same
// and the dark pixels grew 1.24x); the child-process worker gets the
// scale and its bound; Config.MaxPNGPixels bounds the zoom; DOT and SVG do not change;
// the scale is bounded.
func TestPNGScale(t *testing.T) {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true
	cfg.Timeout = time.Minute // PNG encoding in WASM is slow under -race
	r := newRenderer(t, cfg)
	// Small, as PNG encoding time grows with the pixels.
	v := picturetest.View([]graph.ViewNode{picturetest.Svc("a", 1, 0), picturetest.Svc("b", 1, 0)},
		[]graph.ViewEdge{picturetest.Edge("a", "b", graph.Call, 1, 0, 0.1)})
	o := picture.Options{Title: "Hg title"}
	draw := func(r *render.Renderer, scale float64) pngInk {
		t.Helper()
		o := o
		o.Scale = scale
		out, err := r.Render(t.Context(), "ab", v, picture.PNG, o)
		if err != nil {
			t.Fatal(err)
		}
		return measurePNG(t, out)
	}
	one, two := draw(r, 0), draw(r, 2)
	t.Logf("scale 1: %+v; scale 2: %+v", one, two)
	if !near(two.w, 2*one.w, 2) || !near(two.h, 2*one.h, 2) {
		t.Errorf("scale 2: %dx%d, scale 1: %dx%d", two.w, two.h, one.w, one.h)
	}
	// x4.68 measured: at scale 1 the anti-aliased 1-pixel lines are partly
	// too light to count. The dpi version gave x1.24 and an unchanged title.
	if ratio := float64(two.dark) / float64(one.dark); ratio < 3.5 || ratio > 5.5 {
		t.Errorf("dark pixels: %d at scale 1, %d at scale 2: x%.2f, want x4 (area grows with the scale squared)", one.dark, two.dark, ratio)
	}
	if !near(two.title.Dy(), 2*one.title.Dy(), 2) || !near(two.title.Dx(), 2*one.title.Dx(), 3) {
		t.Errorf("title glyph run: %v at scale 1, %v at scale 2, want twice as high and wide", one.title, two.title)
	}

	// Config.MaxPNGPixels zooms less, never below 1; the child-process
	// worker gets both the scale and the bound.
	for _, tc := range []struct {
		maxPixels int64
		zoom      float64
		child     bool
	}{{int64(one.w) * int64(one.h) * 9 / 4, 1.5, true}, {1000, 1, false}} {
		cfg := cfg
		cfg.MaxPNGPixels = tc.maxPixels
		if tc.child {
			cfg.InProcess, cfg.Workers, cfg.MaxNodes, cfg.MaxEdges = false, 1, 10, 10
		}
		got := draw(newRenderer(t, cfg), 2)
		if w, h := int(tc.zoom*float64(one.w)), int(tc.zoom*float64(one.h)); !near(got.w, w, 3) || !near(got.h, h, 3) {
			t.Errorf("scale 2 within %d pixels (child process %t): %dx%d, want %dx%d", tc.maxPixels, tc.child, got.w, got.h, w, h)
		}
	}

	for _, f := range []picture.Format{picture.DOT, picture.SVG} {
		a, err := r.Render(t.Context(), "ab", v, f, picture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.Render(t.Context(), "ab", v, f, picture.Options{Scale: 3})
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s at scale 3 differs from scale 1 (%v)", f, err)
		}
	}
	for bad, want := range map[float64]string{5: "got 5", 0.5: "got 0.5", -1: "got -1"} {
		if _, err := r.Render(t.Context(), "ab", v, picture.PNG, picture.Options{Scale: bad}); err == nil || !strings.Contains(err.Error(), "scale must be from 1 to 4, "+want) {
			t.Errorf("scale %g: %v", bad, err)
		}
	}
}

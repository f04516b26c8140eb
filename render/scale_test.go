package render_test

import (
	"bytes"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

// TestPNGScale: Options.Scale multiplies a PNG's pixels (Graphviz dpi),
// changes nothing in DOT and SVG, and is bounded.
func TestPNGScale(t *testing.T) {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true
	cfg.Timeout = time.Minute // PNG encoding in WASM is slow under -race
	r := newRenderer(t, cfg)
	// Small, as PNG encoding time grows with the pixels.
	v := picturetest.View([]graph.ViewNode{picturetest.Svc("a", 1, 0), picturetest.Svc("b", 1, 0)},
		[]graph.ViewEdge{picturetest.Edge("a", "b", graph.Call, 1, 0, 0.1)})
	size := func(scale float64) image.Config {
		out, err := r.Render(t.Context(), "ab", v, picture.PNG, picture.Options{Scale: scale})
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := image.DecodeConfig(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	one, two := size(0), size(2)
	if dw, dh := two.Width-2*one.Width, two.Height-2*one.Height; dw < -2 || dw > 2 || dh < -2 || dh > 2 {
		t.Errorf("scale 2: %dx%d, scale 1: %dx%d", two.Width, two.Height, one.Width, one.Height)
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
	if _, err := r.Render(t.Context(), "ab", v, picture.PNG, picture.Options{Scale: 5}); err == nil || !strings.Contains(err.Error(), "scale must be from 1 to 4, got 5") {
		t.Errorf("scale 5: %v", err)
	}
}

package render_test

import (
	"bytes"
	"image"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

// TestPNGScale: Options.Scale multiplies a PNG's pixels (Graphviz dpi),
// changes nothing in DOT and SVG, and is bounded.
func TestPNGScale(t *testing.T) {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true
	r := newRenderer(t, cfg)
	v := picturetest.KindsView()
	size := func(scale float64) image.Config {
		out, err := r.Render(t.Context(), "kinds", v, picture.PNG, picture.Options{Scale: scale})
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
		a, err := r.Render(t.Context(), "kinds", v, f, picture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.Render(t.Context(), "kinds", v, f, picture.Options{Scale: 3})
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s at scale 3 differs from scale 1 (%v)", f, err)
		}
	}
	if _, err := r.Render(t.Context(), "kinds", v, picture.PNG, picture.Options{Scale: 5}); err == nil || !strings.Contains(err.Error(), "scale must be from 1 to 4, got 5") {
		t.Errorf("scale 5: %v", err)
	}
}

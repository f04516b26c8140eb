package render

import (
	"context"
	"fmt"

	"github.com/goccy/go-graphviz/gvc"
)

// newGraphviz returns a graphviz instance whose PNG renderer draws shapes as
// Graphviz means them.
//
// go-graphviz v0.2.10 draws PNG with its own Go renderer (fogleman/gg),
// which fills a filled shape without stroking its outline, and receives
// filled=true for every Bézier curve: edges came out as filled blobs (or
// vanished when straight) and rounded boxes had no outline. pngFix fills
// only what Graphviz marks as filled, then strokes the outline unless the
// pen is "none". SVG is drawn by Graphviz itself and is unaffected.
//
// It also widens every line by the job's zoom, which the library's
// renderer leaves at scale 1 while it zooms positions and text, so that a
// zoomed PNG (Options.Scale, see zoomViewport) is the scale-1 picture
// enlarged.
func newGraphviz(ctx context.Context) (*gvc.Context, error) {
	inner, err := gvc.PNGRenderPlugin(ctx)
	if err != nil {
		return nil, fmt.Errorf("png render plugin: %w", err)
	}
	render, err := gvc.NewRenderPlugin(ctx, "png", pngFix{inner.RenderEngine()},
		gvc.WithRenderFeatures(gvc.RenderYGoesDown, gvc.RenderDoesTransform), gvc.WithRenderPAD(4))
	if err != nil {
		return nil, fmt.Errorf("png render plugin: %w", err)
	}
	device, err := gvc.PNGDevicePlugin(ctx)
	if err != nil {
		return nil, fmt.Errorf("png device plugin: %w", err)
	}
	return gvc.NewWithPlugins(ctx, render, device)
}

// pngFix wraps the library's PNG render engine; see newGraphviz.
type pngFix struct{ gvc.RenderEngine }

// zoomPen widens the pen by the job's zoom until the returned func is
// called.
func zoomPen(job *gvc.Job) func() {
	z := job.Zoom()
	if z == 1 || z <= 0 {
		return func() {}
	}
	o := job.Object()
	w := o.PenWidth()
	o.SetPenWidth(w * z)
	return func() { o.SetPenWidth(w) }
}

// shape fills (when filled) and then strokes the outline.
func (p pngFix) shape(job *gvc.Job, filled bool, draw func(filled bool) error) error {
	defer zoomPen(job)()
	if filled {
		if err := draw(true); err != nil {
			return err
		}
	}
	if job.Object().Pen() == gvc.PenNone {
		return nil
	}
	return draw(false)
}

func (p pngFix) BezierCurve(ctx context.Context, job *gvc.Job, pts []*gvc.PointFloat, filled bool) error {
	// The filled flag is unreliable here: edges arrive with true. The
	// object's fill state is not.
	filled = filled && job.Object().Fill() != gvc.FillNone
	return p.shape(job, filled, func(f bool) error { return p.RenderEngine.BezierCurve(ctx, job, pts, f) })
}

func (p pngFix) Polygon(ctx context.Context, job *gvc.Job, pts []*gvc.PointFloat, filled bool) error {
	return p.shape(job, filled, func(f bool) error { return p.RenderEngine.Polygon(ctx, job, pts, f) })
}

func (p pngFix) Ellipse(ctx context.Context, job *gvc.Job, pts []*gvc.PointFloat, filled bool) error {
	return p.shape(job, filled, func(f bool) error { return p.RenderEngine.Ellipse(ctx, job, pts, f) })
}

func (p pngFix) Polyline(ctx context.Context, job *gvc.Job, pts []*gvc.PointFloat) error {
	defer zoomPen(job)()
	return p.RenderEngine.Polyline(ctx, job, pts)
}

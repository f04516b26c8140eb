package render

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-graphviz"
	"github.com/goccy/go-graphviz/gvc"

	"github.com/servicegraph/servicegraph/render/picture"
)

// engine lays out picture.DOT text and draws it in a format other than picture.DOT.
type engine interface {
	// layout returns the picture, a PNG zoomed by z (see drawLocked), or
	// ctx's error once ctx is done.
	layout(ctx context.Context, dot []byte, f picture.Format, z zoom) ([]byte, error)
	// close stops the engine's work and frees what it holds.
	close() error
}

// gvLock serialises every go-graphviz call in the process. It is global
// because the library is: one WASM module per process, which concurrent
// callers corrupt (hangs, panics). A channel rather than a sync.Mutex, so
// that waiting callers can give up at their deadline.
var gvLock = make(chan struct{}, 1)

func lockGraphviz(ctx context.Context) error {
	select {
	case gvLock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func unlockGraphviz() { <-gvLock }

// zoom is how much a PNG is zoomed: scale (1 to picture.MaxScale), less
// if the picture would then have more than maxPixels pixels, never below
// 1. Other formats ignore it.
type zoom struct {
	scale     float64
	maxPixels int64
}

// drawLocked parses dot, lays it out and renders it with gv, a PNG zoomed
// by z (see zoomViewport). The caller holds gvLock. A panic inside the
// library is returned as an error: bad input must not take the process
// down.
func drawLocked(gv *gvc.Context, dot []byte, f picture.Format, z zoom) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("graphviz panicked: %v", p)
		}
	}()
	g, err := graphviz.ParseBytes(dot)
	if err != nil {
		return nil, fmt.Errorf("parse dot: %w", err)
	}
	defer g.Close()
	// go-graphviz ignores this context (DEPENDENCIES.md): deadlines are
	// enforced by the callers of drawLocked.
	ctx := context.Background()
	if err := gv.Layout(ctx, g, string(graphviz.DOT)); err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	defer func() {
		if ferr := gv.FreeLayout(ctx, g); ferr != nil && err == nil {
			out, err = nil, fmt.Errorf("free layout: %w", ferr)
		}
	}()
	if f == picture.PNG && z.scale != 1 {
		vp, err := zoomViewport(g.GetStr("bb"), g.GetStr("pad"), z)
		if err != nil {
			return nil, err
		}
		// vp is "" when the picture is too large to zoom: scale 1.
		if vp != "" {
			if err := g.SafeSet("viewport", vp, ""); err != nil {
				return nil, fmt.Errorf("set viewport: %w", err)
			}
		}
	}
	var buf bytes.Buffer
	if err := gv.RenderData(ctx, g, string(f), &buf); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return buf.Bytes(), nil
}

// defaultPadPoints is Graphviz's pad when the graph sets none.
const defaultPadPoints = 4

// zoomViewport returns the Graphviz viewport "W,H,Z" that draws the whole
// laid-out graph zoomed by Z: W and H are its scale-1 size in points (bb,
// the layout's bounding box that gvLayout stores on the graph, plus pad,
// in inches, on each side) times Z, centred on the graph. Z is z.scale, or
// less so that the PNG (96 pixels an inch at scale 1) has at most
// z.maxPixels pixels; "" when that leaves no zoom above 1.
//
// Neither dpi nor size does this with go-graphviz v0.2.10's PNG renderer:
// at dpi 96×z the canvas and the positions grow but its fonts, sized by
// the zoom only, stay at scale 1 (the layout spreads out around small
// text); size is read at layout time, so it would need a layout to learn
// the scale-1 size first. The viewport is read when drawing: one layout.
func zoomViewport(bb, pad string, z zoom) (string, error) {
	nums := func(s string) []float64 {
		var out []float64
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil
			}
			out = append(out, v)
		}
		return out
	}
	b := nums(bb)
	if len(b) != 4 {
		return "", fmt.Errorf("zoom: the layout's bounding box is %q, not 4 numbers", bb)
	}
	px, py := float64(defaultPadPoints), float64(defaultPadPoints)
	switch p := nums(pad); len(p) {
	case 1:
		px, py = p[0]*72, p[0]*72
	case 2:
		px, py = p[0]*72, p[1]*72
	}
	w, h := b[2]-b[0]+2*px, b[3]-b[1]+2*py
	const pixelsPerPoint = 96.0 / 72
	zz := min(z.scale, math.Sqrt(float64(z.maxPixels)/(w*pixelsPerPoint*h*pixelsPerPoint)))
	if !(zz > 1) {
		return "", nil
	}
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return ff(w*zz) + "," + ff(h*zz) + "," + ff(zz), nil
}

// inProcess lays out in this process, one layout at a time. A layout that
// outlives its deadline keeps running in the background (the library cannot
// be interrupted) and holds gvLock until it ends; close waits for it.
type inProcess struct {
	wg sync.WaitGroup // background layouts

	// gv is created on first use and freed by close; guarded by gvLock.
	gv     *gvc.Context
	closed bool // guarded by gvLock
}

var _ engine = (*inProcess)(nil)

type drawResult struct {
	out []byte
	err error
}

func (e *inProcess) layout(ctx context.Context, dot []byte, f picture.Format, z zoom) ([]byte, error) {
	if err := lockGraphviz(ctx); err != nil {
		return nil, err
	}
	if e.closed {
		unlockGraphviz()
		return nil, ErrClosed
	}
	done := make(chan drawResult, 1)
	e.wg.Go(func() {
		defer unlockGraphviz()
		if e.gv == nil {
			gv, err := newGraphviz(context.Background())
			if err != nil {
				done <- drawResult{nil, fmt.Errorf("start graphviz: %w", err)}
				return
			}
			e.gv = gv
		}
		out, err := drawLocked(e.gv, dot, f, z)
		done <- drawResult{out, err}
	})
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close waits for background layouts and frees the graphviz instance.
func (e *inProcess) close() error {
	e.wg.Wait()
	if err := lockGraphviz(context.Background()); err != nil {
		return err
	}
	defer unlockGraphviz()
	e.closed = true
	if e.gv == nil {
		return nil
	}
	// gvFreeContext answers with Graphviz's count of errors so far, which
	// go-graphviz turns into the last message logged (often a font warning
	// from an earlier, successful render): it is no failure to free.
	_ = e.gv.Close()
	e.gv = nil
	return nil
}

package render

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/goccy/go-graphviz"

	"github.com/servicegraph/servicegraph/render/picture"
)

// engine lays out picture.DOT text and draws it in a format other than picture.DOT.
type engine interface {
	// layout returns the picture, or ctx's error once ctx is done.
	layout(ctx context.Context, dot []byte, f picture.Format) ([]byte, error)
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

// drawLocked parses dot and renders it with gv. The caller holds gvLock. A
// panic inside the library is returned as an error: bad input must not take
// the process down.
func drawLocked(gv *graphviz.Graphviz, dot []byte, f picture.Format) (out []byte, err error) {
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
	var buf bytes.Buffer
	// go-graphviz ignores this context (DEPENDENCIES.md): deadlines are
	// enforced by the callers of drawLocked.
	if err := gv.Render(context.Background(), g, graphviz.Format(f), &buf); err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	return buf.Bytes(), nil
}

// inProcess lays out in this process, one layout at a time. A layout that
// outlives its deadline keeps running in the background (the library cannot
// be interrupted) and holds gvLock until it ends; close waits for it.
type inProcess struct {
	wg sync.WaitGroup // background layouts

	// gv is created on first use and freed by close; guarded by gvLock.
	gv     *graphviz.Graphviz
	closed bool // guarded by gvLock
}

var _ engine = (*inProcess)(nil)

type drawResult struct {
	out []byte
	err error
}

func (e *inProcess) layout(ctx context.Context, dot []byte, f picture.Format) ([]byte, error) {
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
		out, err := drawLocked(e.gv, dot, f)
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

package render

import (
	"context"

	"github.com/servicegraph/servicegraph/render/picture"
)

// fakeEngine is a layout engine for tests.
type fakeEngine func(ctx context.Context, dot []byte, f picture.Format) ([]byte, error)

func (e fakeEngine) layout(ctx context.Context, dot []byte, f picture.Format, _ zoom) ([]byte, error) {
	return e(ctx, dot, f)
}
func (fakeEngine) close() error { return nil }

// SetLayoutForTest replaces r's layout engine by fn.
func SetLayoutForTest(r *Renderer, fn func(ctx context.Context, dot []byte, f picture.Format) ([]byte, error)) {
	r.engine = fakeEngine(fn)
}

// SetJoinedHookForTest makes Render call fn once the caller has joined a
// render flight.
func SetJoinedHookForTest(r *Renderer, fn func()) { r.joined = fn }

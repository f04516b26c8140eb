package render_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/render"
)

// TestMain dispatches the render worker, as main does, so that tests can use
// the child-process mode (the test binary is the worker executable).
func TestMain(m *testing.M) {
	render.WorkerMain()
	goleak.VerifyTestMain(m)
}

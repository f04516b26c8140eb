package render_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/render"
)

// TestMain dispatches the render worker, as main does, so that tests can use
// the child-process mode (the test binary is the worker executable).
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == render.WorkerArg {
		if err := render.RunWorker(os.Stdin, os.Stdout, os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

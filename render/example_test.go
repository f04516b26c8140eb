package render_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
)

// A server wires the renderer once; main must call render.WorkerMain first (see
// WorkerArg) unless the renderer runs in process, as here.
func ExampleRenderer_Render() {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true // the offline CLI's choice; servers keep child processes
	r, err := render.New(cfg, render.Settings{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer r.Close()
	v := &graph.View{Nodes: []graph.ViewNode{{Name: "api", Kind: graph.ServiceNode}}}
	out, err := r.Render(context.Background(), "version 1, whole graph", v, picture.DOT, picture.Options{Title: "demo"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(strings.SplitN(string(out), "\n", 2)[0])
	// Output: digraph "servicegraph" {
}

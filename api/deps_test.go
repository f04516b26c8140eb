package api_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoGraphvizDependency: neither the API nor the render vocabulary may
// depend on go-graphviz, whose init compiles Graphviz's WASM in every
// binary that imports it (see package picture). Only main wires the engine.
func TestNoGraphvizDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to list dependencies with")
	}
	for _, pkg := range []string{"github.com/servicegraph/servicegraph/api", "github.com/servicegraph/servicegraph/render/picture"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed %d packages: %q", pkg, len(deps), out)
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "github.com/goccy/go-graphviz") || d == "github.com/servicegraph/servicegraph/render" {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}

package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/render"
)

// TestMain makes the test binary a render worker when the renderer starts
// it as one (render.WorkerArg), as main does: an SVG or PNG render must not
// run the tests again in a child process.
func TestMain(m *testing.M) {
	render.WorkerMain()
	os.Exit(m.Run())
}

// TestRenderCommand runs servicegraph render in process: its messages and
// exit statuses (2 for a wrong command line, 1 for input that draws
// nothing or a layout past -timeout).
func TestRenderCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noSpans := write("nospans.json", `{"resourceSpans":[]}`)
	noEdges := write("noedges.json", `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cron"}}]},`+
		`"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"tick","kind":1,`+
		`"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000"}]}]}]}`)
	calls := "../../testdata/traces/calls.json"
	usage := "\nrun 'servicegraph render --help' for the flags\n"
	hint := "narrow the graph: pick a service with -service NAME -depth 1, or fewer kinds with -kinds call,messaging_system; or allow more time with -timeout"
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown extension", []string{"-o", filepath.Join(dir, "x.jpg"), calls}, exitUsage,
			fmt.Sprintf(`servicegraph: -o %q: unknown extension ".jpg": want .dot, .svg or .png (or give -format)`, filepath.Join(dir, "x.jpg")) + usage},
		{"no extension", []string{"-o", "graph", calls}, exitUsage,
			`servicegraph: -o "graph": no extension to pick the format from: want .dot, .svg or .png (or give -format)` + usage},
		{"bad format", []string{"-format", "gif", calls}, exitUsage,
			`servicegraph: -format: unknown format "gif" (want dot, svg or png)` + usage},
		{"depth without service", []string{"-format", "dot", "-depth", "1", calls}, exitUsage,
			"servicegraph: -depth needs -service: it counts hops from that service" + usage},
		{"depth above the API's", []string{"-format", "dot", "-service", "checkout", "-depth", "11", calls}, exitUsage,
			"servicegraph: -depth must be a whole number from 0 to 10, got 11" + usage},
		{"negative depth", []string{"-format", "dot", "-service", "checkout", "-depth", "-1", calls}, exitUsage,
			"servicegraph: -depth must be a whole number from 0 to 10, got -1" + usage},
		{"every problem at once", []string{"-rankdir", "up", "-kinds", "rpc", "-timeout", "0s"}, exitUsage,
			`servicegraph: -rankdir must be LR, TB, RL or BT, got "up"` + "\n" +
				`-kinds: unknown kind "rpc" (want one of call, messaging_system, span_link, database, virtual_node)` + "\n" + "-timeout must be positive, got 0s\nno input files (give - to read stdin)" + usage},
		{"no spans", []string{"-format", "dot", noSpans}, exitFailure,
			"servicegraph: nothing to draw: the input holds no spans\n"},
		{"no edges", []string{"-format", "dot", noEdges}, exitFailure,
			"servicegraph: nothing to draw: the input's 1 span made no edges (edges need a client and a server span, " +
				"a producer and a consumer, a span link, or a client span naming its peer)\n"},
		{"filters leave nothing", []string{"-format", "dot", "-kinds", "span_link", calls}, exitFailure,
			"servicegraph: nothing to draw: none of the input's 8 edges matches -service, -depth, -direction, -cycles and -kinds\n"},
		{"no cycles", []string{"-format", "dot", "-cycles", calls}, exitFailure,
			"servicegraph: nothing to draw: none of the input's 8 edges matches -service, -depth, -direction, -cycles and -kinds\n"},
		{"unknown direction", []string{"-format", "dot", "-service", "checkout", "-direction", "sideways", calls}, exitUsage,
			`servicegraph: -direction: unknown direction "sideways" (want both, downstream or upstream)` + usage},
		{"direction without service", []string{"-format", "dot", "-direction", "upstream", calls}, exitUsage,
			"servicegraph: -direction upstream needs -service: it walks from that service" + usage},
		{"unknown service", []string{"-format", "dot", "-service", "nosuch", calls}, exitFailure,
			`servicegraph: -service "nosuch": no such service in the input` + "\n"},
		{"scale out of range", []string{"-format", "png", "-scale", "5", calls}, exitUsage,
			"servicegraph: -scale must be from 1 to 4, got 5" + usage},
		{"timeout", []string{"-format", "svg", "-timeout", "1ns", calls}, exitFailure,
			"servicegraph: drawing took too long: not done after 1ns (9 nodes, 8 edges); " + hint + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, append([]string{"render"}, tt.args...)...)
			if code != tt.code || stderr != tt.stderr || stdout != "" {
				t.Errorf("exit %d, stderr:\n%s\nstdout %.60q\nwant exit %d, stderr:\n%s", code, stderr, stdout, tt.code, tt.stderr)
			}
		})
	}
	t.Run("upstream of payments", func(t *testing.T) {
		stdout, stderr, code := runMain(t, "render", "-format", "dot", "-service", "payments", "-depth", "10", "-direction", "upstream", calls)
		if code != exitOK || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		var edges []string
		for _, l := range strings.Split(stdout, "\n") {
			if l = strings.TrimSpace(l); strings.Contains(l, " -> ") && !strings.HasPrefix(l, `"legend:`) {
				edges = append(edges, l[:strings.Index(l, " [")])
			}
		}
		want := []string{`"checkout" -> "payments"`, `"frontend" -> "checkout"`, `"user" -> "frontend"`}
		if !slices.Equal(edges, want) {
			t.Fatalf("edges %q, want %q", edges, want)
		}
	})
	t.Run("png at -scale 1 and the default 2", func(t *testing.T) {
		size := func(args ...string) image.Config {
			stdout, stderr, code := runMain(t, append([]string{"render", "-format", "png", "-service", "checkout", "-depth", "1"}, append(args, calls)...)...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			c, err := png.DecodeConfig(strings.NewReader(stdout))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		one, two := size("-scale", "1"), size()
		if dw, dh := two.Width-2*one.Width, two.Height-2*one.Height; dw < -2 || dw > 2 || dh < -2 || dh > 2 {
			t.Errorf("default %dx%d, -scale 1 %dx%d: want twice", two.Width, two.Height, one.Width, one.Height)
		}
	})
	t.Run("dot to stdout", func(t *testing.T) {
		stdout, stderr, code := runMain(t, "render", "-format", "dot", "-service", "checkout", "-depth", "1", calls)
		if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, `digraph "servicegraph" {`) {
			t.Fatalf("exit %d, stderr %q, stdout %.60q", code, stderr, stdout)
		}
	})
}

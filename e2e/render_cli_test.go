package e2e

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestRenderCLI draws the testdata traces offline, with the service's
// pairing and link resolution.
func TestRenderCLI(t *testing.T) {
	files := []string{"../testdata/traces/calls.json", "../testdata/traces/messaging.json", "../testdata/traces/links.json"}
	out, err := exec.Command(sgBin, append([]string{"render", "-format", "dot"}, files...)...).Output()
	if err != nil {
		t.Fatalf("render dot: %v", err)
	}
	golden := filepath.Join("testdata", "render-cli.golden.dot")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("DOT differs from %s (run go test ./e2e -run TestRenderCLI -update):\n%s", golden, out)
	}

	// SVG to a file, the format from its extension; links.json from stdin.
	svg := filepath.Join(t.TempDir(), "graph.svg")
	cmd := exec.Command(sgBin, "render", "-o", svg, "../testdata/traces/calls.json", "-")
	stdin, err := os.Open("../testdata/traces/links.json")
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	cmd.Stdin = stdin
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render svg: %v\n%s", err, b)
	}
	dashed, solid := svgEdges(t, svg)
	wantDashed := []string{"cart->reporting-batch", "checkout->reporting-batch", "payments->payments", "saga->saga"}
	if !slices.Equal(dashed, wantDashed) {
		t.Errorf("dashed edges = %q, want %q", dashed, wantDashed)
	}
	for _, e := range solid {
		if slices.Contains(wantDashed, e) {
			t.Errorf("async edge %s drawn solid", e)
		}
	}
	if !slices.Contains(solid, "frontend->checkout") || !slices.Contains(solid, "checkout->orders") {
		t.Errorf("solid edges = %q", solid)
	}
}

// svgEdges parses an SVG and returns the titles of the edges drawn dashed
// and solid (graphviz: <g class="edge"><title>a->b</title> ... <path>).
func svgEdges(t *testing.T, path string) (dashed, solid []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	depth, edgeDepth := 0, -1
	var title string
	inTitle, decided := false, false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			attr := func(name string) string {
				for _, a := range el.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch {
			case el.Name.Local == "g" && attr("class") == "edge" && edgeDepth < 0:
				edgeDepth, title, decided = depth, "", false
			case el.Name.Local == "title" && edgeDepth >= 0 && title == "":
				inTitle = true
			case el.Name.Local == "path" && edgeDepth >= 0 && !decided && !strings.HasPrefix(title, "legend"):
				decided = true
				if attr("stroke-dasharray") != "" {
					dashed = append(dashed, title)
				} else {
					solid = append(solid, title)
				}
			}
		case xml.CharData:
			if inTitle {
				title += string(el)
			}
		case xml.EndElement:
			inTitle = false
			if depth == edgeDepth {
				edgeDepth = -1
			}
			depth--
		}
	}
	slices.Sort(dashed)
	slices.Sort(solid)
	return dashed, solid
}

func TestRenderCLIBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"not json", []string{"../testdata/traces/not-json.json"}, "not-json.json: request 1: not JSON"},
		{"bad ids", []string{"../testdata/traces/invalid-ids.json"}, "invalid-ids.json: request 1: not OTLP/JSON traces"},
		{"missing file", []string{"no-such.json"}, "no-such.json"},
		{"no files", nil, "no input files"},
		{"bad format", []string{"-format", "gif", "../testdata/traces/calls.json"}, "-format"},
		{"bad kind", []string{"-kinds", "rpc", "../testdata/traces/calls.json"}, `unknown kind "rpc"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(sgBin, append([]string{"render", "-format", "dot"}, tc.args...)...).CombinedOutput()
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

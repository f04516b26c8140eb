package picture_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestWriteDOTGolden(t *testing.T) {
	tests := []struct {
		name string
		v    *graph.View
		o    picture.Options
	}{
		{"kinds", picturetest.KindsView(), picture.Options{}},
		{"names", picturetest.NamesView(), picture.Options{}},
		{"options", picturetest.KindsView(), picture.Options{RankDir: "tb", Label: "rate", Title: `last hour, kinds="span_link" \ all`}},
		{"empty", picturetest.View(nil, nil), picture.Options{Title: "nothing in this window"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := picture.WriteDOT(&b, tc.v, tc.o); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden.dot")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./render/picture -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("DOT differs from %s (go test ./render/picture -update rewrites it); got:\n%s", golden, b.String())
			}
		})
	}
}

// TestWriteDOTDeterministic checks identical bytes for identical input,
// whatever the order of the view's slices.
func TestWriteDOTDeterministic(t *testing.T) {
	var first bytes.Buffer
	if err := picture.WriteDOT(&first, picturetest.KindsView(), picture.Options{}); err != nil {
		t.Fatal(err)
	}
	v := picturetest.KindsView()
	for i, j := 0, len(v.Nodes)-1; i < j; i, j = i+1, j-1 {
		v.Nodes[i], v.Nodes[j] = v.Nodes[j], v.Nodes[i]
	}
	for i, j := 0, len(v.Edges)-1; i < j; i, j = i+1, j-1 {
		v.Edges[i], v.Edges[j] = v.Edges[j], v.Edges[i]
	}
	for range 3 {
		var b bytes.Buffer
		if err := picture.WriteDOT(&b, v, picture.Options{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), first.Bytes()) {
			t.Fatalf("output changed between runs:\n%s\n---\n%s", first.String(), b.String())
		}
	}
}

func TestWriteDOTStyles(t *testing.T) {
	var b bytes.Buffer
	if err := picture.WriteDOT(&b, picturetest.KindsView(), picture.Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	find := func(prefix string) string {
		t.Helper()
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return l
			}
		}
		t.Fatalf("no line starting with %s in\n%s", prefix, b.String())
		return ""
	}
	tests := []struct {
		name, prefix string
		want, not    []string
	}{
		{"call solid", `"checkout" -> "payments" [id="e_checkout_payments_call_`, []string{"style=solid", `label="1.2k\n0.5% err"`}, []string{"dashed"}},
		{"parallel link dashed", `"checkout" -> "payments" [id="e_checkout_payments_span_link_`, []string{"style=dashed", `label="span_link\n100"`}, nil},
		{"self loop", `"batch" -> "batch"`, []string{"style=dashed", "span_link"}, nil},
		{"messaging dashed orange", `"checkout" -> "shipping"`, []string{"style=dashed", "messaging_system", `color="#e08a00"`, "2.5% err"}, nil},
		{"red above 5%", `"payments" [`, []string{"shape=box", `color="#d62728"`}, nil},
		{"widest edge", `"user" -> "frontend"`, []string{"penwidth=5.00", "style=solid"}, nil},
		{"database", `"postgres" [`, []string{"shape=cylinder"}, nil},
		{"virtual", `"stripe.com" [`, []string{"shape=ellipse", "dashed"}, nil},
		{"overflow", `"__overflow__" [`, []string{"other services", "shape=ellipse"}, nil},
		{"rankdir", `graph [`, []string{"rankdir=LR"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := find(tc.prefix)
			for _, w := range tc.want {
				if !strings.Contains(l, w) {
					t.Errorf("%s lacks %s", l, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(l, w) {
					t.Errorf("%s has %s", l, w)
				}
			}
		})
	}
}

func TestWriteDOTEscaping(t *testing.T) {
	var b bytes.Buffer
	if err := picture.WriteDOT(&b, picturetest.NamesView(), picture.Options{}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		`"say \"hi\"" [`,                             // quote escaped
		`"C:\\svc\\" [`,                              // backslashes doubled, closing quote intact
		`"line1\x0aline2" [`,                         // no raw newline in an ID
		`"a&amp;b &amp;amp; &amp;bogus;"`,            // no raw entity reaches the SVG
		`"注文サービス-🚀" [`,                               // unicode kept
		`"` + picturetest.LongName + `" [`,           // long ID exact
		`label="` + picturetest.LongName[:39] + `…"`, // label cut at 40 runes
		`"legend:service~" [id="legend_service"`,     // legend gave way
		`"not-in-nodes" [`,                           // implicit node declared
	} {
		if !strings.Contains(s, want) {
			t.Errorf("DOT lacks %s", want)
		}
	}
	for i, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if strings.ContainsAny(l, "\r\x00") {
			t.Errorf("line %d has a control character: %q", i+1, l)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       picture.Options
		wantErr []string
	}{
		{"zero", picture.Options{}, nil},
		{"all set", picture.Options{RankDir: "BT", Label: "rate", Title: "t"}, nil},
		{"lower case", picture.Options{RankDir: "tb", Label: "COUNT"}, nil},
		{"bad everything", picture.Options{RankDir: "up", Label: "latency", Title: strings.Repeat("x", picture.MaxTitleBytes+1)},
			[]string{"rankdir", "label", "title"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("Validate() = %v, want error %v", err, tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
	if err := picture.WriteDOT(&bytes.Buffer{}, picturetest.KindsView(), picture.Options{RankDir: "diagonal"}); err == nil {
		t.Error("WriteDOT accepted a bad rankdir")
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]picture.Format{"dot": picture.DOT, "SVG": picture.SVG, " png ": picture.PNG} {
		if got, err := picture.ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := picture.ParseFormat("pdf"); err == nil {
		t.Error("ParseFormat(pdf) succeeded")
	}
}

func TestFormatOfFile(t *testing.T) {
	tests := []struct {
		name    string
		want    picture.Format
		wantErr string
	}{
		{"graph.svg", picture.SVG, ""},
		{"out/Graph.PNG", picture.PNG, ""},
		{"x.dot", picture.DOT, ""},
		{"x.jpg", "", `unknown extension ".jpg": want .dot, .svg or .png`},
		{"graph", "", "no extension to pick the format from: want .dot, .svg or .png"},
	}
	for _, tc := range tests {
		got, err := picture.FormatOfFile(tc.name)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
			t.Errorf("FormatOfFile(%q) = %q, %v; want %q, %q", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseRankDir(t *testing.T) {
	for in, want := range map[string]string{"": "LR", "tb": "TB", "Rl": "RL", "BT": "BT"} {
		if got, err := picture.ParseRankDir(in); err != nil || got != want {
			t.Errorf("ParseRankDir(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := picture.ParseRankDir("up"); err == nil || err.Error() != `rankdir must be LR, TB, RL or BT, got "up"` {
		t.Errorf("ParseRankDir(up): %v", err)
	}
}

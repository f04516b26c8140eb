package picture_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

// TestWriteDiffDOTGolden: the diff's DOT, golden, with counts and with
// rates; the view passed with a diff is not read.
func TestWriteDiffDOTGolden(t *testing.T) {
	d := picturetest.Diff()
	for _, tc := range []struct {
		name string
		o    picture.Options
	}{
		{"diff", picture.Options{Diff: d}},
		{"diff_rate", picture.Options{Diff: d, Label: "rate", RankDir: "TB", Title: "last hour against the hour before"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := picture.WriteDOT(&b, picturetest.KindsView(), tc.o); err != nil {
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
	// The same diff from the union view alone draws the same bytes.
	var a, b bytes.Buffer
	if err := picture.WriteDOT(&a, d.View(), picture.Options{Diff: d}); err != nil {
		t.Fatal(err)
	}
	if err := picture.WriteDOT(&b, picturetest.KindsView(), picture.Options{Diff: d}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || !strings.Contains(a.String(), `class="diff-added"`) {
		t.Error("the diff's picture depends on the view passed with it")
	}
}

package picture

import (
	"errors"
	"fmt"
	"strings"

	"github.com/servicegraph/servicegraph/graph"
)

// Label values of Options.
const (
	LabelCount = "count" // edge labels show the request count in the window
	LabelRate  = "rate"  // edge labels show requests per second
)

// RankDirs are the layout directions, the default first.
var RankDirs = [...]string{"LR", "TB", "RL", "BT"}

// MaxTitleBytes bounds Options.Title.
const MaxTitleBytes = 1024

// MaxScale bounds Options.Scale.
const MaxScale = 4

// Options shape one picture. The zero value is valid: left to right, counts,
// no title.
type Options struct {
	// RankDir is the direction of the layout, one of RankDirs ("LR" when
	// empty), case-insensitive.
	RankDir string
	// Label is what edge labels show besides the error percentage: "count"
	// (default when empty) or "rate" (per second).
	Label string
	// Title is an optional graph label, e.g. the window and the filters.
	Title string
	// Scale multiplies a PNG's size, the whole drawing zoomed (text, lines
	// and shapes; the layout is the same), so that text stays readable in
	// documents: 0 means 1, else 1 to MaxScale. The DOT text does not
	// carry it: the renderer zooms at drawing time, and DOT and SVG ignore
	// it (Render sets it to 1 for them).
	Scale float64
	// Diff, when set, is drawn instead of the view: added nodes and edges
	// highlighted, removed ones faded, changed ones annotated with the
	// change (see WriteDOT). The view passed with it should be Diff.View(),
	// which size bounds count. Render keys must then name the diff.
	Diff *graph.Diff
}

// ParseRankDir returns s as one of RankDirs, upper case; empty is RankDirs[0].
func ParseRankDir(s string) (string, error) {
	u := strings.ToUpper(s)
	if u == "" {
		return RankDirs[0], nil
	}
	for _, d := range RankDirs {
		if u == d {
			return d, nil
		}
	}
	return "", fmt.Errorf("rankdir must be %s, got %q", strings.Join(RankDirs[:len(RankDirs)-1], ", ")+" or "+RankDirs[len(RankDirs)-1], s)
}

// Validate reports every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	if _, err := ParseRankDir(o.RankDir); err != nil {
		errs = append(errs, err)
	}
	switch strings.ToLower(o.Label) {
	case "", LabelCount, LabelRate:
	default:
		errs = append(errs, fmt.Errorf("label must be count or rate, got %q", o.Label))
	}
	if o.Scale != 0 && !(o.Scale >= 1 && o.Scale <= MaxScale) {
		errs = append(errs, fmt.Errorf("scale must be from 1 to %d, got %g", MaxScale, o.Scale))
	}
	if len(o.Title) > MaxTitleBytes {
		errs = append(errs, fmt.Errorf("title is %d bytes, above the limit of %d", len(o.Title), MaxTitleBytes))
	}
	return errors.Join(errs...)
}

// Normalized returns o with defaults filled in and canonical case, so that
// equal pictures have equal options. Call it on validated options only.
func (o Options) Normalized() Options {
	o.RankDir, _ = ParseRankDir(o.RankDir)
	o.Label = strings.ToLower(o.Label)
	if o.Label == "" {
		o.Label = LabelCount
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	return o
}

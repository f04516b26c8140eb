package render

import (
	"errors"
	"fmt"
	"strings"
)

// Label values of Options.
const (
	LabelCount = "count" // edge labels show the request count in the window
	LabelRate  = "rate"  // edge labels show requests per second
)

// MaxTitleBytes bounds Options.Title.
const MaxTitleBytes = 1024

// Options shape one picture. The zero value is valid: left to right, counts,
// no title.
type Options struct {
	// RankDir is the direction of the layout: "LR" (default when empty),
	// "TB", "RL" or "BT", case-insensitive.
	RankDir string
	// Label is what edge labels show besides the error percentage: "count"
	// (default when empty) or "rate" (per second).
	Label string
	// Title is an optional graph label, e.g. the window and the filters.
	Title string
}

// Validate reports every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	switch strings.ToUpper(o.RankDir) {
	case "", "LR", "TB", "RL", "BT":
	default:
		errs = append(errs, fmt.Errorf("rankdir %q: want LR, TB, RL or BT", o.RankDir))
	}
	switch strings.ToLower(o.Label) {
	case "", LabelCount, LabelRate:
	default:
		errs = append(errs, fmt.Errorf("label %q: want count or rate", o.Label))
	}
	if len(o.Title) > MaxTitleBytes {
		errs = append(errs, fmt.Errorf("title is %d bytes, above the limit of %d", len(o.Title), MaxTitleBytes))
	}
	return errors.Join(errs...)
}

// normalized returns o with defaults filled in and canonical case, so that
// equal pictures have equal options. Call it on validated options only.
func (o Options) normalized() Options {
	o.RankDir = strings.ToUpper(o.RankDir)
	if o.RankDir == "" {
		o.RankDir = "LR"
	}
	o.Label = strings.ToLower(o.Label)
	if o.Label == "" {
		o.Label = LabelCount
	}
	return o
}

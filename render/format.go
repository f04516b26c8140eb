package render

import (
	"fmt"
	"strings"
)

// Format is an output format of Render.
type Format string

// Output formats.
const (
	DOT Format = "dot" // Graphviz DOT text, no layout
	SVG Format = "svg" // laid out by Graphviz dot
	PNG Format = "png" // laid out by Graphviz dot
)

// Formats lists every format, in the order used for metric labels.
var Formats = [...]Format{DOT, SVG, PNG}

// ParseFormat parses a format name, case-insensitively ("svg", "SVG").
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f.valid() {
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want dot, svg or png)", s)
}

func (f Format) valid() bool { return f == DOT || f == SVG || f == PNG }

// ContentType returns the media type of the format, for HTTP answers.
func (f Format) ContentType() string {
	switch f {
	case SVG:
		return "image/svg+xml"
	case PNG:
		return "image/png"
	default:
		return "text/vnd.graphviz; charset=utf-8"
	}
}

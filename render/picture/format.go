package picture

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is an output format of a picture.
type Format string

// Output formats.
const (
	DOT Format = "dot" // Graphviz DOT text, no layout
	SVG Format = "svg" // laid out by Graphviz dot
	PNG Format = "png" // laid out by Graphviz dot
)

// Formats lists every format, in the order used for metric labels and
// messages.
var Formats = [...]Format{DOT, SVG, PNG}

// formatList is "dot, svg or png", for messages.
func formatList(prefix string) string {
	var names []string
	for _, f := range Formats {
		names = append(names, prefix+string(f))
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseFormat parses a format name, case-insensitively ("svg", "SVG").
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f.Valid() {
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want %s)", s, formatList(""))
}

// FormatOfFile picks the format from a file name's extension, case
// insensitively ("graph.SVG" is SVG). A name without an extension or with
// another one is an error that lists the known extensions.
func FormatOfFile(name string) (Format, error) {
	ext := filepath.Ext(name)
	f := Format(strings.ToLower(strings.TrimPrefix(ext, ".")))
	if ext != "" && f.Valid() {
		return f, nil
	}
	if ext == "" {
		return "", fmt.Errorf("no extension to pick the format from: want %s", formatList("."))
	}
	return "", fmt.Errorf("unknown extension %q: want %s", ext, formatList("."))
}

// Valid reports whether f is one of Formats.
func (f Format) Valid() bool { return f == DOT || f == SVG || f == PNG }

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

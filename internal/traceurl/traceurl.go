// Package traceurl turns a trace id into a link to a trace viewer (Jaeger
// UI, Grafana Explore, Tempo) from a URL template. A Template is
// immutable and safe for concurrent use.
package traceurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Placeholders a template may hold: {trace_id} (required) and {span_id},
// replaced by the ids in lowercase hex.
const (
	TraceID = "{trace_id}"
	SpanID  = "{span_id}"
)

// Template is a parsed trace URL template; the zero Template makes no
// URLs.
type Template struct{ raw string }

// Parse checks s: it must hold {trace_id} and, the placeholders filled
// in, be an absolute http or https URL with a host. "" is the zero
// Template (no links).
func Parse(s string) (Template, error) {
	if s == "" {
		return Template{}, nil
	}
	if !strings.Contains(s, TraceID) {
		return Template{}, fmt.Errorf("trace URL template %q has no %s placeholder", s, TraceID)
	}
	t := Template{raw: s}
	u, err := url.Parse(t.URL("0123456789abcdef0123456789abcdef", "0123456789abcdef"))
	if err != nil {
		return Template{}, fmt.Errorf("trace URL template %q: %w", s, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return Template{}, fmt.Errorf("trace URL template %q must be an http:// or https:// URL with a host", s)
	}
	return t, nil
}

// MustParse is Parse for a template known to be valid; it panics on
// another.
func MustParse(s string) Template {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

// Set reports whether the template makes URLs.
func (t Template) Set() bool { return t.raw != "" }

// String is the template as given.
func (t Template) String() string { return t.raw }

// URL is the link to the trace traceID (span spanID, "" if none): ""
// for the zero Template or an empty traceID. The ids are hex, so they
// need no escaping.
func (t Template) URL(traceID, spanID string) string {
	if t.raw == "" || traceID == "" {
		return ""
	}
	return strings.NewReplacer(TraceID, traceID, SpanID, spanID).Replace(t.raw)
}

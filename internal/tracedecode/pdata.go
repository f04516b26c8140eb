package tracedecode

import (
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// FromTraces fills r from td as Decode does from td's serialized form: the
// same records, counts and refusals. It refuses td, with an error wrapping
// consumer.ErrTooDeep, when an attribute value nests past
// otlpwire.MaxValueDepth (see checkDepth); r is then left empty. Strings in
// r are pdata's, not copied.
func FromTraces(td ptrace.Traces, r *Records) error {
	if err := checkDepth(td); err != nil {
		return err
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var service string
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			service = v.AsString()
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				r.fromSpan(spans.At(k))
			}
		}
		r.Resources = append(r.Resources, Resource{Service: service, End: len(r.Spans)})
	}
	return nil
}

// fromSpan appends one pdata span.
func (r *Records) fromSpan(sp ptrace.Span) {
	s := Span{Key: Key{Trace: sp.TraceID(), Span: sp.SpanID()}, Parent: sp.ParentSpanID(),
		Kind: uint8(sp.Kind()), Failed: sp.Status().Code() == ptrace.StatusCodeError, Name: sp.Name()}
	linkLo := len(r.Links)
	if s.Key.Valid() {
		if wantsPeer(&s) {
			peerOf(sp.Attributes(), r.naming(), &s)
		}
		s.Weight = weightOf(sp.Attributes(), r.naming(), sp.TraceState().AsRaw())
		links := sp.Links()
		for l := 0; l < links.Len(); l++ {
			ln := links.At(l)
			r.Links = append(r.Links, Key{Trace: ln.TraceID(), Span: ln.SpanID()})
		}
	}
	r.accept(&s, uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp()), linkLo)
}

// checkDepth refuses td, as Decode refuses its serialized form, when
// an attribute value anywhere in it (resource, scope, span, event or link
// attributes) nests past otlpwire.MaxValueDepth. pdata builds any depth;
// the walk stops one level past the bound.
func checkDepth(td ptrace.Traces) error {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		path := "resource_spans[" + strconv.Itoa(i) + "]"
		if k, ok := deepAttr(rs.Resource().Attributes()); ok {
			return depthError(path + ".resource.attributes[" + strconv.Quote(k) + "]")
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			path := path + ".scope_spans[" + strconv.Itoa(j) + "]"
			if k, ok := deepAttr(ss.Scope().Attributes()); ok {
				return depthError(path + ".scope.attributes[" + strconv.Quote(k) + "]")
			}
			spans := ss.Spans()
			for n := 0; n < spans.Len(); n++ {
				if where, ok := deepSpan(spans.At(n)); ok {
					return depthError(path + ".spans[" + strconv.Itoa(n) + "]." + where)
				}
			}
		}
	}
	return nil
}

func depthError(path string) error {
	return fmt.Errorf("%s: %w: more than %d levels", path, consumer.ErrTooDeep, otlpwire.MaxValueDepth)
}

// deepSpan finds a value nested too deep among a span's attributes and
// those of its events and links.
func deepSpan(sp ptrace.Span) (where string, found bool) {
	if k, ok := deepAttr(sp.Attributes()); ok {
		return "attributes[" + strconv.Quote(k) + "]", true
	}
	evs := sp.Events()
	for i := 0; i < evs.Len(); i++ {
		if k, ok := deepAttr(evs.At(i).Attributes()); ok {
			return "events[" + strconv.Itoa(i) + "].attributes[" + strconv.Quote(k) + "]", true
		}
	}
	links := sp.Links()
	for i := 0; i < links.Len(); i++ {
		if k, ok := deepAttr(links.At(i).Attributes()); ok {
			return "links[" + strconv.Itoa(i) + "].attributes[" + strconv.Quote(k) + "]", true
		}
	}
	return "", false
}

// deepAttr returns the key of the first attribute whose value nests past
// the bound.
func deepAttr(m pcommon.Map) (string, bool) {
	for k, v := range m.All() {
		if tooDeepValue(v, 1) {
			return k, true
		}
	}
	return "", false
}

// tooDeepValue reports whether v, a value of the given level, or a value
// inside it lies past otlpwire.MaxValueDepth. It recurses at most one
// level past the bound.
func tooDeepValue(v pcommon.Value, level int) bool {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		if level == otlpwire.MaxValueDepth {
			return v.Map().Len() > 0
		}
		for _, c := range v.Map().All() {
			if tooDeepValue(c, level+1) {
				return true
			}
		}
	case pcommon.ValueTypeSlice:
		if level == otlpwire.MaxValueDepth {
			return v.Slice().Len() > 0
		}
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if tooDeepValue(s.At(i), level+1) {
				return true
			}
		}
	}
	return false
}

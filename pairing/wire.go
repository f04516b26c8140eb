package pairing

import (
	"context"
	"fmt"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// This file decodes a serialized ExportTraceServiceRequest straight into a
// batch, without pdata: it reads the few fields pairing needs and checks
// the rest only for well-formedness, skipping every attribute value, event
// and string it does not need. It fills exactly what decode fills from
// ptrace.Traces (the differential fuzz tests in wire_test.go hold it to
// that), and it refuses a request if and only if
// ptraceotlp.ExportRequest.UnmarshalProto does (see internal/otlpwire for
// pdata's leniencies it shares) or checkDepth refuses what pdata decoded:
// the one deliberate difference, a bound on how deeply attribute values
// nest (otlpwire.MaxValueDepth), which keeps the recursive walk of values
// bounded where pdata's is not.
//
// Aliasing: span names and attribute strings are read in place
// (unsafe.String over buf), never copied. That is safe because nothing
// keeps them past the call: the batch is reset (clearing spans and names)
// before it returns to the pool; a span name that must outlive the call (a
// waiting link, a recent problem) is copied by batch.nameOf; graph.Store.Node
// copies the names it adds to the graph (and looks up the others without
// keeping them). Code that retains span.name must go through nameOf. While
// decoding, b.names holds CLIENT spans' peer names (aliases too); they are
// looked up and the entries emptied before decodeProto returns, so nameOf
// finds them empty, as after decode.

var _ consumer.ProtoTraces = (*Processor)(nil)

// ConsumeTracesProto is ConsumeTraces for a serialized
// ExportTraceServiceRequest, decoded without pdata: the same result, errors
// and counters, at a fraction of the cost. A request that
// ptraceotlp.ExportRequest.UnmarshalProto would refuse (malformed protobuf,
// a trace_id not of 16 bytes, a span_id or parent_span_id not of 8) is
// refused whole with a permanent error, wrapped by consumer.NewMalformed,
// that names where decoding failed; nothing of it is counted or recorded.
// So is a request with an attribute value nested past
// otlpwire.MaxValueDepth, which pdata would accept (it recurses without a
// bound): that error wraps consumer.ErrTooDeep too.
// Safe for concurrent use; buf is neither modified nor retained.
func (p *Processor) ConsumeTracesProto(_ context.Context, buf []byte) error {
	b := p.pool.Get().(*batch)
	defer func() { b.reset(); p.pool.Put(b) }()
	rejected, err := p.decodeProto(buf, b)
	if err != nil {
		return err
	}
	return p.process(b, rejected)
}

// decodeProto copies what pairing needs out of a serialized request into
// b, as decode does from ptrace.Traces. Graph nodes are looked up only once
// the whole request has decoded, in decode's order (each resource's
// service, then its spans' peers), so that a refused request adds none.
func (p *Processor) decodeProto(buf []byte, b *batch) (rejected int, err error) {
	var stack [16]resourceEnd // most requests carry one resource
	d := wireDecoder{b: b}
	res, e := d.request(buf, stack[:0])
	if e != nil {
		b.reset()
		return 0, consumer.NewMalformed(fmt.Errorf("decode protobuf ExportTraceServiceRequest: %w", e))
	}
	var cache peerCache
	lo := 0
	for _, r := range res {
		name := r.name
		if name == "" {
			name = UnknownService
		}
		svc := p.graph.Node(name, graph.ServiceNode)
		for i := lo; i < r.end; i++ {
			s := &b.spans[i]
			s.svc = svc
			if s.hasPeer {
				s.peer = cache.node(p, b.names[i], s.peerKind)
				b.names[i] = ""
			}
		}
		lo = r.end
	}
	p.count(d.received, d.rejected, d.sanitised)
	return d.rejected, nil
}

// peerCache remembers the last peers looked up: the CLIENT spans of a
// request name few databases and peers. Node's side effects happen on a
// name's first lookup with a kind, except for names folded into
// graph.OverflowNode, counted at every lookup: those are not cached, so
// that the counts match decode's.
type peerCache struct {
	e    [8]peerCacheEntry
	next int
}

type peerCacheEntry struct {
	name string
	kind graph.Kind
	id   graph.NodeID
}

func (c *peerCache) node(p *Processor, name string, k graph.Kind) graph.NodeID {
	for i := range c.e {
		if e := &c.e[i]; e.name == name && e.kind == k && e.name != "" {
			return e.id
		}
	}
	id := p.peerNode(name, k)
	if p.graph.Name(id) != graph.OverflowNode {
		c.e[c.next] = peerCacheEntry{name: name, kind: k, id: id}
		c.next = (c.next + 1) % len(c.e)
	}
	return id
}

// wireDecoder is the state of one decodeProto call. Until decodeProto
// resolves them, a span's svc is unset and a CLIENT span's peer name waits
// in b.names.
type wireDecoder struct {
	b                             *batch
	received, rejected, sanitised int
}

// resourceEnd is one resource_spans: its service.name value ("" when
// missing or empty) and the end of its spans in b.spans.
type resourceEnd struct {
	name string
	end  int
}

// request reads an ExportTraceServiceRequest, appending one resourceEnd
// per resource_spans to res.
func (d *wireDecoder) request(buf []byte, res []resourceEnd) ([]resourceEnd, *wireError) {
	n := 0
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 && num == otlpwire.RequestResourceSpans {
			return res, codeError("", hi).in("resource_spans", n)
		} else if hi < 0 {
			return res, codeError("", hi)
		}
		if num != otlpwire.RequestResourceSpans {
			if i = skip(buf, typ, lo, hi); i < 0 {
				return res, codeError("", i)
			}
			continue
		}
		if typ != otlpwire.BytesType {
			return res, fieldError("resource_spans", typ, wrongWireType)
		}
		r, err := d.resourceSpans(buf[lo:hi])
		if err != nil {
			return res, err.in("resource_spans", n)
		}
		res = append(res, r)
		n++
		i = hi
	}
	return res, nil
}

// skip passes over a field that Field read, of a type and number the
// caller ignores: the position after it, or a negative otlpwire.Code.
func skip(buf []byte, typ protowire.Type, lo, hi int) int {
	if typ == otlpwire.BytesType {
		return hi
	}
	return otlpwire.Skip(buf, lo, typ)
}

// resourceSpans reads one ResourceSpans. Its fields may come in any order
// and repeat: the service is the first service.name attribute over every
// resource field, as pcommon.Map.Get finds it once pdata has merged them.
func (d *wireDecoder) resourceSpans(buf []byte) (resourceEnd, *wireError) {
	var name string
	named, hasScope, hasDeprecated := false, false, false
	nscope, ndep := 0, 0
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 && num == otlpwire.ResourceSpansScopeSpans {
			return resourceEnd{}, codeError("", hi).in("scope_spans", nscope)
		} else if hi < 0 {
			return resourceEnd{}, codeError(resourceSpansField(num), hi)
		}
		switch num {
		case otlpwire.ResourceSpansResource, otlpwire.ResourceSpansScopeSpans,
			otlpwire.ResourceSpansSchemaURL, otlpwire.ResourceSpansDeprecated:
			if typ != otlpwire.BytesType {
				return resourceEnd{}, fieldError(resourceSpansField(num), typ, wrongWireType)
			}
		default:
			if i = skip(buf, typ, lo, hi); i < 0 {
				return resourceEnd{}, codeError("", i)
			}
			continue
		}
		var err *wireError
		switch num {
		case otlpwire.ResourceSpansResource:
			if err = resource(buf[lo:hi], &name, &named); err != nil {
				err = err.in("resource", -1)
			}
		case otlpwire.ResourceSpansScopeSpans:
			if err = d.scopeSpans(buf[lo:hi], true); err != nil {
				err = err.in("scope_spans", nscope)
			}
			hasScope = true
			nscope++
		case otlpwire.ResourceSpansDeprecated:
			// Checked now, read below if there are no scope_spans.
			if err = d.scopeSpans(buf[lo:hi], false); err != nil {
				err = err.in("instrumentation_library_spans", ndep)
			}
			hasDeprecated = true
			ndep++
		}
		if err != nil {
			return resourceEnd{}, err
		}
		i = hi
	}
	if hasDeprecated && !hasScope {
		// pdata's MigrateTraces: the deprecated field stands in for
		// scope_spans. Everything was checked above.
		for i := 0; i < len(buf); {
			num, typ, lo, hi := otlpwire.Field(buf, i)
			if num == otlpwire.ResourceSpansDeprecated {
				_ = d.scopeSpans(buf[lo:hi], true)
			}
			i = skip(buf, typ, lo, hi)
		}
	}
	return resourceEnd{name: name, end: len(d.b.spans)}, nil
}

func resourceSpansField(num int32) string {
	switch num {
	case otlpwire.ResourceSpansResource:
		return "resource"
	case otlpwire.ResourceSpansScopeSpans:
		return "scope_spans"
	case otlpwire.ResourceSpansSchemaURL:
		return "schema_url"
	case otlpwire.ResourceSpansDeprecated:
		return "instrumentation_library_spans"
	}
	return ""
}

// fResourceAttributes is Resource.attributes.
const fResourceAttributes = 1

// resource reads a Resource; name gets the first service.name value unless
// named already.
func resource(buf []byte, name *string, named *bool) *wireError {
	nattr := 0
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 {
			return codeError(nameOf(resourceFields, num), hi)
		}
		if num != fResourceAttributes { // the rest is only checked
			var err *wireError
			if i, err = checkField(buf, resourceFields, num, typ, lo, hi, -1, 0); err != nil {
				return err
			}
			continue
		}
		if typ != otlpwire.BytesType {
			return fieldError("attributes", typ, wrongWireType)
		}
		key, str, isStr, err := keyValue(buf[lo:hi], 0)
		if err != nil {
			return err.in("attributes", nattr)
		}
		if !*named && key == "service.name" {
			if *named = true; isStr {
				*name = str
			} else {
				*name = valueString(buf[lo:hi])
			}
		}
		nattr++
		i = hi
	}
	return nil
}

// scopeSpans reads a ScopeSpans; its spans go to the batch only if record.
func (d *wireDecoder) scopeSpans(buf []byte, record bool) *wireError {
	n := 0
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 && num == otlpwire.ScopeSpansSpans {
			return codeError("", hi).in("spans", n)
		} else if hi < 0 {
			return codeError(nameOf(scopeSpansFields, num), hi)
		}
		if num != otlpwire.ScopeSpansSpans { // the rest is only checked
			var err *wireError
			if i, err = checkField(buf, scopeSpansFields, num, typ, lo, hi, -1, 0); err != nil {
				return err
			}
			continue
		}
		if typ != otlpwire.BytesType {
			return fieldError("spans", typ, wrongWireType)
		}
		if err := d.span(buf[lo:hi], record); err != nil {
			return err.in("spans", n)
		}
		n++
		i = hi
	}
	return nil
}

// alias returns b as a string without copying: valid while b is.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

package tracedecode

import (
	"fmt"
	"slices"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// Decode reads a serialized ExportTraceServiceRequest (the body of an
// OTLP/gRPC or OTLP/HTTP protobuf request, or a Kafka record value the
// Collector's kafkaexporter wrote with encoding otlp_proto) into r, which
// should be empty (Reset): the records FromTraces makes of the same request
// decoded by pdata. It reads the few fields spans need and checks the rest
// only for well-formedness, skipping every attribute value, event and string
// it does not need.
//
// It refuses buf if and only if ptraceotlp.ExportRequest.UnmarshalProto
// does (malformed protobuf, a trace_id not of 16 bytes, a span_id or
// parent_span_id not of 8; see internal/otlpwire for pdata's leniencies it
// shares), or when an attribute value nests past otlpwire.MaxValueDepth,
// which pdata would accept (it recurses without a bound) but FromTraces
// refuses too. The error is permanent (consumer.NewMalformed, and
// consumer.ErrTooDeep for the depth), names where decoding failed, and
// leaves r empty.
//
// Span names, peer names and service names in r alias buf (no copy): they
// are valid while buf is. Decode neither modifies nor retains buf.
func Decode(buf []byte, r *Records) error {
	return decode(buf, r, false)
}

// DecodeIndexOnly is Decode for a consumer that only indexes the spans
// (a replayed Kafka record whose pairs' waits are over, pairing/replay.go):
// the same checks, errors, spans and counts, but no span's peer is read
// (PeerKind NoPeer, Peer "") and no link is recorded (LinkLo == LinkHi,
// Links stays empty). Weights are read as Decode reads them.
func DecodeIndexOnly(buf []byte, r *Records) error {
	return decode(buf, r, true)
}

func decode(buf []byte, r *Records, indexOnly bool) error {
	reserveSpans(buf, r)
	d := &decoder{r: r, indexOnly: indexOnly}
	d.sr.peersRead, d.sr.naming, d.sr.r = !indexOnly, r.naming(), r
	d.sr.keyLengths = keyLengths(d.sr.naming, !indexOnly)
	if err := d.request(buf); err != nil {
		r.Reset()
		return consumer.NewMalformed(fmt.Errorf("decode protobuf ExportTraceServiceRequest: %w", err))
	}
	return nil
}

// minSpanBytes is the least a span that Records keeps takes on the wire:
// its own tag and length, and a 16-byte trace_id and 8-byte span_id with
// theirs (a span with an all-zero or missing id is only counted).
const minSpanBytes = 2 + 18 + 10

// reserveSpans makes room in r.Spans for the spans of buf at once, so
// that appending them one by one does not grow the slice step by step: at
// 1.25× a step, the arrays left behind added up to about five times the
// final one (28 MB for a 2 MiB request of minimal spans), garbage that the
// collector's slack then doubled in the memory requests in flight take.
// The count reads the request's outer levels only (otlpwire.SpanCount); it
// is capped at one Span per minSpanBytes of buf (about 3 B per byte), what
// buf can hold of spans that are kept, so that a body of empty spans (each
// only counted) cannot make it reserve more.
//
// Only requests of reserveMinBytes or more are counted: the count reads
// each span's header, which cost 10–15 % of decoding small requests (the
// bench workload's, ~80 KB), whose growth garbage is small and whose
// pooled Records have the room already.
func reserveSpans(buf []byte, r *Records) {
	if len(buf) < reserveMinBytes || cap(r.Spans)-len(r.Spans) >= len(buf)/minSpanBytes {
		return
	}
	n, ok := otlpwire.SpanCount(buf)
	if n = min(n, len(buf)/minSpanBytes); ok && n > cap(r.Spans)-len(r.Spans) {
		r.Spans = slices.Grow(r.Spans, n)
	}
}

// reserveMinBytes is the least request reserveSpans counts the spans of.
const reserveMinBytes = 256 << 10

// decoder is the state of one Decode call.
type decoder struct {
	r         *Records
	sr        spanReader // reused span to span (span resets what it reads)
	indexOnly bool       // DecodeIndexOnly: no peers, no links recorded
}

// request reads an ExportTraceServiceRequest, appending one Resource per
// resource_spans.
func (d *decoder) request(buf []byte) *wireError {
	n := 0
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 && num == otlpwire.RequestResourceSpans {
			return codeError("", hi).in("resource_spans", n)
		} else if hi < 0 {
			return codeError("", hi)
		}
		if num != otlpwire.RequestResourceSpans {
			if i = skip(buf, typ, lo, hi); i < 0 {
				return codeError("", i)
			}
			continue
		}
		if typ != otlpwire.BytesType {
			return fieldError("resource_spans", typ, wrongWireType)
		}
		if err := d.resourceSpans(buf[lo:hi]); err != nil {
			return err.in("resource_spans", n)
		}
		n++
		i = hi
	}
	return nil
}

// skip passes over a field that Field read, of a type and number the
// caller ignores: the position after it, or a negative otlpwire.Code.
func skip(buf []byte, typ protowire.Type, lo, hi int) int {
	if typ == otlpwire.BytesType {
		return hi
	}
	return otlpwire.Skip(buf, lo, typ)
}

// resourceReader is the state of reading one ResourceSpans.
type resourceReader struct {
	name          string // the first service.name value
	named         bool   // a service.name was seen
	nscope, ndep  int    // scope_spans and instrumentation_library_spans so far
	hasDeprecated bool   // instrumentation_library_spans were seen
	recordsScopes bool   // scope_spans were read: the deprecated field is ignored
}

// resourceSpans reads one ResourceSpans and appends its Resource. Its
// fields may come in any order and repeat: the service is the first
// service.name attribute over every resource field, as pcommon.Map.Get
// finds it once pdata has merged them.
func (d *decoder) resourceSpans(buf []byte) *wireError {
	var rr resourceReader
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 && num == otlpwire.ResourceSpansScopeSpans {
			return codeError("", hi).in("scope_spans", rr.nscope)
		} else if hi < 0 {
			return codeError(resourceSpansField(num), hi)
		}
		var err *wireError
		if i, err = d.resourceField(&rr, buf, num, typ, lo, hi); err != nil {
			return err
		}
	}
	if rr.hasDeprecated && !rr.recordsScopes {
		d.deprecatedScopeSpans(buf)
	}
	d.r.Resources = append(d.r.Resources, Resource{Service: rr.name, End: len(d.r.Spans)})
	return nil
}

// resourceField reads one field of a ResourceSpans and returns the
// position after it.
func (d *decoder) resourceField(rr *resourceReader, buf []byte, num int32, typ protowire.Type, lo, hi int) (int, *wireError) {
	switch num {
	case otlpwire.ResourceSpansResource, otlpwire.ResourceSpansScopeSpans,
		otlpwire.ResourceSpansSchemaURL, otlpwire.ResourceSpansDeprecated:
		if typ != otlpwire.BytesType {
			return hi, fieldError(resourceSpansField(num), typ, wrongWireType)
		}
	default:
		i := skip(buf, typ, lo, hi)
		if i < 0 {
			return i, codeError("", i)
		}
		return i, nil
	}
	var err *wireError
	switch num {
	case otlpwire.ResourceSpansResource:
		if err = resource(buf[lo:hi], &rr.name, &rr.named); err != nil {
			err = err.in("resource", -1)
		}
	case otlpwire.ResourceSpansScopeSpans:
		if err = d.scopeSpans(buf[lo:hi], true); err != nil {
			err = err.in("scope_spans", rr.nscope)
		}
		rr.recordsScopes = true
		rr.nscope++
	case otlpwire.ResourceSpansDeprecated:
		// Checked now, read by deprecatedScopeSpans if there are no
		// scope_spans.
		if err = d.scopeSpans(buf[lo:hi], false); err != nil {
			err = err.in("instrumentation_library_spans", rr.ndep)
		}
		rr.hasDeprecated = true
		rr.ndep++
	}
	return hi, err
}

// deprecatedScopeSpans reads the spans of a ResourceSpans' deprecated
// instrumentation_library_spans, as pdata's MigrateTraces makes them stand
// in for scope_spans when there are none. resourceSpans checked them all.
func (d *decoder) deprecatedScopeSpans(buf []byte) {
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if num == otlpwire.ResourceSpansDeprecated {
			_ = d.scopeSpans(buf[lo:hi], true)
		}
		i = skip(buf, typ, lo, hi)
	}
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

// scopeSpans reads a ScopeSpans; its spans go to the records only if
// record.
func (d *decoder) scopeSpans(buf []byte, record bool) *wireError {
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

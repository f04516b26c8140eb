package pairing

import (
	"math"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/internal/otlpwire"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// The walks below read, for the filter policies, what tracedecode does not
// keep of a span (its status code, its and its resource's attributes), one
// walk of the request after decoding, only when policies are configured:
// without them a request costs one nil check. Both walks visit the spans
// in request order, as the decoders record them, and give filterState one
// decision per span with valid ids; a span's ids are checked against the
// record's, so a walk can never apply a decision to another span.

// filterState is a batch's scratch for the walk.
type filterState struct {
	keep          []bool   // per recorded span, in order
	spanKV, resKV []kvPair // the attributes the policies read, of the span and resource being walked
	keys          []tracedecode.Key
	view          wireSpan
}

func (s *filterState) reset() {
	if cap(s.keep) > tracedecode.KeptSpans { // as batch.reset: no large request's arrays kept
		s.keep, s.keys = nil, nil
	}
	clear(s.spanKV)
	clear(s.resKV)
	s.keep, s.spanKV, s.resKV, s.keys = s.keep[:0], s.spanKV[:0], s.resKV[:0], s.keys[:0]
	s.view = wireSpan{}
}

// kvPair is one KeyValue the policies read, its value undecoded.
type kvPair struct {
	key   string
	value []byte // an AnyValue
}

// wireSpan is the spanView of a span being walked on the wire.
type wireSpan struct {
	kind   uint8
	status int32
	name   string
	st     *filterState
}

func (w *wireSpan) intrinsics() (uint8, int32, string) { return w.kind, w.status, w.name }

func (w *wireSpan) attr(resource bool, key string) attrValue {
	list := w.st.spanKV
	if resource {
		list = w.st.resKV
	}
	for _, kv := range list {
		if kv.key == key {
			return anyValue(kv.value)
		}
	}
	return attrValue{}
}

// anyValue decodes an AnyValue (the last value field wins, as in pdata).
func anyValue(b []byte) attrValue {
	var v attrValue
	for i := 0; i < len(b); {
		num, typ, lo, hi := otlpwire.Field(b, i)
		if hi < 0 {
			return attrValue{}
		}
		switch {
		case num == 1 && typ == otlpwire.BytesType:
			v = attrValue{typ: valString, s: unsafeString(b[lo:hi])} // aliases the request: compared only
		case num == 2 && typ == otlpwire.VarintType:
			x, n := otlpwire.Varint(b, lo)
			v, hi = attrValue{typ: valBool}, n
			if x != 0 {
				v.i = 1
			}
		case num == 3 && typ == otlpwire.VarintType:
			x, n := otlpwire.Varint(b, lo)
			v, hi = attrValue{typ: valInt, i: int64(x)}, n
		case num == 4 && typ == otlpwire.Fixed64Type:
			x, n := otlpwire.Fixed64(b, lo)
			v, hi = attrValue{typ: valDouble, f: math.Float64frombits(x)}, n
		case num >= 5 && num <= 7 && typ == otlpwire.BytesType:
			v = attrValue{typ: valOther}
		case typ != otlpwire.BytesType:
			hi = otlpwire.Skip(b, lo, typ)
		}
		if hi < 0 {
			return attrValue{}
		}
		i = hi
	}
	return v
}

// keyValue reads a KeyValue's key and value (last occurrences).
func keyValue(b []byte) (key string, value []byte) {
	for i := 0; i < len(b); {
		num, typ, lo, hi := otlpwire.Field(b, i)
		switch {
		case hi < 0:
			return key, value
		case num == 1 && typ == otlpwire.BytesType:
			key = unsafeString(b[lo:hi]) // aliases the request: compared only, dropped with it
		case num == 2 && typ == otlpwire.BytesType:
			value = b[lo:hi]
		case typ != otlpwire.BytesType:
			hi = otlpwire.Skip(b, lo, typ)
		}
		if hi < 0 {
			return key, value
		}
		i = hi
	}
	return key, value
}

// fields calls fn for each field of b; fn returns false to stop.
func fields(b []byte, fn func(num int32, typ uint8, lo, hi int) bool) {
	for i := 0; i < len(b); {
		num, typ, lo, hi := otlpwire.Field(b, i)
		if hi < 0 {
			return
		}
		if typ != otlpwire.BytesType {
			if hi = otlpwire.Skip(b, lo, typ); hi < 0 {
				return
			}
		}
		if !fn(num, uint8(typ), lo, hi) {
			return
		}
		i = hi
	}
}

// walkWire decides every span of a request Decode accepted (buf), in
// order: st.keep and st.keys get one entry per span with valid ids.
func (f *spanFilter) walkWire(buf []byte, st *filterState) {
	st.view.st = st
	fields(buf, func(num int32, typ uint8, lo, hi int) bool {
		if num == otlpwire.RequestResourceSpans && typ == uint8(otlpwire.BytesType) {
			f.resourceSpans(buf[lo:hi], st)
		}
		return true
	})
}

func (f *spanFilter) resourceSpans(rs []byte, st *filterState) {
	clear(st.resKV)
	st.resKV = st.resKV[:0]
	scopes := false
	fields(rs, func(num int32, typ uint8, lo, hi int) bool {
		switch {
		case typ != uint8(otlpwire.BytesType):
		case num == otlpwire.ResourceSpansResource: // repeated resources merge: their attributes append
			fields(rs[lo:hi], func(num int32, typ uint8, lo2, hi2 int) bool {
				if num == 1 && typ == uint8(otlpwire.BytesType) {
					st.resKV = f.collect(st.resKV, rs[lo:hi][lo2:hi2], f.resourceKeys)
				}
				return true
			})
		case num == otlpwire.ResourceSpansScopeSpans:
			scopes = true
		}
		return true
	})
	want := int32(otlpwire.ResourceSpansScopeSpans)
	if !scopes {
		want = otlpwire.ResourceSpansDeprecated // read as scope_spans when there are none (pdata's MigrateTraces)
	}
	fields(rs, func(num int32, typ uint8, lo, hi int) bool {
		if num == want && typ == uint8(otlpwire.BytesType) {
			fields(rs[lo:hi], func(num int32, typ uint8, lo2, hi2 int) bool {
				if num == otlpwire.ScopeSpansSpans && typ == uint8(otlpwire.BytesType) {
					f.span(rs[lo:hi][lo2:hi2], st)
				}
				return true
			})
		}
		return true
	})
}

// collect appends kv to list if its key is one of keys.
func (f *spanFilter) collect(list []kvPair, kv []byte, keys []string) []kvPair {
	if len(keys) == 0 {
		return list
	}
	k, v := keyValue(kv)
	if contains(keys, k) {
		list = append(list, kvPair{key: k, value: v})
	}
	return list
}

// Span fields the walk reads (opentelemetry-proto trace.proto).
const (
	wSpanTraceID = 1
	wSpanSpanID  = 2
	wSpanName    = 5
	wSpanKind    = 6
	wSpanAttrs   = 9
	wSpanStatus  = 15
	wStatusCode  = 3
)

func (f *spanFilter) span(b []byte, st *filterState) {
	clear(st.spanKV)
	st.spanKV = st.spanKV[:0]
	var key tracedecode.Key
	w := &st.view
	w.kind, w.status, w.name = 0, 0, ""
	fields(b, func(num int32, typ uint8, lo, hi int) bool {
		switch {
		case num == wSpanTraceID && typ == uint8(otlpwire.BytesType) && hi-lo == 16:
			copy(key.Trace[:], b[lo:hi])
		case num == wSpanTraceID && typ == uint8(otlpwire.BytesType):
			key.Trace = [16]byte{}
		case num == wSpanSpanID && typ == uint8(otlpwire.BytesType) && hi-lo == 8:
			copy(key.Span[:], b[lo:hi])
		case num == wSpanSpanID && typ == uint8(otlpwire.BytesType):
			key.Span = [8]byte{}
		case num == wSpanName && typ == uint8(otlpwire.BytesType):
			w.name = unsafeString(b[lo:hi])
		case num == wSpanKind && typ == uint8(otlpwire.VarintType):
			v, _ := otlpwire.Varint(b, lo)
			w.kind = uint8(int32(v))
		case num == wSpanAttrs && typ == uint8(otlpwire.BytesType):
			st.spanKV = f.collect(st.spanKV, b[lo:hi], f.spanKeys)
		case num == wSpanStatus && typ == uint8(otlpwire.BytesType): // repeated statuses merge: the last code wins
			fields(b[lo:hi], func(num int32, typ uint8, lo2, _ int) bool {
				if num == wStatusCode && typ == uint8(otlpwire.VarintType) {
					v, _ := otlpwire.Varint(b[lo:hi], lo2)
					w.status = int32(v)
				}
				return true
			})
		}
		return true
	})
	if !key.Valid() {
		return // not recorded (Records.Rejected)
	}
	st.keys = append(st.keys, key)
	st.keep = append(st.keep, f.keep(w))
}

// pdataSpan is the spanView of a pdata span.
type pdataSpan struct {
	span ptrace.Span
	res  pcommon.Map
}

func (p *pdataSpan) intrinsics() (uint8, int32, string) {
	return uint8(int32(p.span.Kind())), int32(p.span.Status().Code()), p.span.Name()
}

func (p *pdataSpan) attr(resource bool, key string) attrValue {
	m := p.span.Attributes()
	if resource {
		m = p.res
	}
	v, ok := m.Get(key)
	if !ok {
		return attrValue{}
	}
	return pdataValue(v)
}

// pdataValue is anyValue for pdata.
func pdataValue(v pcommon.Value) attrValue {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return attrValue{typ: valString, s: v.Str()}
	case pcommon.ValueTypeInt:
		return attrValue{typ: valInt, i: v.Int()}
	case pcommon.ValueTypeDouble:
		return attrValue{typ: valDouble, f: v.Double()}
	case pcommon.ValueTypeBool:
		b := attrValue{typ: valBool}
		if v.Bool() {
			b.i = 1
		}
		return b
	}
	return attrValue{typ: valOther}
}

// walkTraces is walkWire for pdata (ConsumeTraces).
func (f *spanFilter) walkTraces(td ptrace.Traces, st *filterState) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		v := pdataSpan{res: rs.Resource().Attributes()}
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				v.span = spans.At(k)
				key := tracedecode.Key{Trace: [16]byte(v.span.TraceID()), Span: [8]byte(v.span.SpanID())}
				if !key.Valid() {
					continue
				}
				st.keys = append(st.keys, key)
				st.keep = append(st.keep, f.keep(&v))
			}
		}
	}
}

// apply drops the spans the walk decided against from b's records (and
// their broker topics, when found), as if they had never been in the
// request, and returns how many. If the walk's spans are not the records'
// (which the decoders' contract rules out), it keeps every span.
func (st *filterState) apply(r *tracedecode.Records, brk *brokerState) int {
	if len(st.keep) != len(r.Spans) {
		return 0
	}
	for i := range r.Spans {
		if st.keys[i] != r.Spans[i].Key {
			return 0
		}
	}
	w, lo := 0, 0
	for ri := range r.Resources {
		res := &r.Resources[ri]
		for i := lo; i < res.End; i++ {
			if st.keep[i] {
				r.Spans[w] = r.Spans[i]
				if len(brk.topics) == len(st.keep) {
					brk.topics[w] = brk.topics[i]
				}
				w++
			}
		}
		lo, res.End = res.End, w
	}
	dropped := len(r.Spans) - w
	if len(brk.topics) == len(st.keep) {
		brk.topics = brk.topics[:w]
	}
	clear(r.Spans[w:])
	r.Spans = r.Spans[:w]
	return dropped
}

// unsafeString returns b as a string without copying: valid while b is
// (the walk's span names, compared and dropped within the request).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// filterWire drops the spans of a decoded protobuf request that the
// filter policies refuse (counted).
func (p *Processor) filterWire(buf []byte, b *batch) {
	p.filter.walkWire(buf, &b.flt)
	p.countFiltered(b.flt.apply(&b.rec, &b.brk))
}

// filterTraces is filterWire for pdata.
func (p *Processor) filterTraces(td ptrace.Traces, b *batch) {
	p.filter.walkTraces(td, &b.flt)
	p.countFiltered(b.flt.apply(&b.rec, &b.brk))
}

func (p *Processor) countFiltered(n int) {
	if n > 0 {
		p.filtered.Add(uint64(n))
	}
}

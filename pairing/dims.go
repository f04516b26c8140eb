package pairing

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// Dimensions (graph.Config.Dimensions): each span's values of the
// dimension attributes, its resource's first (as Tempo's and the
// connector's FindAttributeValue look: resource, then span), become a
// tuple (graph.Store.DimTuple) that the span carries: span.dims, a waiting
// child's child.dims, and, for spans in the index (parents, link targets,
// waiting CLIENT spans), the shard's dimIndex. An observation takes its
// client side's and server side's tuples. The values are read by one walk
// of the request after decoding, only when dimensions are configured:
// without them a request costs one nil check and a span nothing.

// dimWalker reads the dimension values of a request's spans.
type dimWalker struct {
	keys []string // graph.Config.Dimensions
}

func newDimWalker(keys []string) *dimWalker {
	if len(keys) == 0 {
		return nil
	}
	return &dimWalker{keys: keys}
}

// dimState is a batch's scratch for the walk.
type dimState struct {
	keys   []tracedecode.Key // per span with valid ids walked, in request order
	tuples []uint32          // its tuple
	res    [graph.MaxDimensions]string
	span   [graph.MaxDimensions]string
	// the last tuple made, for the next span with the same values
	last    [graph.MaxDimensions]string
	lastID  uint32
	hasLast bool
}

func (s *dimState) reset() {
	s.keys, s.tuples = s.keys[:0], s.tuples[:0]
	clear(s.res[:])
	clear(s.span[:])
	clear(s.last[:])
	s.hasLast = false
	if cap(s.keys) > tracedecode.KeptSpans {
		s.keys, s.tuples = nil, nil
	}
}

// slot returns the index of key among the dimensions, -1 if none.
func (w *dimWalker) slot(key string) int {
	for i, k := range w.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// tuple interns the values of the span being walked: its resource's,
// else its own.
func (w *dimWalker) tuple(g *graph.Store, st *dimState) uint32 {
	n := len(w.keys)
	vals := st.span[:n]
	for i := range vals {
		if st.res[i] != "" {
			vals[i] = st.res[i]
		}
	}
	if st.hasLast && equalStrings(vals, st.last[:n]) {
		return st.lastID
	}
	id := g.DimTuple(vals)
	copy(st.last[:n], vals)
	st.lastID, st.hasLast = id, true
	return id
}

func equalStrings(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// walkWire reads the dimension tuple of every span of a request Decode
// accepted (buf), in order.
func (w *dimWalker) walkWire(g *graph.Store, buf []byte, st *dimState) {
	fields(buf, func(num int32, typ uint8, lo, hi int) bool {
		if num == otlpwire.RequestResourceSpans && typ == uint8(otlpwire.BytesType) {
			w.resourceSpans(g, buf[lo:hi], st)
		}
		return true
	})
}

func (w *dimWalker) resourceSpans(g *graph.Store, rs []byte, st *dimState) {
	clear(st.res[:])
	var have [graph.MaxDimensions]bool
	scopes := false
	fields(rs, func(num int32, typ uint8, lo, hi int) bool {
		switch {
		case typ != uint8(otlpwire.BytesType):
		case num == otlpwire.ResourceSpansResource:
			fields(rs[lo:hi], func(num int32, typ uint8, lo2, hi2 int) bool {
				if num == 1 && typ == uint8(otlpwire.BytesType) {
					w.collect(rs[lo:hi][lo2:hi2], &st.res, &have)
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
		want = otlpwire.ResourceSpansDeprecated
	}
	fields(rs, func(num int32, typ uint8, lo, hi int) bool {
		if num == want && typ == uint8(otlpwire.BytesType) {
			fields(rs[lo:hi], func(num int32, typ uint8, lo2, hi2 int) bool {
				if num == otlpwire.ScopeSpansSpans && typ == uint8(otlpwire.BytesType) {
					w.span(g, rs[lo:hi][lo2:hi2], st)
				}
				return true
			})
		}
		return true
	})
}

// collect keeps kv's value if its key is a dimension seen first here. A
// string value aliases the request (valid during the call: graph.DimTuple
// copies what it keeps).
func (w *dimWalker) collect(kv []byte, dst *[graph.MaxDimensions]string, have *[graph.MaxDimensions]bool) {
	k, v := dimKeyValue(kv)
	if i := w.slot(k); i >= 0 && !have[i] {
		dst[i], have[i] = dimText(v), true
	}
}

// dimKeyValue reads a KeyValue's key and value (last occurrences), both
// aliasing kv: keyValue without its copy of every key.
func dimKeyValue(kv []byte) (key string, value []byte) {
	for i := 0; i < len(kv); {
		num, typ, lo, hi := otlpwire.Field(kv, i)
		switch {
		case hi < 0:
			return key, value
		case num == 1 && typ == otlpwire.BytesType:
			key = unsafeString(kv[lo:hi])
		case num == 2 && typ == otlpwire.BytesType:
			value = kv[lo:hi]
		case typ != otlpwire.BytesType:
			hi = otlpwire.Skip(kv, lo, typ)
		}
		if hi < 0 {
			return key, value
		}
		i = hi
	}
	return key, value
}

// dimText is an AnyValue's string form (attrValue.text): a lone string
// value aliases v.
func dimText(v []byte) string {
	if num, typ, lo, hi := otlpwire.Field(v, 0); hi == len(v) && num == 1 && typ == otlpwire.BytesType {
		return unsafeString(v[lo:hi])
	}
	return anyValue(v).text()
}

func (w *dimWalker) span(g *graph.Store, b []byte, st *dimState) {
	clear(st.span[:])
	var have [graph.MaxDimensions]bool
	var key tracedecode.Key
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
		case num == wSpanAttrs && typ == uint8(otlpwire.BytesType):
			w.collect(b[lo:hi], &st.span, &have)
		}
		return true
	})
	if !key.Valid() {
		return // not recorded (Records.Rejected)
	}
	st.keys = append(st.keys, key)
	st.tuples = append(st.tuples, w.tuple(g, st))
}

// walkTraces is walkWire for pdata (ConsumeTraces).
func (w *dimWalker) walkTraces(g *graph.Store, td ptrace.Traces, st *dimState) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		w.values(rs.Resource().Attributes(), &st.res)
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				key := tracedecode.Key{Trace: [16]byte(sp.TraceID()), Span: [8]byte(sp.SpanID())}
				if !key.Valid() {
					continue
				}
				w.values(sp.Attributes(), &st.span)
				st.keys = append(st.keys, key)
				st.tuples = append(st.tuples, w.tuple(g, st))
			}
		}
	}
}

// values reads the dimensions of a pdata map into dst.
func (w *dimWalker) values(m pcommon.Map, dst *[graph.MaxDimensions]string) {
	clear(dst[:])
	for i, k := range w.keys {
		if v, ok := m.Get(k); ok {
			dst[i] = v.AsString()
		}
	}
}

// apply gives each span of b its tuple: the walk's spans are the
// records' before filtering and node-overflow refusals, in order, so b's
// spans are a subsequence of them, matched by key.
func (st *dimState) apply(b *batch) {
	j := 0
	for i := range b.spans {
		s := &b.spans[i]
		for j < len(st.keys) && st.keys[j] != s.key {
			j++
		}
		if j == len(st.keys) {
			return
		}
		s.dims = st.tuples[j]
		j++
	}
}

// dimsWire and dimsTraces read the dimension tuples of b's spans.
func (p *Processor) dimsWire(buf []byte, b *batch) {
	p.dims.walkWire(p.graph, buf, &b.dims)
	b.dims.apply(b)
}

func (p *Processor) dimsTraces(td ptrace.Traces, b *batch) {
	p.dims.walkTraces(p.graph, td, &b.dims)
	b.dims.apply(b)
}

// dimIndex keeps the tuples of a shard's indexed spans that have one, for
// the edges they make later (as a parent, a link target, a waiting CLIENT
// span): the most recent up to the shard's share of MaxIndexSpans, as the
// span index keeps its spans.
type dimIndex struct {
	m    map[spanKey]uint32
	ring []spanKey
	next int
	cap  int
}

func newDimIndex(capacity int) *dimIndex {
	return &dimIndex{m: map[spanKey]uint32{}, cap: max(capacity, 1)}
}

// put keeps k's tuple t (not DimTupleNone), forgetting the oldest past
// the cap.
func (d *dimIndex) put(k spanKey, t uint32) {
	if len(d.ring) < d.cap {
		d.ring = append(d.ring, k)
	} else {
		delete(d.m, d.ring[d.next])
		d.ring[d.next] = k
		d.next = (d.next + 1) % d.cap
	}
	d.m[k] = t
}

// of returns the tuple of the indexed span k (DimTupleNone: none kept).
func (d *dimIndex) of(k *spanKey) uint32 {
	if d == nil {
		return graph.DimTupleNone
	}
	return d.m[*k]
}

// keepDims indexes s's tuple, if any.
func (sh *shard) keepDims(s *span) {
	if sh.dims != nil && s.dims != graph.DimTupleNone {
		sh.dims.put(s.key, s.dims)
	}
}

// sides sets the tuples of the edge b.observe makes next.
func (b *batch) sides(client, server uint32) { b.cd, b.sd = client, server }

// enableDims sets up dimensions, if the graph has any.
func (p *Processor) enableDims(cfg Config) {
	p.dims = newDimWalker(p.graph.Dimensions())
	if p.dims == nil {
		return
	}
	for _, sh := range p.shards {
		sh.dims = newDimIndex(perShard(cfg.MaxIndexSpans, cfg.Shards))
	}
}

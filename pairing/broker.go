package pairing

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// Broker nodes (Config.BrokerNodes, --broker-nodes): a messaging pair,
// producer → consumer, is drawn through its destination instead,
// producer → topic → consumer, the topic a node of its own kind
// (graph.TopicNode) named by messaging.destination.name. The destination
// is that of the span whose arrival completes the pair (as its weight is:
// the producer and the consumer of a message name the same one), read by
// one more walk of the request, only when the option is on. A pair whose
// completing span names no destination keeps the direct edge.
//
// Both halves are messaging_system edges, one occurrence each per pair:
//   - producer → topic: failed if the producer span failed; no delay;
//     server and client durations both the producer span's (the broker
//     has no span, as a database edge's server has none);
//   - topic → consumer: failed if the consumer span failed; the delay
//     (consumer start − producer end) and the consumer span's duration as
//     its server duration; no client duration.

// destinationKey names the span attribute a topic node is named by;
// systemKey the one its detail (graph.Store.SetDetail) is read from.
const (
	destinationKey = "messaging.destination.name"
	systemKey      = "messaging.system"
)

// brokerState is a batch's scratch for broker nodes.
type brokerState struct {
	// topics holds, per recorded span in order, its destination's node
	// id + 1, 0 for none; keys the spans' ids, to check the order.
	topics []uint32
	keys   []tracedecode.Key
	last   string // the last destination looked up, and its node id + 1
	lastID uint32
	// the last (node id + 1, system) given to graph.Store.SetDetail
	detailID uint32
	detail   string
}

func (s *brokerState) reset() {
	if cap(s.topics) > tracedecode.KeptSpans {
		s.topics, s.keys = nil, nil
	}
	s.topics, s.keys, s.last, s.lastID = s.topics[:0], s.keys[:0], "", 0
	s.detailID, s.detail = 0, ""
}

// system gives topic node t (id + 1) its messaging system, once per
// request and pair of them.
func (s *brokerState) system(p *Processor, t uint32, system string) {
	if t == 0 || system == "" || t == s.detailID && system == s.detail {
		return
	}
	p.graph.SetDetail(graph.NodeID(t-1), system)
	s.detailID, s.detail = t, string([]byte(system))
}

// topic returns record i's destination node id + 1, 0 for none.
func (s *brokerState) topic(i int) uint32 {
	if i < len(s.topics) {
		return s.topics[i]
	}
	return 0
}

// node returns the topic node of a destination name + 1, 0 for none.
func (s *brokerState) node(p *Processor, name string) uint32 {
	if name == "" {
		return 0
	}
	if name != s.last || s.lastID == 0 {
		s.lastID = uint32(p.graph.Node(name, graph.TopicNode)) + 1
		s.last = string([]byte(name)) // the name may alias the request
	}
	return s.lastID
}

// brokerWire finds the destinations of a decoded protobuf request's
// PRODUCER and CONSUMER spans.
func (p *Processor) brokerWire(buf []byte, b *batch) {
	st := &b.brk
	fields(buf, func(num int32, typ uint8, lo, hi int) bool {
		if num == otlpwire.RequestResourceSpans && typ == uint8(otlpwire.BytesType) {
			eachSpan(buf[lo:hi], func(span []byte) { p.brokerSpan(span, st) })
		}
		return true
	})
	st.check(&b.rec)
}

// eachSpan calls fn with each span of a ResourceSpans, in the order the
// decoders record them (instrumentation_library_spans only when there
// are no scope_spans, as pdata migrates them).
func eachSpan(rs []byte, fn func(span []byte)) {
	want := int32(otlpwire.ResourceSpansDeprecated)
	fields(rs, func(num int32, typ uint8, _, _ int) bool {
		if num == otlpwire.ResourceSpansScopeSpans && typ == uint8(otlpwire.BytesType) {
			want = otlpwire.ResourceSpansScopeSpans
			return false
		}
		return true
	})
	fields(rs, func(num int32, typ uint8, lo, hi int) bool {
		if num == want && typ == uint8(otlpwire.BytesType) {
			ss := rs[lo:hi]
			fields(ss, func(num int32, typ uint8, lo, hi int) bool {
				if num == otlpwire.ScopeSpansSpans && typ == uint8(otlpwire.BytesType) {
					fn(ss[lo:hi])
				}
				return true
			})
		}
		return true
	})
}

func (p *Processor) brokerSpan(b []byte, st *brokerState) {
	var key tracedecode.Key
	var kind uint8
	fields(b, func(num int32, typ uint8, lo, hi int) bool {
		switch {
		case num == wSpanTraceID && typ == uint8(otlpwire.BytesType):
			key.Trace = [16]byte{}
			if hi-lo == 16 {
				copy(key.Trace[:], b[lo:hi])
			}
		case num == wSpanSpanID && typ == uint8(otlpwire.BytesType):
			key.Span = [8]byte{}
			if hi-lo == 8 {
				copy(key.Span[:], b[lo:hi])
			}
		case num == wSpanKind && typ == uint8(otlpwire.VarintType):
			v, _ := otlpwire.Varint(b, lo)
			kind = uint8(int32(v))
			// Past the kind (field 6, after the ids in field order) a span
			// that is no PRODUCER or CONSUMER needs nothing more. Should a
			// later field change its ids (not as encoders write), its key
			// differs from the record's and check keeps the direct edges.
			return !key.Valid() || kind == kindProducer || kind == kindConsumer
		}
		return true
	})
	if !key.Valid() {
		return // not recorded
	}
	var t uint32
	if kind == kindProducer || kind == kindConsumer { // only their attributes are read
		var dest, sys []byte // the first messaging.destination.name's and messaging.system's values (AnyValues)
		haveDest, haveSys := false, false
		fields(b, func(num int32, typ uint8, lo, hi int) bool {
			if num == wSpanAttrs && typ == uint8(otlpwire.BytesType) {
				switch k, v := keyValue(b[lo:hi]); {
				case k == destinationKey && !haveDest:
					dest, haveDest = v, true
				case k == systemKey && !haveSys:
					sys, haveSys = v, true
				}
			}
			return !(haveDest && haveSys)
		})
		if haveDest {
			t = st.node(p, destinationName(anyValue(dest)))
			if haveSys {
				st.system(p, t, destinationName(anyValue(sys)))
			}
		}
	}
	st.keys = append(st.keys, key)
	st.topics = append(st.topics, t)
}

// destinationName is a destination attribute's value as a node name:
// strings as they are, other scalars as text.
func destinationName(v attrValue) string {
	if v.typ == valString {
		return v.s
	}
	return v.text()
}

// brokerTraces is brokerWire for pdata.
func (p *Processor) brokerTraces(td ptrace.Traces, b *batch) {
	st := &b.brk
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				key := tracedecode.Key{Trace: [16]byte(s.TraceID()), Span: [8]byte(s.SpanID())}
				if !key.Valid() {
					continue
				}
				var t uint32
				if k := uint8(int32(s.Kind())); k == kindProducer || k == kindConsumer {
					if v, ok := s.Attributes().Get(destinationKey); ok {
						t = st.node(p, destinationName(pdataValue(v)))
						if sys, ok := s.Attributes().Get(systemKey); ok {
							st.system(p, t, destinationName(pdataValue(sys)))
						}
					}
				}
				st.keys = append(st.keys, key)
				st.topics = append(st.topics, t)
			}
		}
	}
	st.check(&b.rec)
}

// check drops the topics if the walk's spans are not the records' (which
// the decoders' contract rules out): every pair keeps its direct edge.
func (st *brokerState) check(r *tracedecode.Records) {
	ok := len(st.keys) == len(r.Spans)
	for i := 0; ok && i < len(r.Spans); i++ {
		ok = st.keys[i] == r.Spans[i].Key
	}
	if !ok {
		st.topics = st.topics[:0]
	}
}

// toBroker turns the messaging_system observation just made (the last of
// b.obs), of a producer that failed or not and a consumer likewise, into
// producer → topic and topic → consumer when the span completing the pair
// names a destination (b.topic).
func (b *batch) toBroker(producerFailed, consumerFailed bool) {
	if b.topic == 0 {
		return
	}
	topic := graph.NodeID(b.topic - 1)
	o := &b.obs[len(b.obs)-1]
	in := *o // topic → consumer
	pd := o.AsyncSeconds[1]
	o.Server, o.Failed, o.ServerDims = topic, producerFailed, graph.DimTupleNone // the topic has no span: no server_ dimensions
	o.Seconds, o.AsyncSeconds = [2]float64{-1, -1}, [2]float64{pd, pd}
	in.Client, in.Failed, in.ClientDims = topic, consumerFailed, graph.DimTupleNone
	in.AsyncSeconds[1] = -1
	b.obs = append(b.obs, in)
}

package tracedecode

// Key identifies a span: (trace id, span id).
type Key struct {
	Trace [16]byte
	Span  [8]byte
}

// Valid reports whether neither id is all zero: OTLP's invalid ids.
func (k *Key) Valid() bool { return k.Trace != [16]byte{} && k.Span != [8]byte{} }

// Span kinds, as OTLP numbers them (Span.kind).
const (
	KindUnspecified uint8 = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

// statusCodeError is Status.code STATUS_CODE_ERROR.
const statusCodeError = 2

// PeerKind says what a CLIENT span's peer attributes name.
type PeerKind uint8

// The peer kinds.
const (
	NoPeer       PeerKind = iota // no peer attribute with a non-empty value (or a span whose peer is not read)
	PeerDatabase                 // a CLIENT span's database (Naming's database list)
	PeerService                  // a CLIENT span's uninstrumented peer (Naming's peer list)
	PeerCaller                   // a root SERVER or CONSUMER span's caller (Naming's caller list)
)

// Span is what a consumer of spans gets of one span: ids copied out of the
// request, and the few fields service-graph edges need.
type Span struct {
	Key    Key
	Parent [8]byte // all zero: a root span
	Kind   uint8   // Span.kind, truncated to 8 bits as pdata's int32 is
	Failed bool    // Status.code is STATUS_CODE_ERROR
	// PeerKind and Peer: the database or peer a CLIENT span names, or the
	// caller a root SERVER or CONSUMER span names, by Records.Naming
	// (peerAttrs.pick); NoPeer and "" for other spans.
	PeerKind PeerKind
	// Weight is the span's sampling weight (weight.go): how many spans it
	// stands for, from Naming's span multiplier attribute or the
	// tracestate's ot=th: threshold; 0 means 1.
	Weight uint32
	// Start and End are unix ns, clamped to MaxInt64; End ≥ Start (an end
	// before the start is set to the start and counted in
	// Records.Sanitised).
	Start, End int64
	// Records.Links[LinkLo:LinkHi] are the span's links.
	LinkLo, LinkHi uint32
	// Name and Peer may alias the request's memory (Decode): valid only
	// while it is. Copy what must outlive it.
	Name string
	Peer string
}

// Resource is one resource_spans of a request.
type Resource struct {
	// Service is the first service.name attribute's value as
	// pcommon.Value.AsString makes it, "" when missing or empty (SDKs name
	// such a service unknown_service). It may alias the request.
	Service string
	// End is the end of the resource's spans in Records.Spans: they are
	// Spans[previous End:End].
	End int
}

// Records is what Decode or FromTraces makes of one request. A consumer
// keeps one per goroutine (or pools them) and calls Reset between requests:
// the slices are reused.
type Records struct {
	Resources []Resource
	// Spans holds the accepted spans, in request order; a span with an
	// all-zero trace or span id is only counted (Rejected).
	Spans []Span
	Links []Key // the accepted spans' link targets; all-zero ids kept
	// Received counts the request's spans, Rejected those refused for an
	// all-zero trace or span id (not in Spans), Sanitised those whose end
	// was before their start.
	Received, Rejected, Sanitised int
	// Naming says which attributes name peers (peer.go); nil: the
	// defaults. Reset keeps it.
	Naming *Naming
}

// KeptSpans bounds the arrays Reset keeps for the next request: Spans and
// Links whose capacity is past it are dropped. A pooled Records that once
// held a large request would otherwise keep its arrays (~100 B a span)
// while idle, memory that no reservation of the receivers' budget covers
// and that the garbage collector's slack doubles (TestAttackReceiverMemory
// saw 85 MiB against a 64 MiB budget); a larger request allocates its
// arrays anew, once (Decode sizes Spans). Consumers that pool per-span
// slices of their own bound them by the same figure.
const KeptSpans = 8192

// Reset empties r, dropping its references to the request, and arrays
// past KeptSpans.
func (r *Records) Reset() {
	clear(r.Resources)
	if cap(r.Spans) > KeptSpans {
		r.Spans = nil
	}
	if cap(r.Links) > KeptSpans {
		r.Links = nil
	}
	clear(r.Spans)
	r.Resources, r.Spans, r.Links = r.Resources[:0], r.Spans[:0], r.Links[:0]
	r.Received, r.Rejected, r.Sanitised = 0, 0, 0
}

// accept appends s, one span of the request, unless its ids are invalid;
// its links, already appended from linkLo on, go with it. It clamps the
// times and counts the span.
func (r *Records) accept(s *Span, start, end uint64, linkLo int) {
	r.Received++
	if !s.Key.Valid() {
		r.Rejected++
		r.Links = r.Links[:linkLo]
		return
	}
	s.Start, s.End = clampTime(start), clampTime(end)
	if s.End < s.Start {
		s.End = s.Start
		r.Sanitised++
	}
	s.LinkLo, s.LinkHi = uint32(linkLo), uint32(len(r.Links))
	r.Spans = append(r.Spans, *s)
}

func clampTime(ns uint64) int64 { return int64(min(ns, 1<<63-1)) }

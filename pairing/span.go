package pairing

import (
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// spanKey identifies a span: (trace id, span id).
type spanKey = tracedecode.Key

// Span kinds, as in OTLP.
const (
	kindServer   = tracedecode.KindServer
	kindClient   = tracedecode.KindClient
	kindProducer = tracedecode.KindProducer
	kindConsumer = tracedecode.KindConsumer
)

// span is what pairing keeps of one received span while it handles the
// request: a tracedecode.Span with its service and peer looked up as
// graph nodes (resolve).
type span struct {
	key    spanKey
	th     uint64 // the hash of key.Trace (hasher.trace), set by process
	parent [8]byte
	svc    graph.NodeID
	kind   uint8
	failed bool
	// peer is the node a CLIENT span names (database or uninstrumented
	// peer) for when no server side turns up; peerKind says which edge it
	// makes (graph.Database or graph.Virtual), hasPeer whether there is one.
	// (The one-byte fields sit together, after svc: no padding, 104 bytes.)
	peerKind   graph.Kind
	hasPeer    bool
	weight     uint32 // sampling weight (tracedecode.Span.Weight): 0 means 1
	dims       uint32 // tuple of dimension values (graph.Store.DimTuple; dims.go)
	start, end int64  // unix ns; end ≥ start
	peer       graph.NodeID
	// topic is the node id + 1 of the span's messaging destination, 0 for
	// none or without broker nodes (broker.go).
	topic uint32
	// links[linkLo:linkHi] of the batch are this span's links.
	linkLo, linkHi uint32
	// name is the span's name, for diagnostics only. It may alias the
	// request's memory: valid during the call; batch.nameOf copies it.
	name string
}

func (s *span) durMicros() uint32 { return micros(s.end - s.start) }

package pairing

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
)

// spanKey identifies a span: (trace id, span id).
type spanKey struct {
	trace [16]byte
	span  [8]byte
}

func (k *spanKey) valid() bool { return k.trace != [16]byte{} && k.span != [8]byte{} }

// Span kinds, as in OTLP.
const (
	kindInternal = uint8(ptrace.SpanKindInternal)
	kindServer   = uint8(ptrace.SpanKindServer)
	kindClient   = uint8(ptrace.SpanKindClient)
	kindProducer = uint8(ptrace.SpanKindProducer)
	kindConsumer = uint8(ptrace.SpanKindConsumer)
)

// span is what pairing keeps of one received span: ids copied out of the
// request, the service, and the few attributes edges need.
type span struct {
	key        spanKey
	parent     [8]byte
	svc        graph.NodeID
	kind       uint8
	failed     bool
	start, end int64 // unix ns; end ≥ start
	// peer is the node a CLIENT span names (database or uninstrumented
	// peer) for when no server side turns up; peerKind says which edge it
	// makes (graph.Database or graph.Virtual), hasPeer whether there is one.
	peer     graph.NodeID
	peerKind graph.Kind
	hasPeer  bool
	// links[linkLo:linkHi] of the batch are this span's links.
	linkLo, linkHi uint32
	// name is the span's name, for diagnostics only. It may alias the
	// request's memory: valid during the call; batch.nameOf copies it.
	name string
}

// link is one span link, copied out of the request.
type link struct {
	to    spanKey
	valid bool
}

func (s *span) durMicros() uint32 { return micros(s.end - s.start) }

// peerOf finds the node a CLIENT span names: a database (db.namespace, else
// db.name, else the db system) or a peer (peer.service, service.peer.name,
// server.address, network.peer.address).
func peerOf(attrs pcommon.Map) (name string, kind graph.Kind, ok bool) {
	var found [8]string
	var have [8]bool
	for k, v := range attrs.All() {
		i := attrIndex(k)
		if i >= 0 && !have[i] {
			found[i], have[i] = v.AsString(), true
		}
	}
	return pickPeer(&found, &have)
}

// pickPeer applies peerOf's precedence to the first value of each
// attribute, indexed by attrIndex; have says which attributes are present.
// Both decoders (pdata and wire.go) use it.
func pickPeer(found *[8]string, have *[8]bool) (name string, kind graph.Kind, ok bool) {
	// found: 0,1 db system; 2,3 db name; 4..7 peers
	if have[0] || have[1] {
		for _, i := range []int{2, 3, 0, 1} {
			if have[i] && found[i] != "" {
				return found[i], graph.Database, true
			}
		}
	}
	for i := 4; i < 8; i++ {
		if have[i] && found[i] != "" {
			return found[i], graph.Virtual, true
		}
	}
	return "", 0, false
}

func attrIndex(k string) int {
	switch k {
	case "db.system.name":
		return 0
	case "db.system":
		return 1
	case "db.namespace":
		return 2
	case "db.name":
		return 3
	case "peer.service":
		return 4
	case "service.peer.name":
		return 5
	case "server.address":
		return 6
	case "network.peer.address":
		return 7
	}
	return -1
}

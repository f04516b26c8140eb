package pairing

import (
	"context"
	"slices"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

var _ consumer.ProtoTraces = (*Processor)(nil)

// ConsumeTracesProto is ConsumeTraces for a serialized
// ExportTraceServiceRequest (an OTLP/gRPC or OTLP/HTTP protobuf body, or a
// Kafka record value), decoded by tracedecode.Decode without pdata: the
// same result, errors and counters, at a fraction of the cost. A request
// that ptraceotlp.ExportRequest.UnmarshalProto would refuse, or with an
// attribute value nested past otlpwire.MaxValueDepth, is refused whole
// with Decode's permanent error (consumer.NewMalformed; consumer.ErrTooDeep
// for the depth); nothing of it is counted or recorded.
// Safe for concurrent use; buf is neither modified nor retained.
func (p *Processor) ConsumeTracesProto(_ context.Context, buf []byte) error {
	b := p.pool.Get().(*batch)
	defer func() { b.reset(); p.pool.Put(b) }()
	if err := tracedecode.Decode(buf, &b.rec); err != nil {
		return err
	}
	if p.cfg.BrokerNodes {
		p.brokerWire(buf, b)
	}
	if p.filter != nil {
		p.filterWire(buf, b)
	}
	rejected := p.resolve(b)
	if p.dims != nil {
		p.dimsWire(buf, b)
	}
	return p.process(b, rejected)
}

// resolve looks up the graph nodes of the decoded records b.rec, whichever
// decoder made them, in one order (each resource's service, then its spans'
// peers), and fills b.spans. It counts the request's spans and returns how
// many were refused: those with an all-zero id (the decoder left them out)
// and those of a service whose node id does not fit the span index
// (maxNodeID; counted apart as SpansNodeOverflow, not reported to the
// sender).
func (p *Processor) resolve(b *batch) (rejected int) {
	r := &b.rec
	var cache peerCache
	// Every span gets its place at once, filled in place below: an append
	// per span copied each span twice and checked the capacity each time.
	n0 := len(b.spans)
	b.spans = slices.Grow(b.spans, len(r.Spans))[:n0+len(r.Spans)]
	b.names = append(b.names, make([]string, len(r.Spans))...)
	n := n0
	overflow, lo := 0, 0
	for _, res := range r.Resources {
		name := res.Service
		if name == "" {
			name = UnknownService
		}
		svc := p.graph.Node(name, graph.ServiceNode)
		if res.Service == "" && p.anon.Load() != uint32(svc)+1 {
			p.anon.Store(uint32(svc) + 1)
		}
		if uint32(svc) > p.maxNodeID {
			overflow += res.End - lo
			lo = res.End
			continue
		}
		for i := lo; i < res.End; i++ {
			rs, s := &r.Spans[i], &b.spans[n]
			n++
			*s = span{key: rs.Key, parent: rs.Parent, svc: svc, kind: rs.Kind, failed: rs.Failed, weight: rs.Weight, start: rs.Start, end: rs.End,
				linkLo: rs.LinkLo, linkHi: rs.LinkHi, name: rs.Name, topic: b.brk.topic(i)}
			if rs.PeerKind != tracedecode.NoPeer { // a database, a peer, or a root span's caller
				s.peerKind = graph.Virtual
				if rs.PeerKind == tracedecode.PeerDatabase {
					s.peerKind = graph.Database
				}
				s.peer, s.hasPeer = cache.node(p, rs.Peer, s.peerKind), true
			}
		}
		lo = res.End
	}
	b.spans, b.names = b.spans[:n], b.names[:n] // the overflowing services' spans are not kept
	p.count(r.Received, r.Rejected, r.Sanitised)
	if overflow > 0 {
		p.nodeOverflow.Add(uint64(overflow))
	}
	return r.Rejected
}

// peerCache remembers the last peers looked up: the CLIENT spans of a
// request name few databases and peers. graph.Store.Node counts a name
// folded into graph.OverflowNode at each lookup it does not remember (it
// remembers up to twice MaxNodes raw spellings): such names are not
// cached, so that the counts are those of one lookup per span.
type peerCache struct {
	e    [peerCacheSize]peerCacheEntry
	next int
}

// peerCacheSize is how many peers a request's cache remembers.
const peerCacheSize = 8

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

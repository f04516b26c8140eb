package pairing

import (
	"sync"

	"github.com/servicegraph/servicegraph/graph"
)

// metaExpired marks the index entry of a CLIENT span that waited for its
// server side in vain and became a database or virtual_node edge: a server
// side (or another service's child) that turns up later adds no call edge,
// so that one request counts once. (Bit 30 is metaReplayed, replay.go.)
const metaExpired meta = 1 << 31

// shard holds the pairing state of the traces that hash to it.
type shard struct {
	mu       sync.Mutex // guards everything below
	idx      *index
	children *queue[child, *child]
	clients  *queue[client, *client]
	links    *queue[waitingLink, *waitingLink]
	c        shardCounters
	dims     *dimIndex // tuples of indexed spans; nil without dimensions (dims.go)
}

type shardCounters struct {
	roots           uint64 // spans without a parent
	pairedChildren  uint64 // spans matched with their parent, at once or later
	expiredChildren uint64 // spans whose parent never arrived within PairWait
	droppedChildren uint64 // spans dropped waiting for a parent at the cap
	droppedClients  uint64 // client spans dropped at the cap, or forgotten by the index
	droppedLinks    uint64 // links dropped waiting for a target at the cap
	linksToParent   uint64 // resolved links to the span's own parent that made no edge (redundant)
}

func newShard(cfg Config, idx *index) *shard {
	n := cfg.Shards
	sh := &shard{
		idx:      idx,
		children: newQueue[child](perShard(cfg.MaxPendingSpans, n), idx.hash),
		clients:  newQueue[client](perShard(cfg.MaxPendingSpans, n), nil),
		links:    newQueue[waitingLink](perShard(cfg.MaxPendingLinks, n), idx.hash),
	}
	sh.clients.moved = func(c *client, from, to uint32) {
		if e := sh.idx.find(&c.key); e != nil && e.meta.queued() && uint32(e.end) == from {
			e.end = int64(to)
		}
	}
	return sh
}

// endOf returns the end of the span of e, wherever it is kept.
func (sh *shard) endOf(e *entry) int64 {
	if e.meta.queued() {
		return sh.clients.at(uint32(e.end)).end
	}
	return e.end
}

// unqueue gives the entry of a CLIENT span back its end: the span no
// longer waits (c is its queue item, at the entry's position).
func unqueue(e *entry, c *client) {
	e.end = c.end
	e.meta &^= metaQueued
}

// leaving finds the entry of a client item that leaves the queue unpaired
// and gives it back its end. It returns nil when the entry is gone from the
// index (then whether the span paired is unknown).
func (sh *shard) leaving(c *client) *entry {
	e := sh.idx.find(&c.key)
	if e == nil || !e.meta.queued() || sh.clients.at(uint32(e.end)) != c {
		return nil // evicted (and perhaps indexed again since)
	}
	unqueue(e, c)
	return e
}

// add indexes s and makes every edge it completes. kh and ph are the
// hashes of s's key and of its parent's (hasher.key; ph unused without a
// parent), computed once by prepare for the index and the queues. It
// reports false for a duplicate (a span already in the index), which
// changes nothing.
func (sh *shard) add(s *span, kh, ph uint64, now int64, b *batch) bool {
	b.w = s.weight // the edges s completes count its weight
	b.topic = s.topic
	e, added := sh.idx.insertHashed(entry{key: s.key, end: s.end, dur: s.durMicros(), meta: packMeta(s.svc, s.kind, s.failed) | b.k.mark}, kh)
	if !added {
		sh.requeueForgotten(e, s, now, b) // replay.go
		return false
	}
	sh.keepDims(s)
	// s as a child.
	if s.parent != [8]byte{} {
		pk := spanKey{Trace: s.key.Trace, Span: s.parent}
		if p := sh.idx.findHashed(&pk, ph); p != nil {
			sh.c.pairedChildren++
			b.sides(sh.dims.of(&pk), s.dims)
			if !b.anonymous(e.meta) || !p.meta.queued() ||
				!b.toPeer(p, sh.clients.at(uint32(p.end)), e.meta, s.start, s.end) {
				b.pair(p, e.meta, s.start, s.end)
			}
			if p.meta.queued() && p.meta.paired() { // its server side: the client waits no more
				pos := uint32(p.end)
				unqueue(p, sh.clients.at(pos))
				sh.clients.kill(pos)
			}
		} else {
			sh.children.pushHashed(child{key: pk, start: s.start, end: s.end, arrival: now, meta: e.meta, dims: s.dims}, ph,
				func(*child) { sh.c.droppedChildren++ })
		}
	} else {
		sh.c.roots++
		// A root SERVER span's caller is the one it names, else user; a
		// root CONSUMER span's only if it names one. (A replayed root's
		// edge was counted by its earlier owner, replay.go.)
		if (s.kind == kindServer || s.kind == kindConsumer && s.hasPeer) && b.k.mark == 0 {
			b.sides(graph.DimTupleNone, s.dims)
			caller := b.user
			if s.hasPeer {
				caller = s.peer
			}
			b.observe(graph.Observation{Client: caller, Server: s.svc, Kind: graph.Virtual,
				Failed: s.failed, Seconds: [2]float64{e.seconds(), -1}, Trace: s.key.Trace, Span: s.key.Span})
		}
	}
	// s as the parent of spans that came first.
	sh.children.takeHashed(&s.key, kh, func(c *child) {
		sh.c.pairedChildren++
		b.sides(s.dims, c.dims)
		if s.kind == kindClient && s.hasPeer && b.anonymous(c.meta) &&
			b.toPeer(e, &client{peer: uint32(s.peer), kind: uint8(s.peerKind)}, c.meta, c.start, c.end) {
			return
		}
		b.pair(e, c.meta, c.start, c.end)
	})
	// s as a client that may never meet its server.
	if s.kind == kindClient && s.hasPeer && !e.meta.paired() {
		sh.queueClient(e, s, now)
	}
	// s as the target of links that came first.
	sh.links.takeHashed(&s.key, kh, func(l *waitingLink) {
		b.w = l.weight // a link's edge counts the linking span's weight
		if l.toParent && redundant(e, l.meta) {
			sh.c.linksToParent++
			b.tally(l.meta.svc(), graph.LinkResolved)
			return
		}
		b.sides(s.dims, uint32(l.dims))
		b.linkedSpan(e, sh.endOf(e), l.meta, l.start, l.end)
	})
	return true
}

// queueClient makes the CLIENT span s, indexed as e, wait for its server
// side.
func (sh *shard) queueClient(e *entry, s *span, now int64) {
	pos := sh.clients.push(client{key: s.key, arrival: now, end: e.end, peer: uint32(s.peer), dur: e.dur, svc: uint32(s.svc),
		kind: uint8(s.peerKind), failed: s.failed, weight: s.weight}, func(c *client) {
		sh.leaving(c)
		sh.c.droppedClients++
	})
	e.end = int64(pos)
	e.meta |= metaQueued
}

// link resolves one link of a span held by another (or this) shard to its
// target to, whose trace hashes to th: at once if the target is indexed,
// else it waits under the target's key.
func (sh *shard) link(to *spanKey, th uint64, spanIdx int32, now int64, b *batch) {
	from := &b.spans[spanIdx]
	meta := packMeta(from.svc, from.kind, from.failed)
	toParent := to.Span == from.parent && to.Trace == from.key.Trace
	b.w = from.weight
	b.topic = from.topic
	lh := sh.idx.h.key(th, &to.Span)
	if t := sh.idx.findHashed(to, lh); t != nil {
		if toParent && redundant(t, meta) {
			sh.c.linksToParent++
			b.tally(from.svc, graph.LinkResolved)
			return
		}
		b.sides(sh.dims.of(to), from.dims)
		b.linkedSpan(t, sh.endOf(t), meta, from.start, from.end)
		return
	}
	sh.links.pushHashed(waitingLink{target: *to, from: from.key, start: from.start, end: from.end, arrival: now, meta: meta, toParent: toParent, weight: from.weight, dims: uint16(from.dims),
		name: b.nameOf(spanIdx)}, lh,
		func(w *waitingLink) {
			sh.c.droppedLinks++
			b.tally(w.meta.svc(), graph.LinkDropped)
			b.problem(w, graph.LinkDropped, CauseDropped)
		})
}

// expire ends the waits that began at or before the cutoffs.
func (sh *shard) expire(pairCutoff, linkCutoff int64, b *batch) {
	sh.children.expire(pairCutoff, func(*child) { sh.c.expiredChildren++ })
	sh.clients.expire(pairCutoff, func(c *client) {
		e := sh.leaving(c)
		switch {
		case e == nil: // evicted from the index: whether it paired is unknown
			sh.c.droppedClients++
		case !e.meta.paired():
			e.meta |= metaExpired // a server side arriving now must not count the request again
			// No server span: its duration is the client's, as Tempo records it.
			d := microsSeconds(c.dur)
			b.w = c.weight
			b.sides(sh.dims.of(&c.key), graph.DimTupleNone)
			b.observe(graph.Observation{Client: graph.NodeID(c.svc), Server: graph.NodeID(c.peer),
				Kind: graph.Kind(c.kind), Failed: c.failed, Seconds: [2]float64{d, d}, Trace: c.key.Trace, Span: c.key.Span})
		}
	})
	sh.links.expire(linkCutoff, func(w *waitingLink) {
		if w.meta.replayed() { // its earlier owner counts it (replay.go)
			return
		}
		b.tally(w.meta.svc(), graph.LinkUnresolved)
		b.problem(w, graph.LinkUnresolved, CauseNeverSeen)
	})
}

// redundant reports whether a link from a span to its own parent p adds
// nothing: the parent-child pair makes an edge of its own (a consumer both
// child of and linked to its producer, a server linking its client), so
// the link counts resolved and makes none. A link to a parent the pair
// makes no edge with (an INTERNAL span of the same service) is a
// span_link as any other.
func redundant(p *entry, child meta) bool {
	pk, ck := p.meta.kind(), child.kind()
	return ck == kindConsumer && pk == kindProducer || ck == kindServer && pk == kindClient || p.meta.svc() != child.svc()
}

// observe adds one edge occurrence, of the weight b.w: that of the span
// whose arrival (or wait's end) completes it. Its Trace and Span (the
// edge's exemplar) are the client side's span (parent, producer,
// linked-to span, expired CLIENT), or a root span's own.
func (b *batch) observe(o graph.Observation) {
	o.Weight = b.w
	o.ClientDims, o.ServerDims, b.cd, b.sd = b.cd, b.sd, 0, 0 // batch.sides, for this edge only
	b.obs = append(b.obs, o)
}

// anonymous reports whether a span of meta m has no service.name (its
// node is UnknownService).
func (b *batch) anonymous(m meta) bool { return b.anon != 0 && uint32(m.svc())+1 == b.anon }

// toPeer makes the edge of a SERVER or CONSUMER span without a
// service.name (meta cm) whose parent, the CLIENT span p, names its peer
// (c: its clients queue item, or one made of the span): client → peer, as
// if the peer were uninstrumented (Tempo skips spans without a service
// name), not a call to unknown_service. It reports false, doing nothing,
// when cm is no such span. Both replayed, the pair is made (p waits no
// more) and counts nothing: their earlier owner counted it (replay.go).
func (b *batch) toPeer(p *entry, c *client, cm meta, cstart, cend int64) bool {
	if ck := cm.kind(); ck != kindServer && ck != kindConsumer || p.meta.kind() != kindClient || p.meta&metaExpired != 0 {
		return false
	}
	if (p.meta & cm).replayed() {
		p.meta |= metaPaired
		return true
	}
	b.observe(graph.Observation{Client: p.meta.svc(), Server: graph.NodeID(c.peer), Kind: graph.Kind(c.kind),
		Failed: p.meta.failed() || cm.failed(), Seconds: [2]float64{seconds(cend - cstart), p.seconds()},
		Trace: p.key.Trace, Span: p.key.Span})
	p.meta |= metaPaired
	return true
}

// pair makes the edge, if any, between parent p and a child.
func (b *batch) pair(p *entry, cmeta meta, cstart, cend int64) {
	ck := cmeta.kind()
	psvc, csvc := p.meta.svc(), cmeta.svc()
	o := graph.Observation{Client: psvc, Server: csvc, Failed: p.meta.failed() || cmeta.failed(),
		Trace: p.key.Trace, Span: p.key.Span}
	switch pk := p.meta.kind(); {
	case ck == kindConsumer && pk == kindProducer:
		o.Kind = graph.Messaging
		o.Seconds = [2]float64{seconds(cstart - p.end), -1}
		o.AsyncSeconds, o.AsyncTimed = [2]float64{seconds(cend - cstart), p.seconds()}, true
	case ck == kindServer && pk == kindClient, psvc != csvc:
		if p.meta&metaExpired != 0 { // the request counted as its client's database or virtual_node edge
			return
		}
		o.Kind = graph.Call
		o.Seconds = [2]float64{seconds(cend - cstart), p.seconds()}
		if pk == kindClient {
			p.meta |= metaPaired
		}
	default:
		return
	}
	if (p.meta & cmeta).replayed() { // both replayed: their earlier owner counted it (replay.go)
		return
	}
	b.observe(o)
	if o.Kind == graph.Messaging {
		b.toBroker(p.meta.failed(), cmeta.failed())
	}
}

// linked is linkedSpan for a linking span whose end is not known.
func (b *batch) linked(t *entry, tEnd int64, fromMeta meta, fromStart int64) {
	b.sides(graph.DimTupleNone, graph.DimTupleNone) // a routed link: its linking span's values are not known here
	b.topic = 0
	b.linkedSpan(t, tEnd, fromMeta, fromStart, 0)
}

// linkedSpan makes the edge of a resolved link: target t, which ended at
// tEnd, → the linking span, which ran from fromStart to fromEnd (0: not
// known).
func (b *batch) linkedSpan(t *entry, tEnd int64, fromMeta meta, fromStart, fromEnd int64) {
	if (t.meta & fromMeta).replayed() { // both replayed: their earlier owner counted it (replay.go)
		return
	}
	svc := fromMeta.svc()
	k := graph.SpanLink
	if fromMeta.kind() == kindConsumer && t.meta.kind() == kindProducer {
		k = graph.Messaging
	}
	b.observe(graph.Observation{Client: t.meta.svc(), Server: svc, Kind: k,
		Failed: t.meta.failed() || fromMeta.failed(), Seconds: [2]float64{seconds(fromStart - tEnd), -1},
		AsyncSeconds: [2]float64{-1, t.seconds()}, AsyncTimed: true, Trace: t.key.Trace, Span: t.key.Span})
	if fromEnd >= fromStart {
		b.obs[len(b.obs)-1].AsyncSeconds[0] = seconds(fromEnd - fromStart)
	}
	if k == graph.Messaging {
		b.toBroker(t.meta.failed(), fromMeta.failed())
	}
	b.tally(svc, graph.LinkResolved)
}

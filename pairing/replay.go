package pairing

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// The seams of the multi-instance mode (kafka/doc.go, issue 14): a Kafka
// record of the spans topic is handled live or replayed, a link whose
// target is not in the local index is routed to the owner of its target's
// trace, and a routed link is resolved there by name.
//
// A replayed record is one an earlier owner of its partition handled: its
// spans are indexed with metaReplayed so that a pair counts only if at
// least one of its two records is live (b.pair, b.linked), a replayed root
// SERVER span makes no virtual edge, and a replayed span's links are
// neither resolved nor routed: the earlier owner did both. Its waits begin
// when the record was written, as they did at the earlier owner. A
// replayed CLIENT span whose pair wait was over at the handover was
// counted there (paired, or expired into a database or virtual edge): it
// does not wait here. One whose wait was not over was counted by nobody
// (the earlier owner crashed, or gave the partition up and forgot it,
// ForgetClients): it waits here and, unless its server side comes,
// expires here into its edge. Within a trace every replayed record comes
// before every live one (one partition, offset order), so a replayed span
// only ever pairs with another replayed span or with a live one after it.

// metaReplayed marks an index entry, a waiting child or a waiting link
// that came from a replayed Kafka record.
const metaReplayed meta = 1 << 30

// replayed reports whether m came from a replayed record.
func (m meta) replayed() bool { return m&metaReplayed != 0 }

// kafkaState is a batch's part in the multi-instance mode: zero for the
// OTLP receivers and the offline CLI.
type kafkaState struct {
	mark   meta      // metaReplayed while handling a replayed record
	at     int64     // a replayed record's time, unix ns: its items' arrival
	route  bool      // links whose target is not indexed are routed, not queued
	routed []linkRef // those links, routed after the shard locks are released
	hold   Hold      // the record's Hold: its edges and link tallies go there
	all    bool      // Record.RouteAll: every link is routed, indexed here or not
}

func (k *kafkaState) reset() {
	k.mark, k.at, k.route, k.routed, k.hold, k.all = 0, 0, false, k.routed[:0], nil, false
}

// routes reports whether a live record's link to the span to (whose
// trace hashes to th, in shard sh, whose lock is held) goes to the owner
// of its target instead of being counted here.
func (b *batch) routes(sh *shard, to *spanKey, th uint64) bool {
	return b.k.route && (b.k.all || !sh.indexed(to, th))
}

// Hold receives what handling one Kafka record counted (edge observations
// and link tallies) instead of the graph: the multi-instance mode makes it
// visible (Release) only once the record's offset is committed, so that a
// member killed before its commit has shown nothing of what its
// partitions' next owner handles again and counts. The slices are valid
// only during the call.
type Hold func(obs []graph.Observation, tallies []graph.LinkTally)

// observe hands a batch's edges and link tallies to the graph, or to the
// record's Hold.
func (p *Processor) observe(b *batch) {
	if b.k.hold != nil {
		b.k.hold(b.obs, b.tallies)
		return
	}
	p.graph.Observe(b.obs, b.tallies)
}

// Release counts what a Hold received, once its record's offset is
// committed. Safe for concurrent use.
func (p *Processor) Release(obs []graph.Observation, tallies []graph.LinkTally) {
	p.graph.Observe(obs, tallies)
}

// Record says where a record of the spans topic comes from.
type Record struct {
	// Replay: an earlier owner of the record's partition handled it.
	Replay bool
	// Time is when the record was written (its Kafka timestamp), and
	// Handover when this member took its partition: a replayed CLIENT
	// span waits here only if Time + PairWait is after Handover.
	Time, Handover time.Time
	// Hold, when set, receives what handling the record counts instead
	// of the graph (see Hold). Waits that end later (expiry) are not the
	// record's: they go to the graph.
	Hold Hold
	// RouteAll: a live record an earlier owner of its partition may have
	// handled too (after the group's commit, before the partition's end
	// at the handover; it crashed or could not commit). Every link goes
	// to the owner of its target, even one whose target is indexed here:
	// that owner drops it if the earlier owner routed it already (the
	// per-source-partition watermark), and counts it otherwise (the
	// earlier owner then counted it locally, held, never shown).
	RouteAll bool
}

// RoutedLink is a span link on its way to the owner of its target's trace:
// what that owner needs to resolve it and to count the edge and the link
// result, with names, not node ids (which are local to a process).
type RoutedLink struct {
	Target, From tracedecode.Key // the linked-to span; the linking span
	Service      string          // the linking span's service
	SpanName     string          // the linking span's name, for diagnostics
	Kind         uint8           // the linking span's OTLP kind
	Failed       bool            // the linking span's status is ERROR
	Start        int64           // the linking span's start, unix ns
	// Index is the link's place among the record's links: with the
	// record's position it identifies the link for exactly-once delivery.
	Index int32
}

// ConsumeRecord is ConsumeTracesProto for one record of the spans topic.
// rec.Replay says an earlier owner of the record's partition handled it
// (see above). For a live record, each link whose target is not in the local
// index is handed to route (after every shard lock is released), and only
// the owner of the target's trace counts it (ResolveLink); links whose
// target is indexed here are counted here. route may be called several
// times; the *RoutedLink is valid only during the call. Safe for
// concurrent use.
func (p *Processor) ConsumeRecord(_ context.Context, buf []byte, rec Record, route func(*RoutedLink)) error {
	b := p.pool.Get().(*batch)
	defer func() { b.reset(); p.pool.Put(b) }()
	// A replayed record whose pair wait was over at the handover is
	// index-only: its spans' peers and links would be dropped below, so
	// they are not decoded (nor their peers' nodes looked up).
	over := rec.Replay && !rec.Time.Add(p.cfg.PairWait).After(rec.Handover)
	decode := tracedecode.Decode
	if over {
		decode = tracedecode.DecodeIndexOnly
	}
	if err := decode(buf, &b.rec); err != nil {
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
	if rec.Replay {
		b.k.mark = metaReplayed
		b.k.at = max(rec.Time.UnixNano(), 1)
		for i := range b.spans {
			s := &b.spans[i]
			s.hasPeer = s.hasPeer && !over
			s.linkHi = s.linkLo
		}
	} else {
		b.k.route, b.k.all = route != nil, rec.RouteAll
	}
	b.k.hold = rec.Hold
	err := p.process(b, rejected)
	if len(b.k.routed) == 0 {
		return err
	}
	// In the record's order: the owner drops a link record at or below the
	// last (offset, index) it saw from this record's partition, so the
	// indexes must rise (resolveLinks visits them by target shard).
	slices.SortFunc(b.k.routed, func(x, y linkRef) int { return cmp.Compare(x.link, y.link) })
	rl := new(RoutedLink) // escapes to route: allocated only for a record that routes links
	for _, r := range b.k.routed {
		s := &b.spans[r.span]
		*rl = RoutedLink{Target: b.rec.Links[r.link], From: s.key, Service: p.graph.Name(s.svc), SpanName: b.nameOf(r.span),
			Kind: s.kind, Failed: s.failed, Start: s.start, Index: r.link}
		route(rl)
	}
	return err
}

// indexed reports whether the span to, whose trace hashes to th, is in the
// shard's index. The shard's lock is held.
func (sh *shard) indexed(to *spanKey, th uint64) bool {
	return sh.idx.findHashed(to, sh.idx.h.key(th, &to.Span)) != nil
}

// ResolveLink resolves a link routed here by the member that received the
// linking span: at once if its target is indexed, else it waits for the
// target under LinkWait and MaxPendingLinks exactly as a local link does.
// On resolution it counts the edge (client = the target's service, server
// = l.Service; messaging_system for a CONSUMER linking a PRODUCER) and a
// resolved link for l.Service; expired, it counts an unresolved link. A
// replayed link record resolved by a replayed span counts nothing.
// Safe for concurrent use; l is not retained.
func (p *Processor) ResolveLink(l *RoutedLink, replay bool) {
	p.ResolveLinkRecord(l, Record{Replay: replay})
}

// ResolveLinkRecord is ResolveLink for a link record: rec.Replay says an
// earlier owner of its partition handled it, and rec.Hold, when set,
// receives what it counts at once (a resolution; not a later expiry).
func (p *Processor) ResolveLinkRecord(l *RoutedLink, rec Record) {
	replay := rec.Replay
	if !l.Target.Valid() {
		return // the sender counted it invalid and never routes such a link
	}
	b := p.pool.Get().(*batch)
	defer func() { b.reset(); p.pool.Put(b) }()
	name := l.Service
	if name == "" {
		name = UnknownService
	}
	svc := p.graph.Node(name, graph.ServiceNode)
	if uint32(svc) > p.maxNodeID {
		p.nodeOverflow.Add(1)
		return
	}
	m := packMeta(svc, l.Kind, l.Failed)
	if replay {
		m |= metaReplayed
	}
	now := p.now().UnixNano()
	th := p.hash.trace(&l.Target.Trace)
	sh := p.shards[p.shardOf(th)]
	sh.mu.Lock()
	if t := sh.idx.findHashed(&l.Target, sh.idx.h.key(th, &l.Target.Span)); t != nil {
		b.linked(t, sh.endOf(t), m, l.Start)
	} else {
		sh.links.push(waitingLink{target: l.Target, from: l.From, start: l.Start, arrival: now, meta: m,
			name: keepName(l.SpanName, p.cfg.MaxNameBytes)}, func(w *waitingLink) {
			sh.c.droppedLinks++
			b.tally(w.meta.svc(), graph.LinkDropped)
			b.problem(w, graph.LinkDropped, CauseDropped)
		})
	}
	sh.mu.Unlock()
	b.k.hold = rec.Hold
	p.observe(b)
	p.report(b, now)
}

// ForgetLinks drops, without counting them, the links waiting for a
// target whose trace keep does not keep (nil: every waiting link), and
// returns how many it dropped. In the multi-instance mode a member calls
// it for the partitions it gives up (at a rebalance or a clean shutdown):
// their new owner replays the link records and alone counts them, so the
// old owner must count neither an unresolved link nor a drop for them.
// Safe for concurrent use.
func (p *Processor) ForgetLinks(keep func(trace *[16]byte) bool) int {
	n := 0
	for _, sh := range p.shards {
		sh.mu.Lock()
		for _, k := range sh.links.keys() {
			if keep == nil || !keep(&k.Trace) {
				sh.links.take(&k, func(*waitingLink) { n++ })
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// ForgetClients drops, without counting them, the CLIENT spans waiting
// for a server side whose trace keep does not keep (nil: all of them), and
// returns how many it dropped. A member calls it with ForgetLinks for the
// partitions it gives up: their new owner replays those spans and, their
// wait not being over at the handover, alone counts them.
// Safe for concurrent use.
func (p *Processor) ForgetClients(keep func(trace *[16]byte) bool) int {
	n := 0
	for _, sh := range p.shards {
		sh.mu.Lock()
		q := sh.clients
		for i, pos := uint32(0), q.r.head; i < q.r.n; i++ {
			if c := q.at(pos); !c.done && (keep == nil || !keep(&c.key.Trace)) {
				sh.leaving(c)
				q.kill(pos)
				n++
			}
			if pos++; pos == q.r.cap {
				pos = 0
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// requeueForgotten makes a replayed CLIENT span wait again for its server
// side when this member had indexed it, gave its partition up and forgot
// it (ForgetClients), and the partition came back (A, B, A): its replay
// finds it in the index, which would otherwise make it a duplicate that
// nobody counts. s.hasPeer is already false when its wait was over at the
// handover (then B counted it). One that met its server side (paired),
// expired here (counted) or waits already is left as it is. The shard's
// lock is held.
func (sh *shard) requeueForgotten(e *entry, s *span, now int64, b *batch) {
	if b.k.mark == 0 || s.kind != kindClient || !s.hasPeer || e.meta.paired() || e.meta.queued() || e.meta&metaExpired != 0 {
		return
	}
	sh.queueClient(e, s, now)
}

// MarkReplayed marks as replayed the indexed spans and the waiting server
// sides (children) of the traces keep does not keep (nil: all of them),
// and returns how many it marked. A member calls it with ForgetLinks and
// ForgetClients for the partitions it gives up. The new owner replays
// those records and counts each pair with at least one record after the
// handover; if the partition comes back here later (A, B, A), this
// member replays what B handled, and a pair of those records with a span
// this member had indexed live would be counted again: marked, the span
// counts like the replayed record it now is. Safe for concurrent use.
func (p *Processor) MarkReplayed(keep func(trace *[16]byte) bool) int {
	n := 0
	for _, sh := range p.shards {
		sh.mu.Lock()
		r := &sh.idx.ring
		for i, pos := uint32(0), r.head; i < r.n; i++ {
			if e := r.at(pos); e.meta&metaReplayed == 0 && (keep == nil || !keep(&e.key.Trace)) {
				e.meta |= metaReplayed
				n++
			}
			if pos++; pos == r.cap {
				pos = 0
			}
		}
		q := sh.children
		for i, pos := uint32(0), q.r.head; i < q.r.n; i++ {
			if c := q.at(pos); !c.done && c.meta&metaReplayed == 0 && (keep == nil || !keep(&c.key.Trace)) {
				c.meta |= metaReplayed
				n++
			}
			if pos++; pos == q.r.cap {
				pos = 0
			}
		}
		sh.mu.Unlock()
	}
	return n
}

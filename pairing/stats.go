package pairing

// Stats are the processor's own counters and gauges, for self-telemetry.
type Stats struct {
	SpansReceived  uint64 // spans in requests, refused ones included
	SpansRejected  uint64 // refused: all-zero trace or span id
	SpansDuplicate uint64 // already in the span index: ignored
	SpansSanitised uint64 // end before start: end set to start
	// SpansNodeOverflow counts spans refused because their service's node
	// id is past MaxNodes (only when graph max_nodes exceeds it).
	SpansNodeOverflow uint64
	// SpansFiltered counts spans the filter policies dropped
	// (Config.FilterPolicies): handled as if never sent.
	SpansFiltered uint64
	LinksInvalid  uint64
	SpansRoot     uint64 // spans without a parent
	SpansPaired   uint64 // spans matched with their parent
	// Every received span is exactly one of: rejected, filtered, node
	// overflow, duplicate, root, paired, expired child, dropped child, or a pending
	// child.
	PendingChildren int // spans waiting for their parent
	PendingClients  int // CLIENT spans waiting for a server side
	PendingLinks    int // links waiting for their target
	// The caps of the pending tables (MaxPendingSpans, MaxPendingSpans,
	// MaxPendingLinks rounded up to a multiple of Shards): the oldest item
	// is dropped when one is reached.
	CapacityChildren int
	CapacityClients  int
	CapacityLinks    int
	IndexSpans       int // spans in the span index
	IndexEvictions   uint64
	IndexBytes       int    // memory the span index holds
	ExpiredChildren  uint64 // spans whose parent never came
	DroppedChildren  uint64 // dropped at max_pending_spans
	DroppedClients   uint64 // dropped at max_pending_spans, or evicted from the index first
	DroppedLinks     uint64 // dropped at max_pending_links
	// LinksToParent counts resolved links to the linking span's own parent
	// that made no span_link edge: the parent-child pair made its edge.
	LinksToParent uint64
}

// Stats returns the current counters; it takes each shard's lock briefly.
func (p *Processor) Stats() Stats {
	st := Stats{
		SpansReceived: p.received.Load(), SpansRejected: p.rejected.Load(), SpansDuplicate: p.duplicates.Load(),
		SpansSanitised: p.sanitised.Load(), SpansNodeOverflow: p.nodeOverflow.Load(), LinksInvalid: p.invalidLink.Load(),
		SpansFiltered: p.filtered.Load(),
	}
	for _, sh := range p.shards {
		sh.mu.Lock()
		st.PendingChildren += sh.children.len()
		st.PendingClients += sh.clients.len()
		st.PendingLinks += sh.links.len()
		st.CapacityChildren += sh.children.max
		st.CapacityClients += sh.clients.max
		st.CapacityLinks += sh.links.max
		st.IndexSpans += sh.idx.len()
		st.IndexEvictions += sh.idx.evictions
		st.IndexBytes += sh.idx.bytes()
		st.SpansRoot += sh.c.roots
		st.SpansPaired += sh.c.pairedChildren
		st.ExpiredChildren += sh.c.expiredChildren
		st.DroppedChildren += sh.c.droppedChildren
		st.DroppedClients += sh.c.droppedClients
		st.DroppedLinks += sh.c.droppedLinks
		st.LinksToParent += sh.c.linksToParent
		sh.mu.Unlock()
	}
	return st
}

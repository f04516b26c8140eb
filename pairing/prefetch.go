package pairing

// prepare readies the shard for the spans at order: the span index's
// probes (index.prepare), then the first slot of each span's probe in the
// children and links queues' chain tables, in one loop of independent
// loads, so that the cache misses of the take every span makes overlap
// instead of coming one at a time (group prefetching, as the index does).
func (sh *shard) prepare(spans []span, order []int32) {
	sh.idx.prepare(spans, order)
	c, l := &sh.children.heads, &sh.links.heads
	if c.n == 0 && l.n == 0 {
		return
	}
	var sink uint32
	for j := range order {
		h := uint32(sh.idx.hashes[2*j])
		sink += c.first(h) + l.first(h)
	}
	sh.idx.warmSink += sink
}

// first returns the head of the slot a probe for hash h starts at (0 when
// the table is empty), reading it.
func (c *chains) first(h uint32) uint32 {
	if c.n == 0 {
		return 0
	}
	return c.slots[h&uint32(len(c.slots)-1)].head
}

package pairing

// item is what a queue holds: something that arrived at a time, is keyed
// (children by their parent, links by their target), and can be chained to
// the next item of the same key.
type item interface {
	qkey() *spanKey
	qnext() *uint32 // position+1 of the next item with the same key; 0 = none
	qarrival() int64
	qdone() *bool // taken before it expired
}

// queue is a bounded FIFO of items waiting for something, with optional
// per-key chains so that all items waiting for one key are found at once.
// Items leave by take (what they waited for arrived), by expiry (oldest
// first, in arrival order), or by eviction when max items wait.
//
// Only waiting (live) items count toward max: a taken item is dead at once.
// Its ring position is reused when it becomes the oldest, or sooner: the
// ring has max/queueSlack positions beyond max, and when they are all used by dead
// items the live ones are compacted to the front (in arrival order), which
// frees at least max/queueSlack positions, so a push costs O(1) amortized. Memory:
// at most 1.25 × max items.
type queue[T any, P interface {
	*T
	item
}] struct {
	r    ring[T]
	hash func(*spanKey) uint64 // nil: not chained
	// heads holds each key's chain (chained queues): an open-addressing
	// table hashed by the callers' key hashes, no Go map on the hot path.
	heads chains
	max   int // live items at most
	live  int // items neither taken nor expired
	// moved, if set, learns where compaction moved a live item, for
	// whoever holds its position (unchained queues only).
	moved func(p P, from, to uint32)
}

// queueSlack sets the positions a queue's ring has beyond its max live
// items: max/queueSlack (at least 1), so its memory is at most 1.25 × max
// items and compaction runs at most once per max/queueSlack pushes.
const queueSlack = 4

func newQueue[T any, P interface {
	*T
	item
}](capacity int, hash func(*spanKey) uint64) *queue[T, P] {
	return &queue[T, P]{r: newRing[T](capacity + max(capacity/queueSlack, 1)), max: capacity, hash: hash}
}

// push appends v and returns its position, which stays valid until it
// leaves or compaction moves it (q.moved). If max items wait, the oldest
// is removed first and handed to evicted.
func (q *queue[T, P]) push(v T, evicted func(P)) uint32 {
	return q.put(v, 0, true, evicted)
}

// pushHashed is push given the hash of v's key (chained queues).
func (q *queue[T, P]) pushHashed(v T, h uint64, evicted func(P)) uint32 {
	return q.put(v, h, false, evicted)
}

// put is push; with rehash, a chained queue hashes v's key itself (from
// its place in the ring: v stays off the heap).
func (q *queue[T, P]) put(v T, h uint64, rehash bool, evicted func(P)) uint32 {
	if q.live >= q.max {
		q.dropOldest(evicted)
	}
	if q.r.full() {
		q.compact()
	}
	pos, slot := q.r.push()
	*slot = v
	q.live++
	if rehash && q.hash != nil {
		h = q.hash(P(slot).qkey())
	}
	q.chain(pos, P(slot), uint32(h))
	return pos
}

// at returns the item at a position push returned.
func (q *queue[T, P]) at(pos uint32) P { return P(q.r.at(pos)) }

// kill marks the item at pos taken (unchained queues: a chained one's
// items leave through take).
func (q *queue[T, P]) kill(pos uint32) {
	if p := q.at(pos); !*p.qdone() {
		*p.qdone() = true
		q.live--
	}
}

// keyAt returns the key of the item at pos.
func (q *queue[T, P]) keyAt(pos uint32) *spanKey { return P(q.r.at(pos)).qkey() }

// find returns the slot in q.heads of the chain of k, whose hash's low
// bits are h, or -1. A slot with the same hash bits is checked against
// the key of its chain's head item.
func (q *queue[T, P]) find(h uint32, k *spanKey) int {
	c := &q.heads
	if c.n == 0 {
		return -1
	}
	mask := uint32(len(c.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.head == 0 {
			return -1
		}
		if s.h == h && *q.keyAt(s.head - 1) == *k {
			return int(i)
		}
	}
}

// chain appends the live item p at pos, whose key hashes to h, to its
// key's chain.
func (q *queue[T, P]) chain(pos uint32, p P, h uint32) {
	if q.hash == nil {
		return
	}
	*p.qnext() = 0
	if i := q.find(h, p.qkey()); i >= 0 {
		c := &q.heads.slots[i]
		*P(q.r.at(c.tail - 1)).qnext() = pos + 1
		c.tail = pos + 1
	} else {
		q.heads.add(h, pos)
	}
}

// dropOldest removes the oldest live item, and the dead ones before it,
// handing the live one to fn.
func (q *queue[T, P]) dropOldest(fn func(P)) {
	for q.r.n > 0 {
		_, v := q.r.oldest()
		live := !*P(v).qdone()
		q.popOldest(fn)
		if live {
			return
		}
	}
}

// compact moves the live items to the front of the ring, in order, and
// rebuilds the chains.
func (q *queue[T, P]) compact() {
	var zero T
	n, w := q.r.n, q.r.head
	q.heads.reset()
	q.r.n = 0
	for i, pos := uint32(0), q.r.head; i < n; i++ {
		if v := q.r.at(pos); !*P(v).qdone() {
			if pos != w {
				*q.r.at(w) = *v
				*v = zero
				if q.moved != nil {
					q.moved(P(q.r.at(w)), pos, w)
				}
			}
			q.r.n++
			if q.hash != nil {
				p := P(q.r.at(w))
				q.chain(w, p, uint32(q.hash(p.qkey())))
			}
			if w++; w == q.r.cap {
				w = 0
			}
		} else {
			*v = zero
		}
		if pos++; pos == q.r.cap {
			pos = 0
		}
	}
}

// take hands every item waiting under k to fn, oldest first, and marks them
// taken. It reports whether there were any.
func (q *queue[T, P]) take(k *spanKey, fn func(P)) bool {
	if q.live == 0 {
		return false
	}
	return q.takeHashed(k, q.hash(k), fn)
}

// takeHashed is take given the hash of k.
func (q *queue[T, P]) takeHashed(k *spanKey, h uint64, fn func(P)) bool {
	if q.live == 0 {
		return false
	}
	i := q.find(uint32(h), k)
	if i < 0 {
		return false
	}
	c := q.heads.slots[i]
	q.heads.remove(i)
	for next := c.head; next != 0; {
		p := P(q.r.at(next - 1))
		*p.qdone() = true
		q.live--
		fn(p)
		next = *p.qnext()
	}
	return true
}

// expire removes the items that arrived at or before cutoff, handing those
// not taken to fn.
func (q *queue[T, P]) expire(cutoff int64, fn func(P)) {
	for q.r.n > 0 {
		if _, p := q.r.oldest(); P(p).qarrival() > cutoff {
			return
		}
		q.popOldest(fn)
	}
}

func (q *queue[T, P]) popOldest(fn func(P)) {
	_, v := q.r.oldest()
	p := P(v)
	if !*p.qdone() {
		q.live--
		if q.hash != nil { // the oldest live item heads its chain
			i := q.find(uint32(q.hash(p.qkey())), p.qkey())
			if next := *p.qnext(); next != 0 {
				q.heads.slots[i].head = next
			} else {
				q.heads.remove(i)
			}
		}
		fn(p)
	}
	q.r.pop()
}

// keys returns the keys that items wait under (chained queues).
func (q *queue[T, P]) keys() []spanKey {
	ks := make([]spanKey, 0, q.heads.n)
	for _, s := range q.heads.slots {
		if s.head != 0 {
			ks = append(ks, *q.keyAt(s.head - 1))
		}
	}
	return ks
}

// len is the number of items still waiting.
func (q *queue[T, P]) len() int { return q.live }

// child is a span waiting for its parent: keyed by (trace, parent span id).
type child struct {
	key        spanKey // trace id, parent span id
	start, end int64
	arrival    int64
	meta       meta // packMeta of the child
	next       uint32
	done       bool
	dims       uint32 // the child's tuple of dimension values (dims.go)
}

func (c *child) qkey() *spanKey  { return &c.key }
func (c *child) qnext() *uint32  { return &c.next }
func (c *child) qarrival() int64 { return c.arrival }
func (c *child) qdone() *bool    { return &c.done }

// client is a CLIENT span that names a database or peer, waiting to learn
// whether a server side turns up. Unchained: while it waits, its index
// entry holds its position (meta.queued) and it holds the entry's end, so
// it leaves the queue as soon as its server side pairs with it.
type client struct {
	key     spanKey
	arrival int64
	end     int64  // the span's end, unix ns, while its entry holds the position
	peer    uint32 // graph.NodeID
	dur     uint32 // µs
	svc     uint32 // graph.NodeID
	kind    uint8  // graph.Database or graph.Virtual
	failed  bool
	done    bool
	weight  uint32 // the span's sampling weight (tracedecode.Span.Weight)
}

func (c *client) qkey() *spanKey  { return &c.key }
func (c *client) qnext() *uint32  { return nil }
func (c *client) qarrival() int64 { return c.arrival }
func (c *client) qdone() *bool    { return &c.done }

// waitingLink is a link whose target span has not been seen yet: keyed by
// the target.
type waitingLink struct {
	target  spanKey // the linked-to span
	from    spanKey // the linking span
	start   int64   // the linking span's start
	end     int64   // the linking span's end; 0: not known (a routed link, replay.go)
	arrival int64
	meta    meta // packMeta of the linking span
	next    uint32
	done    bool
	// toParent: the target is the linking span's own parent (see redundant).
	toParent bool
	dims     uint16 // the linking span's tuple of dimension values (dims.go; below graph.MaxDimensionTuples)
	weight   uint32 // the linking span's sampling weight; 0 for a routed link (replay.go)
	name     string // the linking span's name, for diagnostics
}

func (l *waitingLink) qkey() *spanKey  { return &l.target }
func (l *waitingLink) qnext() *uint32  { return &l.next }
func (l *waitingLink) qarrival() int64 { return l.arrival }
func (l *waitingLink) qdone() *bool    { return &l.done }

package pairing

// chains maps a key to the chain of queue items waiting under it, in an
// open-addressing table (linear probing, backward-shift deletion; the
// queue probes it, queue.find) of 12-byte slots: the low 32 bits of the
// key's hash and the chain's head and tail positions. The key itself is
// not stored: a probe that meets a slot with the same hash bits compares
// the key of the chain's head item. Unlike a Go map it hashes nothing
// itself (callers pass the hash they already computed for the span
// index), a miss usually reads one cache line, and a slot is 12 bytes
// where a map entry of a 24-byte key and a chain takes ~37. The table
// doubles when more than half full and is bounded by the queue's items
// (at most one chain each).
type chains struct {
	slots []chainSlot // len a power of two, or 0
	n     int         // chains held
}

type chainSlot struct {
	h          uint32 // low bits of the key's hash
	head, tail uint32 // positions + 1; head 0: empty slot
}

// add starts a chain of one item at pos for a key with hash h that has
// none.
func (c *chains) add(h, pos uint32) {
	if 2*(c.n+1) > len(c.slots) {
		c.grow()
	}
	c.put(chainSlot{h: h, head: pos + 1, tail: pos + 1})
	c.n++
}

// put places s in its first empty slot.
func (c *chains) put(s chainSlot) {
	mask := uint32(len(c.slots) - 1)
	i := s.h & mask
	for c.slots[i].head != 0 {
		i = (i + 1) & mask
	}
	c.slots[i] = s
}

func (c *chains) grow() {
	old := c.slots
	c.slots = make([]chainSlot, max(16, 2*len(old)))
	for _, s := range old {
		if s.head != 0 {
			c.put(s)
		}
	}
}

// remove empties slot i, shifting back the slots of its probe run that
// may move closer to their home (their hash bits say where that is).
func (c *chains) remove(i int) {
	mask := uint32(len(c.slots) - 1)
	hole := uint32(i)
	for j := (hole + 1) & mask; c.slots[j].head != 0; j = (j + 1) & mask {
		if home := c.slots[j].h & mask; (j-home)&mask >= (j-hole)&mask {
			c.slots[hole] = c.slots[j]
			hole = j
		}
	}
	c.slots[hole] = chainSlot{}
	c.n--
}

// reset drops every chain, keeping the table.
func (c *chains) reset() {
	clear(c.slots)
	c.n = 0
}

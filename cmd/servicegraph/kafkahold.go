package main

import (
	"sync"

	"github.com/servicegraph/servicegraph/graph"
)

// heldFrom is the record some held counts came from: a partition of
// the spans topic or of the links topic.
type heldFrom struct {
	partition int32
	links     bool
}

// heldRec is one record's held counts: obs and tallies up to these ends.
type heldRec struct {
	from         heldFrom
	seq          uint64
	obsEnd, tEnd int
}

// held is what handling records counted (edges, link results) and no
// commit covers yet: the multi-instance mode shows it (Release) only
// once the records' offsets are committed, so that a member killed
// before its commit has shown nothing of what the next owner of its
// partitions handles again and counts.
type held struct {
	mu      sync.Mutex
	obs     []graph.Observation
	tallies []graph.LinkTally
	recs    []heldRec
	seq     uint64 // the next record's
}

// add files one record's counts.
func (h *held) add(from heldFrom, obs []graph.Observation, tallies []graph.LinkTally) {
	if len(obs) == 0 && len(tallies) == 0 {
		return
	}
	h.mu.Lock()
	h.obs, h.tallies = append(h.obs, obs...), append(h.tallies, tallies...)
	h.recs = append(h.recs, heldRec{from: from, seq: h.seq, obsEnd: len(h.obs), tEnd: len(h.tallies)})
	h.seq++
	h.mu.Unlock()
}

// mark is the seq of the next record filed: release(mark) shows what was
// filed before.
func (h *held) mark() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// records is how many records' counts are held.
func (h *held) records() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.recs)
}

// release hands to show what the records filed before mark counted, in
// their order, and forgets it.
func (h *held) release(mark uint64, show func([]graph.Observation, []graph.LinkTally)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for n < len(h.recs) && h.recs[n].seq < mark {
		n++
	}
	if n == 0 {
		return
	}
	last := h.recs[n-1]
	show(h.obs[:last.obsEnd], h.tallies[:last.tEnd])
	h.obs = h.obs[:copy(h.obs, h.obs[last.obsEnd:])]
	h.tallies = h.tallies[:copy(h.tallies, h.tallies[last.tEnd:])]
	h.recs = h.recs[:copy(h.recs, h.recs[n:])]
	for i := range h.recs {
		h.recs[i].obsEnd -= last.obsEnd
		h.recs[i].tEnd -= last.tEnd
	}
}

// drop forgets what the records gone reports (nil: all) counted, and
// returns how many records it forgot.
func (h *held) drop(gone func(heldFrom) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var from, tfrom, no, nt, kept int
	for _, r := range h.recs {
		if gone == nil || gone(r.from) {
			from, tfrom = r.obsEnd, r.tEnd
			continue
		}
		no += copy(h.obs[no:], h.obs[from:r.obsEnd])
		nt += copy(h.tallies[nt:], h.tallies[tfrom:r.tEnd])
		from, tfrom = r.obsEnd, r.tEnd
		r.obsEnd, r.tEnd = no, nt
		h.recs[kept] = r
		kept++
	}
	n := len(h.recs) - kept
	h.obs, h.tallies, h.recs = h.obs[:no], h.tallies[:nt], h.recs[:kept]
	return n
}

// Checkpoint implements kafka.Committer.
func (k *kafkaIngest) Checkpoint() uint64 { return k.held.mark() }

// Committed implements kafka.Committer: what the committed records
// counted becomes visible.
func (k *kafkaIngest) Committed(mark uint64) { k.held.release(mark, k.proc.Release) }

package graph

import "time"

// Global first-seen (issue 14): instances of a scale-out share each
// edge's earliest first-seen time, so that an instance that takes over an
// old edge (after a restart with an empty data directory, or a handover)
// does not export it as new. FloorFirstSeen applies a time learnt from
// the others.

// FloorFirstSeen lowers the first-seen time of the edge client→server of
// kind to t if t is earlier; names are node names as snapshots give them.
// An edge not seen yet keeps t as its floor: it starts with first-seen t
// if t is earlier than its first occurrence. Floors are bounded by
// Config.MaxEdges (past it they are dropped, counted in
// Stats.FloorsDropped). It reports whether an existing edge was lowered.
// Safe for concurrent use.
func (s *Store) FloorFirstSeen(client, server string, kind Kind, t time.Time) bool {
	ns := t.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, okc := s.byName[client]
	v, oks := s.byName[server]
	if okc && oks {
		if e := s.edge(edgeKey{c, v, kind}); e != nil {
			e.mu.Lock()
			lowered := ns < e.first
			if lowered {
				e.first = ns
			}
			e.mu.Unlock()
			if lowered {
				s.markDirty(e)
				s.version++
			}
			return lowered
		}
	}
	k := edgeName{client, server, kind}
	if have, ok := s.floors[k]; ok {
		s.floors[k] = min(have, ns)
		return false
	}
	if len(s.floors) >= s.cfg.MaxEdges {
		s.floorsDropped++
		return false
	}
	if s.floors == nil {
		s.floors = make(map[edgeName]int64)
	}
	s.floors[k] = ns
	return false
}

// applyFloor starts a new edge at its floor, if one is known and earlier.
// It needs s.mu; e is not shared yet.
func (s *Store) applyFloor(e *edge) {
	if len(s.floors) == 0 {
		return
	}
	k := edgeName{s.names[e.key.client], s.names[e.key.server], e.key.kind}
	if f, ok := s.floors[k]; ok {
		e.first = min(e.first, f)
		delete(s.floors, k)
	}
}

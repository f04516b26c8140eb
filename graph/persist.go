package graph

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strings"
)

// State file format: a header (magic, format version, payload length,
// CRC-32C of the payload) and a gob-encoded payload. A file of a newer
// version is refused with ErrNewerFormat; one whose magic, length or
// checksum is wrong, with ErrCorrupt.
//
// The payload is made of the private state* structs below, never of the
// package's public types: gob matches fields by name, so renaming a field
// of a public type (Bucket.Count) would silently read old files as zeros.
// The state* structs change only with a new format version, and every
// version's file stays in testdata/ for the tests to load
// (TestStateV1Fixture).
const (
	stateMagic = "SGSTATE\x00"
	// stateVersion 2 added the history buckets' histograms
	// (stateEdge.HistEntries, stateBucket.HistLen); a file of format 1
	// loads without them.
	stateVersion = 2
	headerSize   = len(stateMagic) + 4 + 8 + 4
)

// Errors of ReadState.
var (
	ErrCorrupt     = errors.New("state is corrupt")
	ErrNewerFormat = errors.New("state was written by a newer version")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type stateV1 struct {
	Saved int64 // unix ns
	// Clean: written by the last save of a clean shutdown, after which
	// nothing was observed, by a process whose exported counters were the
	// totals. Files from before this field read as false (unclean, the
	// safe side: the next process's counters start from zero).
	Clean bool
	// HasBase: the process that wrote the file exported its counters from
	// a base (Snapshot.Base), saved with the nodes and edges, so that a
	// clean restart continues from it.
	HasBase     bool
	BucketWidth int64
	Bounds      []float64
	Nodes       []stateNode
	Edges       []stateEdge
	// Dimensions are the dimension attributes (Config.Dimensions) the
	// edges' Dims are by; older files have none (gob leaves it nil).
	Dimensions []string
}

type stateNode struct {
	Name  string
	Kind  uint8 // NodeKind
	Links stateLinks
	// BaseLinks: the base of the exported link counters (Snapshot.Base),
	// in a file with HasBase.
	BaseLinks stateLinks
	// Detail: Node.Detail (older files have none: gob leaves it empty).
	Detail string
}

// stateLinks are a node's span-link tallies by LinkResult (resolved,
// unresolved, invalid, dropped). Gob refuses an array of another length,
// so the length is fixed here, not NumLinkResults: a new LinkResult must
// not make every saved file unreadable.
type stateLinks [4]uint64

func toStateLinks(l [NumLinkResults]uint64) (s stateLinks) {
	copy(s[:], l[:])
	return s
}

func fromStateLinks(s stateLinks) (l [NumLinkResults]uint64) {
	copy(l[:], s[:])
	return l
}

type stateEdge struct {
	Client, Server uint32 // indexes into Nodes
	Kind           uint8  // Kind
	Count, Failed  uint64
	First, Last    int64
	Hist           [2]stateHist
	History        []stateBucket
	// HistEntries are the histograms of History's buckets, in order
	// (stateBucket.HistLen each), as sparse entries: index << 24 | count
	// (a count past 2^24−1 continues in another entry). Format 2 on.
	HistEntries []uint32
	Base        *stateCounters // in a file with HasBase: nil for an edge new since the base
	// Ex is the edge's latest sample (EdgeData.Exemplar: the API's and
	// the page's sample trace), in a peer's answer (WriteSnapshot) and in
	// the state file; nil: none. The histograms' exemplars are not saved.
	// Older readers ignore it (gob skips unknown fields).
	Ex *stateExemplar
	// Dims are the edge's sub-series by dimension values (dims.go), in
	// the state file only; older files and readers have none (gob skips).
	Dims []stateDim
}

// stateBucket is a saved Bucket.
type stateBucket struct {
	Start         int64 // unix ns
	Count, Failed uint64
	Sum           float64
	N             uint64
	// HistLen is how many of the edge's HistEntries are this bucket's
	// histogram (Bucket.Hist), format 2 on; 0 with N above 0: unknown
	// (format 1 has none).
	HistLen uint32
}

// toStateBuckets returns bs saved, with their histograms' entries.
func toStateBuckets(bs []Bucket) ([]stateBucket, []uint32) {
	out := make([]stateBucket, len(bs))
	var ents []uint32
	for i, b := range bs {
		var k uint32
		ents, k = appendEntries(ents, b.Hist)
		out[i] = stateBucket{Start: b.Start, Count: b.Count, Failed: b.Failed, Sum: b.Sum, N: b.N, HistLen: k}
	}
	return out, ents
}

// stateCounters is an edge's base: what its exported counters count from.
type stateCounters struct {
	Count, Failed uint64
	Hist          [2]stateHist
}

type stateHist struct {
	Counts []uint64
	Sum    float64
	N      uint64
}

// WriteState writes the graph (nodes, edges with their totals, first/last
// seen times, histograms and history) to w, marked unclean: a process that
// restores it exports its counters from zero (see Snapshot.Base).
func (s *Store) WriteState(w io.Writer) error { return s.writeState(w, false) }

// WriteFinalState is WriteState for the last save of a clean shutdown,
// when nothing is observed any more: the file is marked clean, so that the
// next process's exported counters continue where this one's stopped (from
// the saved totals, or from the saved base if this process had one).
func (s *Store) WriteFinalState(w io.Writer) error { return s.writeState(w, true) }

func (s *Store) writeState(w io.Writer, final bool) error {
	st := s.state()
	s.mu.Lock()
	st.Clean = final
	s.mu.Unlock()
	return encodeState(w, st)
}

// encodeState writes st with its header: the state file's format, also
// the form of a peer's graph (WriteSnapshot).
func encodeState(w io.Writer, st *stateV1) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(st); err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, stateMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, stateVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(payload.Len()))
	hdr = binary.BigEndian.AppendUint32(hdr, crc32.Checksum(payload.Bytes(), castagnoli))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(payload.Bytes())
	return err
}

// state builds the saved form from a snapshot: saving never holds the
// writers' lock beyond the snapshot's short sections. Nodes are saved in
// the order they were first seen, so that a restore under a smaller
// max_nodes keeps the oldest.
func (s *Store) state() *stateV1 {
	snap := s.Snapshot()
	s.mu.Lock()
	names := s.names[:len(s.names):len(s.names)]
	s.mu.Unlock()
	st := &stateV1{Saved: snap.Taken.UnixNano(), BucketWidth: int64(snap.BucketWidth), Bounds: snap.Bounds,
		Nodes: make([]stateNode, 0, len(snap.Nodes)), Edges: make([]stateEdge, len(snap.Edges)), Dimensions: s.cfg.Dimensions}
	ids := make(map[string]uint32, len(snap.Nodes))
	for _, name := range names {
		if n, ok := snap.Node(name); ok {
			ids[n.Name] = uint32(len(st.Nodes))
			st.Nodes = append(st.Nodes, stateNode{Name: n.Name, Kind: uint8(n.Kind), Links: toStateLinks(n.Links), Detail: n.Detail})
		}
	}
	var baseEdges map[edgeName]*Edge
	if snap.Base != nil {
		st.HasBase = true
		for i := range snap.Base.Nodes {
			if j, ok := ids[snap.Base.Nodes[i].Name]; ok {
				st.Nodes[j].BaseLinks = toStateLinks(snap.Base.Nodes[i].Links)
			}
		}
		baseEdges = make(map[edgeName]*Edge, len(snap.Base.Edges))
		for i := range snap.Base.Edges {
			e := &snap.Base.Edges[i]
			baseEdges[edgeName{e.Client, e.Server, e.Kind}] = e
		}
	}
	for i := range snap.Edges {
		e := &snap.Edges[i]
		se := stateEdge{Client: ids[e.Client], Server: ids[e.Server], Kind: uint8(e.Kind), Count: e.Count, Failed: e.Failed,
			First: e.FirstSeen.UnixNano(), Last: e.LastSeen.UnixNano()}
		if e.Open.Start != 0 || e.History.Len() > 0 {
			se.History, se.HistEntries = toStateBuckets(append(e.History.Buckets(), e.Open))
		}
		for j, h := range e.Hist {
			se.Hist[j] = stateHist{Counts: h.Counts, Sum: h.Sum, N: h.Count}
		}
		se.Dims = toStateDims(e.Dims)
		if x := e.Exemplar; x.Valid() {
			se.Ex = &stateExemplar{Trace: x.Trace, Span: x.Span, Value: x.Value, Time: x.Time}
		}
		if b := baseEdges[edgeName{e.Client, e.Server, e.Kind}]; b != nil {
			se.Base = &stateCounters{Count: b.Count, Failed: b.Failed}
			for j, h := range b.Hist {
				se.Base.Hist[j] = stateHist{Counts: h.Counts, Sum: h.Sum, N: h.Count}
			}
		}
		st.Edges[i] = se
	}
	return st
}

// ReadState replaces the store's contents with the state in r. It must be
// called before the store is used. Histograms saved with other bounds, and
// history saved with another bucket width, are dropped (the totals and
// first/last-seen times are kept); history past retention is trimmed.
// Under a smaller MaxNodes, saved names past it fold into OverflowNode
// (counted in Stats.NodesOverflowed) and edges that thereby become one are
// summed: counts, failures, histograms and history buckets added, the
// earliest first-seen and the latest last-seen kept (counted in
// Stats.EdgesFolded, logged). Edges past MaxEdges are dropped, their
// occurrences counted in Stats.EdgesDropped.
func (s *Store) ReadState(r io.Reader) error {
	st, err := decodeState(r)
	if err != nil {
		return err
	}
	if err := s.restore(st); err != nil {
		return err
	}
	var base *Snapshot
	switch {
	case !st.Clean:
		base = s.Snapshot()
	case st.HasBase:
		base = s.savedBase(st)
	}
	if base != nil {
		s.mu.Lock()
		s.base = base
		s.version++ // later snapshots carry it
		s.mu.Unlock()
	}
	return nil
}

// decodeState reads a state written by encodeState: ErrCorrupt or
// ErrNewerFormat for what it cannot read.
func decodeState(r io.Reader) (*stateV1, error) {
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: short header: %v", ErrCorrupt, err)
	}
	if string(hdr[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("%w: not a servicegraph state file", ErrCorrupt)
	}
	off := len(stateMagic)
	if v := binary.BigEndian.Uint32(hdr[off:]); v > stateVersion {
		return nil, fmt.Errorf("%w: format %d, this build reads up to %d", ErrNewerFormat, v, stateVersion)
	}
	n := binary.BigEndian.Uint64(hdr[off+4:])
	sum := binary.BigEndian.Uint32(hdr[off+12:])
	if n > 1<<34 {
		return nil, fmt.Errorf("%w: payload length %d", ErrCorrupt, n)
	}
	payload, err := io.ReadAll(io.LimitReader(r, int64(n)+1))
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if uint64(len(payload)) != n || crc32.Checksum(payload, castagnoli) != sum {
		return nil, fmt.Errorf("%w: payload length or checksum mismatch", ErrCorrupt)
	}
	var st stateV1
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &st, nil
}

// edgeName identifies an edge by its nodes' names.
type edgeName struct {
	client, server string
	kind           Kind
}

// savedBase rebuilds the base a clean file carries for the graph just
// restored from it. If the graph is not the saved one, node for node and
// edge for edge (folded under a smaller max_nodes, cut names, dropped
// edges), the restored graph itself is the base: a reset, never a jump.
func (s *Store) savedBase(st *stateV1) *Snapshot {
	cur := s.Snapshot()
	if len(cur.Nodes) != len(st.Nodes) || len(cur.Edges) != len(st.Edges) {
		return cur
	}
	links := make(map[string][NumLinkResults]uint64, len(st.Nodes))
	for _, n := range st.Nodes {
		links[n.Name] = fromStateLinks(n.BaseLinks)
	}
	saved := make(map[edgeName]*stateCounters, len(st.Edges))
	for _, e := range st.Edges {
		if e.Base != nil {
			saved[edgeName{st.Nodes[e.Client].Name, st.Nodes[e.Server].Name, Kind(e.Kind)}] = e.Base
		}
	}
	base := &Snapshot{Version: cur.Version, Taken: cur.Taken, BucketWidth: cur.BucketWidth, Bounds: cur.Bounds,
		Nodes: make([]Node, len(cur.Nodes))}
	for i, n := range cur.Nodes {
		l, ok := links[n.Name]
		if !ok {
			return cur
		}
		base.Nodes[i] = Node{Name: n.Name, Kind: n.Kind, Links: l}
	}
	for i := range cur.Edges {
		e := &cur.Edges[i]
		b := saved[edgeName{e.Client, e.Server, e.Kind}]
		if b == nil {
			continue // new since the base: counts from zero
		}
		be := Edge{&EdgeData{Client: e.Client, Server: e.Server, Kind: e.Kind, Count: b.Count, Failed: b.Failed}}
		for j, h := range b.Hist {
			be.Hist[j] = Histogram{Counts: h.Counts, Sum: h.Sum, Count: h.N}
		}
		base.Edges = append(base.Edges, be)
	}
	return base
}

func (s *Store) restore(st *stateV1) error {
	for _, e := range st.Edges {
		if int(e.Client) >= len(st.Nodes) || int(e.Server) >= len(st.Nodes) || Kind(e.Kind) >= numKinds {
			return fmt.Errorf("%w: edge refers to a missing node or kind", ErrCorrupt)
		}
	}
	sameHist := slices.Equal(st.Bounds, s.cfg.LatencyBuckets)
	sameWidth := st.BucketWidth == int64(s.cfg.BucketWidth)
	// Sub-series continue only from a clean file (an unclean one's counters
	// restart from zero, and sub-series have no base) saved with the same
	// dimensions and bounds.
	sameDims := s.dims != nil && st.Clean && sameHist && slices.Equal(st.Dimensions, s.cfg.Dimensions)
	minStart := s.bucketStart(s.now().Add(-s.cfg.Retention).UnixNano())
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]NodeID, len(st.Nodes))
	for i, n := range st.Nodes {
		// Saved names are node names already: reserved ones are the
		// synthetic nodes, the others were escaped when first seen.
		switch n.Name {
		case UserNode:
			ids[i] = s.userNode()
		case OverflowNode:
			ids[i] = s.overflowNode()
		default:
			ids[i] = s.intern(s.cut(strings.ToValidUTF8(n.Name, "\uFFFD")), NodeKind(n.Kind))
		}
		for r, v := range fromStateLinks(n.Links) {
			s.links[ids[i]][r] += v
		}
		if n.Detail != "" {
			s.setDetail(ids[i], n.Detail)
		}
	}
	overflowed := s.overflow
	var folded uint64
	for _, se := range st.Edges {
		k := edgeKey{ids[se.Client], ids[se.Server], Kind(se.Kind)}
		e := s.edge(k)
		if e != nil {
			e.mu.Lock()
		}
		switch {
		case e != nil:
			// Two saved edges became one: their names folded into
			// OverflowNode under a smaller MaxNodes. Sum them.
			folded++
			e.count += se.Count
			e.failed += se.Failed
			e.first, e.last = min(e.first, se.First), max(e.last, se.Last)
		case len(s.all) >= s.cfg.MaxEdges:
			s.dropped += se.Count
			continue
		default:
			e = s.addEdge(k, se.First)
			e.mu.Lock()
			e.count, e.failed, e.last = se.Count, se.Failed, se.Last
		}
		if sameHist {
			for i, h := range se.Hist {
				e.hist[i].merge(h)
			}
		}
		if sameDims {
			s.restoreDims(e, se.Dims)
		}
		if x := se.Ex; x != nil {
			e.ex = latest(Exemplar{Trace: x.Trace, Span: x.Span, Value: x.Value, Time: x.Time}, e.ex)
		}
		if sameWidth {
			s.mergeHistory(e, se.History, se.HistEntries, sameHist)
			s.trimHistory(e, floorDiv(minStart, int64(s.cfg.BucketWidth)), false)
		}
		e.mu.Unlock()
		s.markDirty(e)
	}
	s.edgesFolded += folded
	s.nodesDirty = true
	if s.histBytes.Load() > s.cfg.MaxHistoryBytes {
		s.evictHistory()
	}
	s.version++
	if n := s.overflow - overflowed; n > 0 {
		s.log.Warn("restored graph folded into "+OverflowNode+" (max_nodes is smaller than the saved graph)",
			"nodes_folded", n, "edges_folded", folded)
	}
	return nil
}

// merge adds a saved histogram with the same bounds; one with another
// number of buckets is dropped.
func (h *histogram) merge(sh stateHist) {
	if len(sh.Counts) != len(h.counts) {
		return
	}
	for i, c := range sh.Counts {
		h.counts[i] += c
	}
	h.sum += sh.Sum
	h.n += sh.N
}

// buckets returns every history bucket of e, the open one last.
func (e *edge) buckets(width int64) []Bucket {
	if e.history.n == 0 {
		return nil
	}
	v, open := e.history.view(width, len(e.hist[0].counts), nil)
	return append(v.Buckets(), open)
}

// mergeHistory adds the buckets in bs, in time order, to e's history,
// summing buckets that start at the same time; buckets out of order (a
// damaged file) are skipped. Their histograms are added when sameHist
// (saved with the store's bounds) and whole (adding up to N); a bucket
// with one missing has its histogram unknown. It needs e.mu.
func (s *Store) mergeHistory(e *edge, bs []stateBucket, ents []uint32, sameHist bool) {
	w := int64(s.cfg.BucketWidth)
	old, oldEnts := toStateBuckets(e.buckets(w))
	s.histBuckets.Add(-int64(e.history.n))
	s.histBytes.Add(-e.history.bytes())
	e.history.clear()
	nb := len(e.hist[0].counts)
	oldOff, off := 0, 0
	i := 0
	put := func(b stateBucket, es []uint32) {
		idx := floorDiv(b.Start, w)
		if e.history.n > 0 && idx < e.history.lastIdx() {
			return
		}
		hb := e.history.bucket(idx)
		hb.count = sat32(uint64(hb.count) + b.Count)
		hb.failed = sat32(uint64(hb.failed) + b.Failed)
		if sameHist && uint64(hb.n)+b.N <= math.MaxUint32 && entriesTotal(es, nb) == b.N {
			e.history.addEntries(es)
		}
		hb.n = sat32(uint64(hb.n) + b.N)
		hb.addSum(b.Sum)
	}
	for _, b := range bs {
		for ; i < len(old) && old[i].Start <= b.Start; i++ {
			put(old[i], takeEntries(oldEnts, &oldOff, old[i].HistLen))
		}
		put(b, takeEntries(ents, &off, b.HistLen))
	}
	for ; i < len(old); i++ {
		put(old[i], takeEntries(oldEnts, &oldOff, old[i].HistLen))
	}
	s.histBuckets.Add(int64(e.history.n))
	s.histBytes.Add(e.history.bytes())
}

func sat32(v uint64) uint32 { return uint32(min(v, math.MaxUint32)) }

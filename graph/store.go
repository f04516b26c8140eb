package graph

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/servicegraph/servicegraph/internal/logging"
)

// NodeID identifies a node of one Store. IDs are dense, from 0.
type NodeID uint32

// Reserved node names: the synthetic nodes. Store.User and the node cap
// create them; no name given to Node can become one of them.
const (
	UserNode     = "user"         // the caller of a root SERVER span
	OverflowNode = "__overflow__" // where names past Config.MaxNodes are counted
)

// ReservedSuffix is appended to a name given to Node that would otherwise
// be a reserved name followed by zero or more ReservedSuffix: a real service
// called "user" is the node "user~", one called "user~" is "user~~". The
// mapping is one-to-one, so real names never merge with each other or with
// a synthetic node, and label sets stay distinct.
const ReservedSuffix = "~"

// Observation is one occurrence of an edge, produced by pairing. (Fields
// ordered so that it packs in 80 B.)
type Observation struct {
	Client, Server NodeID
	Kind           Kind
	Failed         bool
	AsyncTimed     bool // AsyncSeconds holds the async edge's span durations
	// Weight is how many occurrences this one stands for (a sampled span's
	// adjusted count): its count, failed count and histogram observations
	// are multiplied by it. 0 means 1.
	Weight uint32
	// Seconds holds, for sync edges, the server span's duration (index 0)
	// and the client span's duration (index 1); for async edges index 0 is
	// the delay (consumer/linking span start − producer/linked span end).
	// A negative value means "not known" and is not recorded.
	Seconds [2]float64
	// AsyncSeconds holds, for async edges when AsyncTimed, the durations of
	// the server side's span (consumer, linking span: index 0) and the
	// client side's (producer, linked-to span: index 1), as Tempo records
	// them: Grafana divides request_server_seconds_sum by request_total on
	// every edge. Negative: not known.
	AsyncSeconds [2]float64
	// Trace and Span name a span of the occurrence (pairing's: the
	// client side's, or a root span's own): the edge keeps a recent one as
	// its exemplars (Exemplar). Zero: none.
	Trace [16]byte
	Span  [8]byte
	// ClientDims and ServerDims are the tuples (Store.DimTuple) of
	// dimension values of the client side's and the server side's span;
	// DimTupleNone without dimensions.
	ClientDims, ServerDims uint32
}

// LinkTally counts link outcomes of one linking service.
type LinkTally struct {
	Service NodeID
	Result  LinkResult
	N       uint64
}

// Store is the aggregated topology. Writers call Node and Observe
// concurrently; readers call Snapshot and work on the immutable result.
type Store struct {
	cfg Config
	now func() time.Time
	log *slog.Logger

	ids  sync.Map // raw name (string) → *nodeRef; lock-free lookups on the hot path
	nraw atomic.Int64

	mu          sync.Mutex // guards the fields below
	names       []string   // append-only: a prefix captured under mu stays valid
	kinds       []NodeKind
	byName      map[string]NodeID // sanitised name → id
	links       [][NumLinkResults]uint64
	edges       map[uint64]*edge // edgeKey.pair → the pair's edges, chained by edge.next
	all         []*edge          // every edge, oldest first; append-only (len: the edge count)
	dirty       []*edge          // edges changed since the last snapshot build
	dirtyGen    uint64           // edges on dirty have this edge.dirtyGen
	nodesDirty  bool             // names, kinds, links or details changed since the last build
	version     uint64
	calls       uint64  // Observe calls (edge.observe's exemplar sampling)
	next        []int32 // Observe's scratch: each edge's observations chained
	groups      []*edge // Observe's scratch: the edges of a batch
	details     map[NodeID]string
	snap        *Snapshot // the latest snapshot built; current while version and floor are
	floor       int64     // retention floor (bucket number) of snap
	overflow    uint64    // names folded into OverflowNode
	dropped     uint64    // observations of edges past MaxEdges
	overflowID  NodeID
	hasOverflow bool
	edgesFolded uint64 // saved edges summed into another at restore
	// floors are first-seen times of edges not seen yet, learnt from
	// other instances (FloorFirstSeen); at most MaxEdges.
	floors        map[edgeName]int64
	floorsDropped uint64
	base          *Snapshot // the graph restored after an unclean stop, or nil

	// History accounts. Changed with an edge's lock held (the snapshot
	// builder trims with only that lock), so atomic.
	histBytes   atomic.Int64  // memory held by every edge's history
	histBuckets atomic.Int64  // buckets held by every edge's history
	histEvicted atomic.Uint64 // buckets dropped at MaxHistoryBytes

	build builder // builds snapshots; has its own lock

	natReduced atomic.Uint64 // native histogram halvings at NativeMaxBuckets

	dims            *dimTable     // nil without Config.Dimensions (dims.go)
	dimSeries       atomic.Int64  // sub-series of every edge
	dimSeriesFolded atomic.Uint64 // occurrences folded into an edge's overflow sub-series
}

type edgeKey struct {
	client, server NodeID
	kind           Kind
}

// pair is the key of Store.edges: a uint64 key takes the map's fast path
// (a struct key's generic hash cost a fifth of Observe).
func (k edgeKey) pair() uint64 { return uint64(k.client)<<32 | uint64(k.server) }

// edge returns the edge of k, or nil. It needs s.mu.
func (s *Store) edge(k edgeKey) *edge {
	for e := s.edges[k.pair()]; e != nil; e = e.next {
		if e.key.kind == k.kind {
			return e
		}
	}
	return nil
}

// addEdge makes the edge of k, first seen at first. It needs s.mu.
func (s *Store) addEdge(k edgeKey, first int64) *edge {
	e := newEdge(k, first, len(s.cfg.LatencyBuckets))
	p := k.pair()
	e.next = s.edges[p]
	s.edges[p] = e
	s.all = append(s.all, e)
	return e
}

// New returns an empty Store, or the problems of an invalid cfg
// (Config.Validate): a store never runs on a configuration that would
// fail later (a zero BucketWidth divides by zero at the first observation).
func New(cfg Config, set Settings) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("graph config: %w", err)
	}
	return newStore(cfg, set), nil
}

// MustNew is New for a configuration known to be valid (a default one,
// in tests and examples); it panics on an invalid one.
func MustNew(cfg Config, set Settings) *Store {
	s, err := New(cfg, set)
	if err != nil {
		panic(err)
	}
	return s
}

func newStore(cfg Config, set Settings) *Store {
	if set.Now == nil {
		set.Now = time.Now
	}
	set.Logger = logging.OrDiscard(set.Logger)
	return &Store{
		cfg:      cfg,
		now:      set.Now,
		log:      set.Logger,
		byName:   make(map[string]NodeID),
		edges:    make(map[uint64]*edge),
		floor:    math.MinInt64,
		dirtyGen: 1,
		dims:     newDimTable(cfg),
	}
}

// Node returns the id of the node named name, creating it with kind if it is
// new; a known node's kind is raised to kind if kind ranks higher (a
// database that turns out to send spans becomes a service). Names are
// sanitised (invalid UTF-8 replaced, reserved names escaped with
// ReservedSuffix, cut to MaxNameBytes) and, past MaxNodes, folded into
// OverflowNode. Safe for concurrent use; lookups of known names take no lock.
func (s *Store) Node(name string, kind NodeKind) NodeID {
	if v, ok := s.ids.Load(name); ok {
		r := v.(*nodeRef)
		if NodeKind(r.kind.Load()).Rank() >= kind.Rank() {
			return r.id
		}
		s.mu.Lock()
		id := s.intern(s.sanitise(name), kind)
		s.mu.Unlock()
		r.kind.Store(uint32(kind))
		return id
	}
	s.mu.Lock()
	id := s.intern(s.sanitise(name), kind)
	s.mu.Unlock()
	// Remember raw spellings up to a bound so that hostile names cannot grow
	// the lookup table without end; past it they are sanitised every time.
	if s.nraw.Load() < int64(2*s.cfg.MaxNodes) {
		r := &nodeRef{id: id}
		r.kind.Store(uint32(kind))
		if _, loaded := s.ids.LoadOrStore(strings.Clone(name), r); !loaded {
			s.nraw.Add(1)
		}
	}
	return id
}

// nodeRef caches a raw name's id and the highest kind it was asked for.
type nodeRef struct {
	id   NodeID
	kind atomic.Uint32
}

// User returns the synthetic user node, the caller of root SERVER spans,
// creating it on first use. It is distinct from any node named by Node.
func (s *Store) User() NodeID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userNode()
}

// userNode needs s.mu.
func (s *Store) userNode() NodeID {
	if id, ok := s.byName[UserNode]; ok {
		return id
	}
	return s.add(UserNode, VirtualNode)
}

// sanitise maps an outside name to its node name. Escaping comes before the
// cut, and a cut keeps at least 13 bytes (MaxNameBytes is at least 16), so
// the result is never a reserved name.
func (s *Store) sanitise(name string) string {
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "\uFFFD")
	}
	return s.cut(escapeReserved(name))
}

// escapeReserved appends ReservedSuffix to names of the form reserved name
// + zero or more ReservedSuffix.
func escapeReserved(name string) string {
	if base := strings.TrimRight(name, ReservedSuffix); base == UserNode || base == OverflowNode {
		return name + ReservedSuffix
	}
	return name
}

// cut shortens name to MaxNameBytes at a UTF-8 boundary.
func (s *Store) cut(name string) string {
	if len(name) > s.cfg.MaxNameBytes {
		cut := s.cfg.MaxNameBytes
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return name
}

// intern returns the node of a sanitised name, never a reserved one. It
// needs s.mu.
func (s *Store) intern(name string, kind NodeKind) NodeID {
	if id, ok := s.byName[name]; ok {
		if s.kinds[id].Rank() < kind.Rank() && !(s.hasOverflow && id == s.overflowID) {
			s.kinds[id] = kind
			s.nodesDirty = true
			s.version++
		}
		return id
	}
	if len(s.names) >= s.cfg.MaxNodes-1 {
		s.overflow++
		return s.overflowNode()
	}
	return s.add(strings.Clone(name), kind)
}

func (s *Store) overflowNode() NodeID {
	if !s.hasOverflow {
		s.overflowID = s.add(OverflowNode, VirtualNode)
		s.hasOverflow = true
	}
	return s.overflowID
}

func (s *Store) add(name string, kind NodeKind) NodeID {
	id := NodeID(len(s.names))
	s.names = append(s.names, name)
	s.kinds = append(s.kinds, kind)
	s.links = append(s.links, [NumLinkResults]uint64{})
	s.byName[name] = id
	s.nodesDirty = true
	s.version++
	return id
}

// Observe applies a batch of edge observations and link tallies, stamped
// with the store's clock. It takes the store's lock once, and each edge's
// lock once while it applies the edge's observations, in batch order (the
// snapshot builder holds only that one, for one edge at a time): a lock
// per observation was a quarter of the cost.
func (s *Store) Observe(obs []Observation, links []LinkTally) {
	if len(obs) == 0 && len(links) == 0 {
		return
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	call := s.calls
	cfg := &s.cfg
	bucket := floorDiv(now, int64(cfg.BucketWidth))
	st := stamp{now: now, bucket: bucket, floor: bucket - int64(cfg.Retention/cfg.BucketWidth), call: call, cfg: cfg}
	// Chain each edge's observations: next[i] is the index of the edge's
	// observation after obs[i], -1 after its last.
	next := slices.Grow(s.next[:0], len(obs))[:len(obs)]
	groups := s.groups[:0]
	for i := range obs {
		o := &obs[i]
		next[i] = -1
		k := edgeKey{o.Client, o.Server, o.Kind}
		e := s.edge(k)
		if e == nil {
			if len(s.all) >= cfg.MaxEdges {
				s.dropped++
				continue
			}
			e = s.addEdge(k, now)
			s.applyFloor(e)
		}
		if e.head < 0 {
			e.head = int32(i)
			groups = append(groups, e)
		} else {
			next[e.tail] = int32(i)
		}
		e.tail = int32(i)
	}
	for _, e := range groups {
		e.mu.Lock()
		hb, hn := e.history.bytes(), e.history.n
		for i := e.head; i >= 0; i = next[i] {
			o := &obs[i]
			e.observe(o, &st)
			if s.dims != nil {
				s.countDims(e, o)
			}
		}
		if e.natReduced != 0 {
			s.natReduced.Add(uint64(e.natReduced))
			e.natReduced = 0
		}
		if d := e.history.bytes() - hb; d != 0 {
			s.histBytes.Add(d)
		}
		if d := e.history.n - hn; d != 0 {
			s.histBuckets.Add(int64(d))
		}
		e.mu.Unlock()
		e.head = -1
		s.markDirty(e)
	}
	clear(groups)
	s.next, s.groups = next[:0], groups[:0]
	if s.histBytes.Load() > s.cfg.MaxHistoryBytes {
		s.evictHistory()
	}
	for _, l := range links {
		if int(l.Service) < len(s.links) && l.Result < NumLinkResults {
			s.links[l.Service][l.Result] += l.N
			s.nodesDirty = true
		}
	}
	s.version++
}

// markDirty puts e on the list of edges the next snapshot copies. It needs
// s.mu.
func (s *Store) markDirty(e *edge) {
	if e.dirtyGen != s.dirtyGen {
		e.dirtyGen = s.dirtyGen
		s.dirty = append(s.dirty, e)
	}
}

// Stats are the store's own counters.
type Stats struct {
	Nodes, Edges    int
	NodesOverflowed uint64 // names folded into OverflowNode
	EdgesDropped    uint64 // observations refused at MaxEdges
	HistoryBuckets  int    // buckets held across all edges
	HistoryBytes    int64  // memory held by the history of all edges
	HistoryEvicted  uint64 // buckets dropped, oldest first, at MaxHistoryBytes
	// EdgesFolded counts saved edges that ReadState summed into another
	// edge because their nodes folded into OverflowNode.
	EdgesFolded uint64
	// FloorsDropped counts first-seen floors of unseen edges refused at
	// MaxEdges (FloorFirstSeen).
	FloorsDropped uint64
	// Dims are the dimension counters (DimStats; zero without dimensions).
	Dims DimStats
	// NativeReductions counts native histograms' halvings of resolution
	// at Config.NativeMaxBuckets.
	NativeReductions uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Nodes: len(s.names), Edges: len(s.all), NodesOverflowed: s.overflow, EdgesDropped: s.dropped,
		HistoryBuckets: int(s.histBuckets.Load()), HistoryBytes: s.histBytes.Load(), HistoryEvicted: s.histEvicted.Load(),
		EdgesFolded: s.edgesFolded, FloorsDropped: s.floorsDropped, Dims: s.DimStats(), NativeReductions: s.natReduced.Load()}
}

// evictHistory brings the history's memory to 15/16 of MaxHistoryBytes,
// or as close as it can, by dropping every edge's buckets older than one
// floor: the oldest history goes first, whatever its edge. It needs s.mu
// and walks every edge: the slack of 1/16 makes it rare.
func (s *Store) evictHistory() {
	need := s.histBytes.Load() - (s.cfg.MaxHistoryBytes - s.cfg.MaxHistoryBytes/16)
	newest := make(map[int64]int64)
	for _, e := range s.all {
		e.mu.Lock()
		e.history.countNewest(newest)
		e.mu.Unlock()
	}
	floor := evictFloor(newest, need)
	for _, e := range s.all {
		e.mu.Lock()
		n := s.trimHistory(e, floor, true)
		e.mu.Unlock()
		if n > 0 {
			s.markDirty(e)
		}
	}
}

// trimHistory drops e's buckets numbered below minIdx, keeping the
// accounts, and returns how many it dropped; with evict the drops are
// counted as evictions. It needs e.mu.
func (s *Store) trimHistory(e *edge, minIdx int64, evict bool) int {
	hb := e.history.bytes()
	n := e.history.trim(minIdx, evict)
	s.histBytes.Add(e.history.bytes() - hb)
	s.histBuckets.Add(-int64(n))
	if evict {
		s.histEvicted.Add(uint64(n))
	}
	return n
}

func (s *Store) bucketStart(unixNano int64) int64 {
	w := int64(s.cfg.BucketWidth)
	b := unixNano - unixNano%w
	if unixNano < 0 && unixNano%w != 0 {
		b -= w
	}
	return b
}

// Nodes returns the node names indexed by NodeID (for tests and diagnostics).
func (s *Store) Nodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.names)
}

// Name returns the name of id, or "" if unknown.
func (s *Store) Name(id NodeID) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(id) < len(s.names) {
		return s.names[id]
	}
	return ""
}

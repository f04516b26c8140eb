package pairing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/logging"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// UnknownService names the service of spans whose resource has no
// service.name, as the OpenTelemetry SDKs do.
const UnknownService = "unknown_service"

// MaxNodes is how many graph nodes pairing can tell apart: the span index
// packs a service's node id into 24 bits (meta). graph.Config.MaxNodes must
// not exceed it (the service checks --max-nodes at start); if it does,
// spans of a service whose id does not fit are refused and counted
// (Stats.SpansNodeOverflow) rather than attributed to the wrong node.
const MaxNodes = metaSvcMask + 1

// Processor turns spans into edge observations on a graph.Store.
type Processor struct {
	cfg    Config
	graph  *graph.Store
	now    func() time.Time
	logger *slog.Logger
	user   graph.NodeID
	hash   hasher // shared by the shards' indexes
	shards []*shard
	recent *recent
	pool   sync.Pool

	received   atomic.Uint64
	rejected   atomic.Uint64 // spans with an all-zero trace or span id
	duplicates atomic.Uint64
	sanitised  atomic.Uint64 // spans whose end was before their start
	// nodeOverflow counts spans refused because their service's node id
	// is past maxNodeID (MaxNodes-1; lowered only by tests).
	nodeOverflow atomic.Uint64
	maxNodeID    uint32
	// anon is UnknownService's node id + 1 once a span without a
	// service.name came (resolve), 0 before: batch.anonymous.
	anon        atomic.Uint32
	linksSeen   atomic.Uint64
	invalidLink atomic.Uint64
	filter      *spanFilter   // nil: no filter policies (filter.go)
	dims        *dimWalker    // nil: no dimensions (dims.go)
	filtered    atomic.Uint64 // spans the filter policies dropped

	runMu  sync.Mutex // guards cancel and done
	cancel context.CancelFunc
	done   chan struct{}
}

var _ consumer.Traces = (*Processor)(nil)

// New returns a Processor feeding g. cfg must be valid.
func New(cfg Config, set Settings, g *graph.Store) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pairing config: %w", err)
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	set.Logger = logging.OrDiscard(set.Logger)
	p := &Processor{cfg: cfg, graph: g, now: set.Now, logger: set.Logger, hash: newHasher(),
		recent: newRecent(cfg.RecentProblems), maxNodeID: MaxNodes - 1}
	p.user = g.User()
	for range cfg.Shards {
		p.shards = append(p.shards, newShard(cfg, newIndex(perShard(cfg.MaxIndexSpans, cfg.Shards), p.hash, cfg.Preallocate)))
	}
	naming, _ := cfg.naming() // valid: Validate made it
	p.filter, _ = newSpanFilter(cfg.FilterPolicies)
	p.enableDims(cfg)
	p.pool.New = func() any {
		return &batch{user: p.user, maxName: cfg.MaxNameBytes, rec: tracedecode.Records{Naming: naming}}
	}
	return p, nil
}

// shardOf picks the shard of a trace from its hash (hasher.trace).
func (p *Processor) shardOf(th uint64) int32 {
	return int32((th >> 32) * uint64(len(p.shards)) >> 32)
}

// ConsumeTraces pairs the spans of td with each other and with the spans
// received before, and records the edges they complete. It never blocks on
// a full table: the oldest waiting item is dropped and counted instead.
// Spans with an all-zero trace or span id are refused: the result is then a
// *consumer.PartialError and the other spans are accepted. A request with
// an attribute value nested past otlpwire.MaxValueDepth is refused whole,
// as ConsumeTracesProto refuses it, with a permanent error wrapping
// consumer.ErrTooDeep. Safe for concurrent use; td is not retained.
func (p *Processor) ConsumeTraces(_ context.Context, td ptrace.Traces) error {
	b := p.pool.Get().(*batch)
	defer func() { b.reset(); p.pool.Put(b) }()
	if err := tracedecode.FromTraces(td, &b.rec); err != nil {
		return err
	}
	if p.cfg.BrokerNodes {
		p.brokerTraces(td, b)
	}
	if p.filter != nil {
		p.filterTraces(td, b)
	}
	rejected := p.resolve(b)
	if p.dims != nil {
		p.dimsTraces(td, b)
	}
	return p.process(b, rejected)
}

// process pairs the decoded spans of b; rejected spans were refused.
func (p *Processor) process(b *batch, rejected int) error {
	now := p.now().UnixNano()
	if b.k.at != 0 { // a replayed Kafka record: its waits began when it was written (replay.go)
		now = b.k.at
	}
	b.anon = p.anon.Load()
	b.group(len(p.shards), func(s *span) int32 { s.th = p.hash.trace(&s.key.Trace); return p.shardOf(s.th) })
	b.todo = b.todo[:0]
	for si := range p.shards {
		if b.starts[si] < b.starts[si+1] {
			b.todo = append(b.todo, int32(si))
		}
	}
	dups := p.addAll(b, now) // fanout.go
	if dups > 0 {
		p.duplicates.Add(uint64(dups))
	}
	p.resolveLinks(now, b)
	p.observe(b) // the graph, or a Kafka record's Hold (replay.go)
	p.report(b, now)
	if rejected > 0 {
		return &consumer.PartialError{Rejected: int64(rejected),
			Reason: fmt.Sprintf("%d spans with an all-zero trace or span id", rejected)}
	}
	return nil
}

// lockEach runs fn(si) under shard si's lock for every shard in todo, one
// at a time: a request never holds two shard locks. (Taking free shards
// first with TryLock was measured: no gain on 2 cores, where the mutex
// profile shows no contention.)
func (p *Processor) lockEach(todo []int32, fn func(si int32)) {
	for _, si := range todo {
		sh := p.shards[si]
		sh.mu.Lock()
		fn(si)
		sh.mu.Unlock()
	}
}

// resolveLinks handles every link of the batch's new spans, one target
// shard at a time.
func (p *Processor) resolveLinks(now int64, b *batch) {
	for i := range b.spans {
		s := &b.spans[i]
		for j := s.linkLo; j < s.linkHi; j++ {
			l := &b.rec.Links[j]
			if !l.Valid() {
				b.tally(s.svc, graph.LinkInvalid)
				p.invalidLink.Add(1)
				b.problems = append(b.problems, problemRec{svc: s.svc, result: graph.LinkInvalid, cause: CauseInvalid,
					from: s.key, to: *l, name: b.nameOf(int32(i))})
				continue
			}
			th := p.hash.trace(&l.Trace)
			b.refs = append(b.refs, linkRef{span: int32(i), link: int32(j), shard: p.shardOf(th), th: th})
		}
	}
	if len(b.refs) == 0 {
		return
	}
	p.linksSeen.Add(uint64(len(b.refs)))
	// Group the links by target shard (a counting sort), then resolve each
	// group under its shard's lock.
	starts := append(b.linkStarts[:0], make([]int32, len(p.shards)+1)...)
	for _, r := range b.refs {
		starts[r.shard+1]++
	}
	b.todo = b.todo[:0]
	for si := range p.shards {
		if starts[si+1] > 0 {
			b.todo = append(b.todo, int32(si))
		}
		starts[si+1] += starts[si]
	}
	sorted := append(b.refsSorted[:0], b.refs...)
	next := append(b.linkNext[:0], starts[:len(p.shards)]...)
	for _, r := range b.refs {
		sorted[next[r.shard]] = r
		next[r.shard]++
	}
	b.linkStarts, b.refsSorted, b.linkNext = starts, sorted, next
	p.lockEach(b.todo, func(si int32) {
		for _, r := range sorted[starts[si]:starts[si+1]] {
			if b.routes(p.shards[si], &b.rec.Links[r.link], r.th) { // to the owner of the target (replay.go)
				b.k.routed = append(b.k.routed, r)
				continue
			}
			p.shards[si].link(&b.rec.Links[r.link], r.th, r.span, now, b)
		}
	})
}

// peerNode returns the node a CLIENT span names as its peer, for an edge of
// kind k (graph.Database or graph.Virtual).
func (p *Processor) peerNode(name string, k graph.Kind) graph.NodeID {
	nk := graph.VirtualNode
	if k == graph.Database {
		nk = graph.DatabaseNode
	}
	return p.graph.Node(name, nk)
}

// count adds a batch's span counts to the totals, once per batch.
func (p *Processor) count(received, rejected, sanitised int) {
	p.received.Add(uint64(received))
	if rejected > 0 {
		p.rejected.Add(uint64(rejected))
	}
	if sanitised > 0 {
		p.sanitised.Add(uint64(sanitised))
	}
}

// report turns the batch's problems into diagnostics.
func (p *Processor) report(b *batch, now int64) {
	for _, r := range b.problems {
		p.recent.add(Problem{
			Result: r.result.String(), Service: p.graph.Name(r.svc), SpanName: r.name,
			TraceID: hexID(r.from.Trace[:]), SpanID: hexID(r.from.Span[:]),
			LinkTraceID: hexID(r.to.Trace[:]), LinkSpanID: hexID(r.to.Span[:]),
			Time: time.Unix(0, now).UTC(), LikelyCause: r.cause,
		})
	}
}

// Expire ends the waits that are over at now: spans whose parent never came
// are counted expired, CLIENT spans without a server side become database
// or virtual_node edges, links without a target are counted unresolved.
// Start runs it every ExpiryInterval; tests and the offline CLI call it.
func (p *Processor) Expire(now time.Time) {
	n := now.UnixNano()
	p.expire(n-int64(p.cfg.PairWait), n-int64(p.cfg.LinkWait), n)
}

// Flush ends every wait now, as if the waits were over: for the offline
// CLI, whose input is complete, and at shutdown.
func (p *Processor) Flush() { p.expire(math.MaxInt64, math.MaxInt64, p.now().UnixNano()) }

func (p *Processor) expire(pairCutoff, linkCutoff, now int64) {
	b := p.pool.Get().(*batch)
	defer func() { b.reset(); p.pool.Put(b) }()
	b.todo = b.todo[:0]
	for si := range p.shards {
		b.todo = append(b.todo, int32(si))
	}
	b.fan.kind, b.fan.pairCutoff, b.fan.linkCutoff = fanExpire, pairCutoff, linkCutoff
	p.eachShard(b, true) // fanout.go
	p.graph.Observe(b.obs, b.tallies)
	p.report(b, now)
}

// Problems returns the most recent unresolved, invalid and dropped links,
// newest first.
func (p *Processor) Problems() []Problem { return p.recent.list() }

// Start runs expiry every ExpiryInterval until Shutdown.
func (p *Processor) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pairing: start: %w", err)
	}
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.cancel != nil {
		return errors.New("pairing: already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.cfg.ExpiryInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.Expire(p.now())
			}
		}
	}()
	p.logger.Info("pairing started", "pair_wait", p.cfg.PairWait, "link_wait", p.cfg.LinkWait,
		"max_index_spans", p.cfg.MaxIndexSpans, "preallocate", p.cfg.Preallocate, "max_pending_spans", p.cfg.MaxPendingSpans,
		"max_pending_links", p.cfg.MaxPendingLinks, "shards", p.cfg.Shards, "filter_policies", len(p.cfg.FilterPolicies),
		"broker_nodes", p.cfg.BrokerNodes)
	return nil
}

// Shutdown stops expiry. Waiting items stay (Flush ends them). Safe without
// Start and twice.
func (p *Processor) Shutdown(ctx context.Context) error {
	p.runMu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.runMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

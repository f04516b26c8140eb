package kafka

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Position says where a delivered record sits and whether it is replayed.
type Position struct {
	Partition int32
	Offset    int64
	// Committed is the group's committed offset of this partition when
	// it was assigned (-1: none; every record is then live).
	Committed int64
	// Replay is Offset < Committed: the record was handled by an earlier
	// owner. Pairing indexes it but counts a pair only if at least one of
	// its two records is live.
	Replay bool
	// Redo: a live record of the spans topic an earlier owner may have
	// handled too (at or after Committed, before the partition's end
	// when it was assigned here: that owner crashed or could not
	// commit). Pairing routes all its links, so that the watermark at
	// their targets' owners drops what the earlier owner routed.
	Redo      bool
	Timestamp time.Time
	// Since is when this member was assigned the partition (the
	// handover): pairing tells from it and Timestamp whether a replayed
	// span's wait was over at its earlier owner.
	Since time.Time
}

// Handler is the seam the pairing core implements. Spans and Link are
// called from one goroutine, in offset order within a partition; Assigned
// and Revoked never run during them (BlockRebalanceOnPoll).
type Handler interface {
	// Assigned is called before any record of the newly assigned
	// partitions (the same numbers on both topics, by the range balancer).
	Assigned(partitions []int32)
	// Revoked is called after the last record of partitions was handed
	// and their offsets committed (or, when lost, could not be).
	Revoked(partitions []int32)
	// Spans hands one record of the spans topic: an OTLP protobuf
	// ExportTraceServiceRequest, valid only during the call (its memory
	// is reused for later records). An error is counted and the record
	// skipped.
	Spans(ctx context.Context, value []byte, pos Position) error
	// Link hands one link record routed to this member, exactly once
	// (duplicates of a re-produced source record are dropped before).
	Link(ctx context.Context, l *Link, pos Position) error
}

// Committer is what a Handler implements to show what handling records
// counts only once their offsets are committed (cmd/servicegraph holds
// each record's edges and link results until then): a member killed
// before its commit has then shown nothing of what the partitions' next
// owner handles again, and link results stay exactly once.
type Committer interface {
	// Checkpoint is called as the offsets of a commit are taken, every
	// record handled so far among them: it returns a mark of what the
	// handler holds at that point.
	Checkpoint() uint64
	// Committed is called once the group has accepted that commit (or
	// when nothing was left to commit): what was held before mark may be
	// shown.
	Committed(mark uint64)
}

// Stats are the transport's counters.
type Stats struct {
	SpanRecords, LinkRecords, ReplayedRecords uint64
	RejectedRecords, MalformedLinks           uint64 // the handler's errors; undecodable link records
	DuplicateLinks                            uint64 // link records at or below their source watermark
	LinksProduced, ProduceErrors              uint64
	Commits, CommitErrors                     uint64
	// FetchErrors counts fetch errors, among them franz-go's "lost
	// records" (a partition's log was truncated under the consumer, as
	// after an unclean leader election: records may have been skipped).
	FetchErrors     uint64
	PartitionsOwned int
	// Lag is the records of owned partitions (both topics) not handed
	// yet, as of each partition's last fetch: the consumer lag to alert on.
	Lag int64
	// Replaying is how many owned partitions are still handing replayed
	// records (before their commit).
	Replaying int
}

// srcPos is a position in the spans topic: (offset, link index).
type srcPos struct {
	offset int64
	index  int32
}

func (a srcPos) after(b srcPos) bool {
	return a.offset > b.offset || a.offset == b.offset && a.index > b.index
}

type tp struct {
	topic     string
	partition int32
}

// part is this member's state of one assigned partition.
type part struct {
	committed int64     // the group's commit at assignment; -1 none
	next      int64     // offset to commit: max(committed, handled + 1); -1 nothing yet
	sent      int64     // last offset committed by this member
	lag       int64     // high watermark − pos, at the last fetch
	pos       int64     // offset of the next record to hand (replay starts below committed)
	end       int64     // spans partitions: the end when assigned (records before it may be an earlier owner's); -1 none
	since     time.Time // when it was assigned to this member
	// marks: links partitions only, the last source position seen per
	// source partition (the exactly-once watermark).
	marks map[int32]srcPos
	// seen: links partitions only, the positions seen per source
	// partition within seenWindow source offsets below its mark. A
	// record below the mark is a duplicate only if it was seen: a new
	// owner handling again the records an earlier owner of their
	// partition could not commit routes all their links (Position.Redo),
	// among them links the earlier owner resolved at home and never
	// routed, below positions it did route.
	seen map[int32]map[srcPos]struct{}
	lost bool // kept after OnPartitionsLost (not revoked)
}

// seenWindow is how far below a source partition's mark, in source
// offsets, link records are told apart exactly (older ones below the
// mark are taken as seen): more than one source partition's records in
// a commit interval (8,192 records; at 1,000 records/s a partition, 8 s).
const seenWindow = 1 << 13

// duplicate reports whether a link record from source position sp of
// source partition p was seen already, and records it otherwise.
func (st *part) duplicate(p int32, sp srcPos) bool {
	mark, ok := st.marks[p]
	set := st.seen[p]
	if set == nil {
		set = map[srcPos]struct{}{}
		st.seen[p] = set
	}
	if ok && !sp.after(mark) {
		if sp.offset < mark.offset-seenWindow {
			return true
		}
		if _, dup := set[sp]; dup {
			return true
		}
	} else {
		st.marks[p] = sp
		mark = sp
	}
	set[sp] = struct{}{}
	if len(set) > 1024 && len(set)&1023 == 0 {
		for k := range set {
			if k.offset < mark.offset-seenWindow {
				delete(set, k)
			}
		}
	}
	return false
}

// Consumer reads the spans and links topics as one member of the group
// and produces link records. Create it with New; Start joins the group.
type Consumer struct {
	cfg   Config
	set   Settings
	h     Handler
	p     Partitioner
	links string

	// cl is the client; set once, by Start or by the first group callback
	// (which may run before kgo.NewClient returns).
	cl atomic.Pointer[kgo.Client]

	mu    sync.Mutex // guards parts and kept
	parts map[tp]*part
	// kept holds the partitions revoked by an (eager) rebalance until the
	// next assignment: those assigned again continue where they were, with
	// their state, and no replay (nobody else owned them in between).
	kept map[tp]*part

	spanRecs, linkRecs, replayed, rejected, malformed, dups atomic.Uint64
	produced, produceErrs, commits, commitErrs, fetchErrs   atomic.Uint64

	// noCommit makes commits fail silently: tests simulate a crash with it
	// (a member that goes away without committing what it handled).
	noCommit atomic.Bool

	// nparts is the spans topic's partition count, found by Start.
	nparts atomic.Int32

	// promise is onProduced, bound once (not a closure per link record).
	promise func(*kgo.Record, error)

	// pool reuses fetched batches' memory; deliver recycles each record.
	pool fetchPool

	runMu  sync.Mutex // guards cancel, done
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Consumer handing records to h. cfg must be valid.
func New(cfg Config, set Settings, h Handler) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka config: %w", err)
	}
	if h == nil {
		return nil, errors.New("kafka: nil handler")
	}
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	p, _ := ParsePartitioner(cfg.Partitioner)
	c := &Consumer{cfg: cfg, set: set, h: h, p: p, links: cfg.links(), parts: map[tp]*part{},
		kept: map[tp]*part{}}
	c.promise = c.onProduced
	return c, nil
}

func (c *Consumer) baseOpts() []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(c.cfg.Brokers...), kgo.WithLogger(kgoLogger{c.set.Logger})}, c.set.ClientOpts...)
}

// groupOpts adds the member's client id.
func (c *Consumer) groupOpts(opts []kgo.Opt) []kgo.Opt {
	if c.set.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.set.ClientID))
	}
	return opts
}

// Start checks the topics (creating the links topic with the spans
// topic's partition count when it is missing; refusing unequal counts and
// records the partitioner does not place), joins the group and starts
// consuming. It returns once the checks are done.
func (c *Consumer) Start(ctx context.Context) error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.cancel != nil {
		return errors.New("kafka: already started")
	}
	vctx, cancel := context.WithTimeout(ctx, c.cfg.VerifyTimeout)
	defer cancel()
	if err := c.check(vctx); err != nil {
		return err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.WithLogger(kgoLogger{c.set.Logger}),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.Topic, c.links),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.AdjustFetchOffsetsFn(c.adjust),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, _ map[string][]int32) { c.cl.CompareAndSwap(nil, cl) }),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.RecordPartitioner(c.p.kgo()),
		kgo.DefaultProduceTopic(c.links),
		kgo.SessionTimeout(c.cfg.SessionTimeout),
		kgo.HeartbeatInterval(c.cfg.HeartbeatInterval),
		kgo.RebalanceTimeout(c.cfg.RebalanceTimeout),
		kgo.FetchMinBytes(c.cfg.FetchMinBytes),
		kgo.FetchMaxWait(c.cfg.FetchMaxWait),
		kgo.WithPools(&c.pool),
	}, c.set.ClientOpts...)
	cl, err := kgo.NewClient(c.groupOpts(opts)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	c.cl.CompareAndSwap(nil, cl)
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel, c.done = rcancel, make(chan struct{})
	go func() {
		defer close(c.done)
		c.run(rctx)
	}()
	c.set.Logger.Info("kafka consumer started", "brokers", c.cfg.Brokers, "topic", c.cfg.Topic, "links_topic", c.links,
		"group", c.cfg.Group, "partitioner", c.p, "replay", c.cfg.Replay, "commit_interval", c.cfg.CommitInterval,
		"fetch_min_bytes", c.cfg.FetchMinBytes, "fetch_max_wait", c.cfg.FetchMaxWait)
	return nil
}

// awaitTopic is PartitionCount of a topic just created, retried while the
// metadata does not show it yet (at most 10 s).
func (c *Consumer) awaitTopic(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		n, err := PartitionCount(ctx, adm, topic)
		if !errors.Is(err, ErrNoTopic) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic %q created by another member: %w", topic, err)
		case <-time.After(listRetryBackoff):
		}
	}
}

// check verifies the topics before joining.
func (c *Consumer) check(ctx context.Context) error {
	adm, cl, err := newAdmin(c.baseOpts())
	if err != nil {
		return err
	}
	defer cl.Close()
	n, err := PartitionCount(ctx, adm, c.cfg.Topic)
	if err != nil {
		return err
	}
	nl, err := PartitionCount(ctx, adm, c.links)
	if errors.Is(err, ErrNoTopic) {
		_, cerr := adm.CreateTopic(ctx, n, -1, nil, c.links)
		switch {
		case errors.Is(cerr, kerr.TopicAlreadyExists):
			// Another member starting at the same time created it:
			// check its count like any existing links topic, once the
			// brokers' metadata shows it.
			nl, err = c.awaitTopic(ctx, adm, c.links)
		case cerr != nil:
			return fmt.Errorf("create links topic %q: %w", c.links, cerr)
		default:
			c.set.Logger.Info("kafka links topic created", "topic", c.links, "partitions", n)
			nl, err = n, nil
		}
	}
	if err != nil {
		return err
	}
	if err := CheckPartitionCounts(c.cfg.Topic, n, c.links, nl); err != nil {
		return err
	}
	c.nparts.Store(n)
	if c.cfg.SamplePerPartition == 0 {
		return nil
	}
	// The links topic too: one written earlier with another partitioner
	// would send links to the wrong members.
	for _, t := range []string{c.cfg.Topic, c.links} {
		samples, err := SampleTopic(ctx, c.baseOpts(), t, n, c.cfg.SamplePerPartition, c.cfg.VerifyTimeout)
		if err != nil {
			return err
		}
		if err := VerifyPartitioning(t, n, c.p, samples); err != nil {
			return err
		}
		c.set.Logger.Info("kafka partitioning verified", "topic", t, "partitioner", c.p, "records", len(samples))
	}
	return nil
}

// listRetryBackoff is the pause between two tries to list the replay
// offsets of newly assigned partitions.
const listRetryBackoff = 250 * time.Millisecond

// adjust runs when partitions are assigned, after their commits are
// fetched: it starts each at min(commit, first offset at now − Replay)
// and remembers the commit, so records before it are flagged replayed.
func (c *Consumer) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	now := c.set.Now()
	since := now.Add(-c.cfg.Replay).UnixMilli()
	adm := kadm.NewClient(c.cl.Load())
	topics := make([]string, 0, len(offsets))
	for t := range offsets {
		topics = append(topics, t)
	}
	// Without the replay offsets the partitions would start at their
	// commits with nothing replayed: the pairs and the CLIENT spans
	// waiting across the commit would be lost. Retry until listed; when
	// the session is revoked meanwhile (ctx), give up this assignment:
	// kgo assigns again after the next rebalance.
	at, err := adm.ListOffsetsAfterMilli(ctx, since, topics...)
	for ; err != nil; at, err = adm.ListOffsetsAfterMilli(ctx, since, topics...) {
		c.set.Logger.Warn("kafka replay offsets not listed: retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list replay offsets: %w", ctx.Err())
		case <-time.After(listRetryBackoff):
		}
	}
	// The ends: the live records before them may have been handled by an
	// earlier owner that could not commit them (Position.Redo).
	ends, err := adm.ListEndOffsets(ctx, c.cfg.Topic)
	for ; err != nil; ends, err = adm.ListEndOffsets(ctx, c.cfg.Topic) {
		c.set.Logger.Warn("kafka end offsets not listed: retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list end offsets: %w", ctx.Err())
		case <-time.After(listRetryBackoff):
		}
	}
	out := make(map[string]map[int32]kgo.Offset, len(offsets))
	var assigned, gone []int32
	c.mu.Lock()
	for t, ps := range offsets {
		out[t] = make(map[int32]kgo.Offset, len(ps))
		for p, o := range ps {
			committed := o.EpochOffset().Offset // AtEnd (-1) when the group has no commit
			// handled: what was handled before this assignment (by this
			// member or committed by another); records before it are
			// handed as replayed.
			handled := committed
			// The group's commit is still this member's last one: nobody
			// else handled the partition since. (A commit of this member's
			// that reached the broker while its answer was lost cannot be
			// told from another owner's that covered the same records.)
			if st := c.kept[tp{t, p}]; st != nil && committed >= 0 && st.sent == committed {
				delete(c.kept, tp{t, p})
				if !st.lost {
					// Ours before this rebalance and committed by us: go
					// on where it was handled.
					c.parts[tp{t, p}] = st
					out[t][p] = o
					if st.pos != committed {
						out[t][p] = kgo.NewOffset().At(st.pos)
					}
					continue
				}
				// Lost here (its waits forgotten then, Loser) and back
				// with nobody's commit since: replayed like a new owner
				// would, what this member handled included (what it
				// counted of those is held until the next commit).
				handled = max(st.next, committed)
			}
			start := handled
			if lo, ok := at.Lookup(t, p); ok && lo.Err == nil && (handled < 0 || lo.Offset < handled) {
				start = lo.Offset
			}
			if start < 0 {
				out[t][p] = kgo.NewOffset().AtEnd()
			} else {
				out[t][p] = kgo.NewOffset().At(start)
			}
			st := &part{committed: max(handled, -1), next: max(handled, -1), sent: max(committed, -1), pos: start, since: now, end: -1}
			if t == c.links {
				st.marks, st.seen = map[int32]srcPos{}, map[int32]map[srcPos]struct{}{}
			} else {
				assigned = append(assigned, p)
				if e, ok := ends.Lookup(t, p); ok && e.Err == nil {
					st.end = e.Offset
				} else {
					st.end = math.MaxInt64 // not known: every live record may be
				}
			}
			c.parts[tp{t, p}] = st
		}
	}
	for k := range c.kept {
		if k.topic == c.cfg.Topic {
			gone = append(gone, k.partition)
		}
	}
	clear(c.kept)
	c.mu.Unlock()
	if len(gone) > 0 {
		slices.Sort(gone)
		c.h.Revoked(gone)
	}
	slices.Sort(assigned)
	if len(assigned) > 0 {
		c.h.Assigned(assigned)
	}
	return out, nil
}

// run polls, hands records over and commits, until ctx ends.
func (c *Consumer) run(ctx context.Context) {
	last := c.set.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, c.cfg.CommitInterval)
		fs := c.cl.Load().PollRecords(pctx, c.cfg.MaxPollRecords)
		cancel()
		if fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				c.fetchErrs.Add(1)
				c.set.Logger.Warn("kafka fetch", "topic", t, "partition", p, "err", err)
			}
		})
		// A polled record is handled whole even when stopping: a link it
		// routes with a canceled context would be lost once its offset is
		// committed.
		hctx := context.WithoutCancel(ctx)
		fs.EachPartition(func(f kgo.FetchTopicPartition) { c.deliver(hctx, f) })
		stop := ctx.Err() != nil
		if now := c.set.Now(); stop || now.Sub(last) >= c.cfg.CommitInterval {
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			c.commit(cctx, nil)
			ccancel()
			last = now
		}
		c.cl.Load().AllowRebalance()
		if stop {
			return
		}
	}
}

// deliver hands one fetched partition's records to the handler.
func (c *Consumer) deliver(ctx context.Context, f kgo.FetchTopicPartition) {
	if len(f.Records) == 0 {
		return
	}
	c.mu.Lock()
	st := c.parts[tp{f.Topic, f.Partition}]
	c.mu.Unlock()
	if st == nil {
		return // revoked meanwhile; cannot happen with BlockRebalanceOnPoll
	}
	var l Link
	last := f.Records[len(f.Records)-1].Offset
	for _, r := range f.Records {
		pos := Position{Partition: r.Partition, Offset: r.Offset, Committed: st.committed,
			Replay: r.Offset < st.committed, Timestamp: r.Timestamp, Since: st.since}
		pos.Redo = !pos.Replay && r.Offset < st.end
		if pos.Replay {
			c.replayed.Add(1)
		}
		if f.Topic == c.links {
			c.linkRecs.Add(1)
			if err := DecodeLink(r.Value, &l); err != nil {
				c.malformed.Add(1)
			} else if st.duplicate(l.SourcePartition, srcPos{l.SourceOffset, l.SourceIndex}) {
				c.dups.Add(1)
			} else {
				if err := c.h.Link(ctx, &l, pos); err != nil {
					c.rejected.Add(1)
				}
			}
		} else {
			c.spanRecs.Add(1)
			if err := c.h.Spans(ctx, r.Value, pos); err != nil {
				c.rejected.Add(1)
			}
		}
		c.mu.Lock()
		st.pos = r.Offset + 1
		st.next = max(st.next, st.pos)
		c.mu.Unlock()
		// Handled: its memory (value included) may serve another batch.
		r.Recycle()
	}
	c.mu.Lock()
	st.lag = max(f.HighWatermark-last-1, 0)
	c.mu.Unlock()
}

// commit flushes the link records produced so far (so no source offset
// is committed before the links it caused are written), then commits
// the handled offsets of the partitions in only (nil: all) that moved.
func (c *Consumer) commit(ctx context.Context, only map[string][]int32) {
	if err := c.cl.Load().Flush(ctx); err != nil {
		c.commitErrs.Add(1)
		c.set.Logger.Warn("kafka flush before commit", "err", err)
		return
	}
	if c.noCommit.Load() {
		return
	}
	todo := map[string]map[int32]kgo.EpochOffset{}
	// A commit of every owned partition covers every record handled
	// before it: the Committer's mark is taken with the offsets.
	cm, full := c.h.(Committer)
	var mark uint64
	c.mu.Lock()
	for k, st := range c.parts {
		if only != nil && !slices.Contains(only[k.topic], k.partition) {
			full = false
			continue
		}
		if st.next > st.sent {
			if todo[k.topic] == nil {
				todo[k.topic] = map[int32]kgo.EpochOffset{}
			}
			todo[k.topic][k.partition] = kgo.EpochOffset{Epoch: -1, Offset: st.next}
		}
	}
	for _, st := range c.kept {
		// Revoked or lost, not committed: what its records counted is
		// shown if it comes back, forgotten if it went elsewhere.
		full = full && st.next <= st.sent
	}
	if full {
		mark = cm.Checkpoint()
	}
	c.mu.Unlock()
	if len(todo) == 0 {
		if full {
			cm.Committed(mark)
		}
		return
	}
	var cerr error
	c.cl.Load().CommitOffsetsSync(ctx, todo, func(_ *kgo.Client, _ *kmsgReq, resp *kmsgResp, err error) {
		cerr = errors.Join(err, respErr(resp))
	})
	if cerr != nil {
		c.commitErrs.Add(1)
		c.set.Logger.Warn("kafka commit", "err", cerr)
		return
	}
	c.commits.Add(1)
	c.mu.Lock()
	for t, ps := range todo {
		for p, eo := range ps {
			if st := c.parts[tp{t, p}]; st != nil && eo.Offset > st.sent {
				st.sent = eo.Offset
			}
		}
	}
	c.mu.Unlock()
	if full {
		cm.Committed(mark)
	}
}

// revoked commits the revoked partitions and keeps their state until the
// next assignment (the range balancer is eager: every rebalance revokes
// everything, and most partitions come back).
func (c *Consumer) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c.commit(cctx, m)
	cancel()
	c.mu.Lock()
	for t, ps := range m {
		for _, p := range ps {
			if st := c.parts[tp{t, p}]; st != nil {
				delete(c.parts, tp{t, p})
				c.kept[tp{t, p}] = st
			}
		}
	}
	c.mu.Unlock()
}

// lost keeps the partitions' state as revoked does, without a commit
// (the group no longer knows this member: a session timeout, or a
// coordinator that forgot its members), and tells the handler at once
// (Loser), which stops their waits. adjust decides at the next
// assignment: a partition that comes back here with the group's commit
// still this member's last one is replayed from before its commit, the
// records this member handled after it as replayed too (its counts of
// them, held, are shown by its next commit); one that went elsewhere is
// forgotten then (Handler.Revoked), what it counted and holds with it,
// so that its new owner, handling those records again, counts them.
func (c *Consumer) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	var spans []int32
	c.mu.Lock()
	for t, ps := range m {
		for _, p := range ps {
			if st := c.parts[tp{t, p}]; st != nil {
				delete(c.parts, tp{t, p})
				st.lost = true
				c.kept[tp{t, p}] = st
				if t == c.cfg.Topic {
					spans = append(spans, p)
				}
			}
		}
	}
	c.mu.Unlock()
	if l, ok := c.h.(Loser); ok && len(spans) > 0 {
		slices.Sort(spans)
		l.Lost(spans)
	}
}

// Loser is what a Handler implements to hear of partitions lost (the
// group no longer knows this member: a session timeout, a coordinator
// that forgot it) as soon as they are: it must stop their waits at once
// (an instance out of the group for longer than the pair or link wait
// would otherwise count them there while their new owner replays and
// counts them), without forgetting what it counted and holds (Committer):
// if they come back with nobody's commit since, they are replayed, what
// this member handled as replayed, and its next commit shows what it
// held; if they went elsewhere, Revoked follows.
type Loser interface {
	Lost(partitions []int32)
}

// Route produces l to the links topic, keyed by its target's trace id and
// placed by the configured partitioner, so that the owner of the target's
// trace reads it. It returns once the record is buffered; the next
// commit waits for it to be written. Safe for concurrent use after Start.
func (c *Consumer) Route(ctx context.Context, l *Link) error {
	cl := c.cl.Load()
	if cl == nil {
		return errors.New("route link: not started")
	}
	// One allocation for the record, its key and its value (a typical
	// value is ~112 B; AppendBinary grows the buffer for a longer one).
	r := &linkRec{}
	b := r.buf[:0]
	b = l.AppendKey(b)
	b, err := l.AppendBinary(b)
	if err != nil {
		c.produceErrs.Add(1)
		return fmt.Errorf("route link: %w", err)
	}
	r.rec = kgo.Record{Topic: c.links, Key: b[:keyLen:keyLen], Value: b[keyLen:]}
	cl.Produce(ctx, &r.rec, c.promise)
	return nil
}

// keyLen is a link record's key length: the hex target trace id.
const keyLen = 32

// linkRec is a routed link record with room for its key and value.
type linkRec struct {
	rec kgo.Record
	buf [keyLen + 160]byte
}

// onProduced counts a link record written, or its error.
func (c *Consumer) onProduced(_ *kgo.Record, err error) {
	if err != nil {
		c.produceErrs.Add(1)
		c.set.Logger.Warn("kafka produce link", "err", err)
		return
	}
	c.produced.Add(1)
}

// Router is what the pairing core calls to send a link to the owner of
// its target's trace.
type Router interface {
	Route(ctx context.Context, l *Link) error
}

var _ Router = (*Consumer)(nil)

// Owned returns the spans-topic partitions this member owns, sorted.
func (c *Consumer) Owned() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []int32
	for k := range c.parts {
		if k.topic == c.cfg.Topic {
			ps = append(ps, k.partition)
		}
	}
	slices.Sort(ps)
	return ps
}

// Stats returns the counters.
func (c *Consumer) Stats() Stats {
	var lag int64
	replaying := 0
	c.mu.Lock()
	for _, st := range c.parts {
		lag += st.lag
		if st.pos < st.committed {
			replaying++
		}
	}
	c.mu.Unlock()
	return Stats{Lag: lag, Replaying: replaying, SpanRecords: c.spanRecs.Load(), LinkRecords: c.linkRecs.Load(), ReplayedRecords: c.replayed.Load(),
		RejectedRecords: c.rejected.Load(), MalformedLinks: c.malformed.Load(), DuplicateLinks: c.dups.Load(),
		LinksProduced: c.produced.Load(), ProduceErrors: c.produceErrs.Load(), Commits: c.commits.Load(),
		CommitErrors: c.commitErrs.Load(), FetchErrors: c.fetchErrs.Load(), PartitionsOwned: len(c.Owned())}
}

// Shutdown stops consuming, commits what was handled, leaves the group
// (its partitions go to the other members at once) and closes the
// client. Safe without Start and when called twice; honours ctx.
func (c *Consumer) Shutdown(ctx context.Context) error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("kafka shutdown: %w", ctx.Err())
	}
	closed := make(chan struct{})
	go func() { c.cl.Load().Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		return fmt.Errorf("kafka shutdown: %w", ctx.Err())
	}
	c.cancel = nil
	c.cl.Store(nil)
	c.lost(ctx, nil, nil) // what the leave revoked is gone
	c.set.Logger.Info("kafka consumer stopped")
	return nil
}

// Partitions returns the spans topic's partition count (0 before Start).
func (c *Consumer) Partitions() int32 { return c.nparts.Load() }

// PartitionOf returns the partition of the spans and links topics that
// holds trace (keyed by its lowercase hex id, as the exporter keys it),
// or -1 before Start.
func (c *Consumer) PartitionOf(trace *[16]byte) int32 {
	n := c.nparts.Load()
	if n == 0 {
		return -1
	}
	var k [32]byte
	hex.Encode(k[:], trace[:])
	return c.p.Partition(k[:], n)
}

// ClientOpts returns the franz-go options every client of this cluster
// needs (seed brokers, then Settings.ClientOpts: TLS, SASL), for other
// clients of the same cluster (the global first-seen topic).
func (c *Consumer) ClientOpts() []kgo.Opt { return slices.Clone(c.baseOpts()) }

// Member is one member of the consumer group.
type Member struct {
	MemberID string
	// ClientID is what the member set as Settings.ClientID: the service
	// sets its advertised API address there (serve --kafka-advertise), so
	// that the members' APIs can be found from the group.
	ClientID   string
	ClientHost string
	// Partitions are the spans-topic partitions assigned to it, sorted.
	Partitions []int32
}

// Members describes the group's current members, sorted by ClientID.
func (c *Consumer) Members(ctx context.Context) ([]Member, error) {
	adm, cl, err := newAdmin(c.baseOpts())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	groups, err := adm.DescribeGroups(ctx, c.cfg.Group)
	if err != nil {
		return nil, fmt.Errorf("describe group %q: %w", c.cfg.Group, err)
	}
	g, ok := groups[c.cfg.Group]
	if !ok {
		return nil, fmt.Errorf("describe group %q: not found", c.cfg.Group)
	}
	if g.Err != nil {
		return nil, fmt.Errorf("describe group %q: %w", c.cfg.Group, g.Err)
	}
	out := make([]Member, 0, len(g.Members))
	for _, m := range g.Members {
		mm := Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				if t.Topic == c.cfg.Topic {
					mm.Partitions = slices.Sorted(slices.Values(t.Partitions))
				}
			}
		}
		out = append(out, mm)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

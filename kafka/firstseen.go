package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/logging"
)

// Global first-seen (issue 14). Each instance publishes the earliest
// first-seen time it knows of each of its edges to a compacted topic
// (FirstSeenConfig.Topic, servicegraph_edges by default), keyed by the
// edge, and reads the whole topic, lowering its own edges' first-seen to
// the earliest time read (graph.Store.FloorFirstSeen; an edge not seen
// yet keeps it as its floor). An instance that takes over an old edge
// (after a handover, or a restart with an empty data directory) so
// exports the edge's cluster-wide first-seen, min(local, global), and a
// new-edge alert does not fire for it.
//
// Compaction keeps the last record of a key, not the smallest: two
// instances may publish at once and the later, larger time win. Every
// instance therefore republishes the earliest time it knows whenever the
// topic's latest record of a key is later, so the topic converges to the
// minimum (TestFirstSeenConverges).
//
// Record: key = 0x01 (format), uvarint length + client, uvarint length +
// server, kind byte; value = 0x01, big-endian Unix ns. Records of another
// format are skipped and counted (malformed).

// FirstSeenConfig configures the global first-seen topic.
type FirstSeenConfig struct {
	// Topic is the compacted topic; created (1 partition,
	// cleanup.policy=compact) if missing.
	Topic string `yaml:"topic"`
	// Interval is how often the local edges are compared with the topic
	// and the earlier times published.
	Interval time.Duration `yaml:"interval"`
	// CatchUp bounds how long Start reads the topic to its end before it
	// returns (the first-seen times of the cluster's edges are then known
	// before this instance counts anything).
	CatchUp time.Duration `yaml:"catch_up"`
	// MaxEdges bounds the edges remembered from the topic; past it new
	// keys are skipped and counted. The service sets graph.max_edges.
	MaxEdges int `yaml:"-"`
}

// NewDefaultFirstSeenConfig returns the defaults: servicegraph_edges,
// every 10 s, 30 s to catch up, 100,000 edges.
func NewDefaultFirstSeenConfig() FirstSeenConfig {
	return FirstSeenConfig{Topic: "servicegraph_edges", Interval: 10 * time.Second, CatchUp: 30 * time.Second, MaxEdges: 100000}
}

// Validate reports every problem at once, each message starting with its
// YAML key.
func (c FirstSeenConfig) Validate() error {
	var errs []error
	if c.Topic == "" {
		errs = append(errs, errors.New("topic: empty"))
	}
	if c.Interval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("interval: %s is below 100ms", c.Interval))
	}
	if c.CatchUp <= 0 {
		errs = append(errs, fmt.Errorf("catch_up: %s must be positive", c.CatchUp))
	}
	if c.MaxEdges < 1 {
		errs = append(errs, fmt.Errorf("max edges: %d must be positive", c.MaxEdges))
	}
	return errors.Join(errs...)
}

// FirstSeenGraph is what FirstSeen reads and lowers; *graph.Store is one.
type FirstSeenGraph interface {
	Snapshot() *graph.Snapshot
	FloorFirstSeen(client, server string, kind graph.Kind, t time.Time) bool
}

var _ FirstSeenGraph = (*graph.Store)(nil)

// FirstSeenSettings are what the code supplies.
type FirstSeenSettings struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: a private registry
	// ClientOpts are the cluster's franz-go options (Consumer.ClientOpts:
	// seed brokers, TLS, SASL); empty: kgo.SeedBrokers(Brokers...).
	ClientOpts []kgo.Opt
	Brokers    []string
}

// FirstSeenStats are FirstSeen's counters.
type FirstSeenStats struct {
	Read      uint64 // records read
	Malformed uint64 // records of another format, skipped
	Published uint64 // records written
	Lowered   uint64 // local edges whose first-seen a record lowered
	Skipped   uint64 // keys past MaxEdges, not remembered
}

// FirstSeen shares first-seen times through the topic. Start, then
// Shutdown; Stats is safe for concurrent use.
type FirstSeen struct {
	cfg FirstSeenConfig
	set FirstSeenSettings
	g   FirstSeenGraph
	log *slog.Logger

	mu sync.Mutex // guards the fields below
	// earliest is the smallest time read or published per edge; latest
	// the value of the topic's latest record of the edge (what compaction
	// keeps), as far as this instance knows.
	earliest map[edgeKey]int64
	latest   map[edgeKey]int64
	stats    FirstSeenStats

	cl     *kgo.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   bool
}

// firstSeenOps are the op label's values, with their counters.
var firstSeenOps = []struct {
	op string
	of func(FirstSeenStats) uint64
}{
	{"read", func(s FirstSeenStats) uint64 { return s.Read }},
	{"malformed", func(s FirstSeenStats) uint64 { return s.Malformed }},
	{"published", func(s FirstSeenStats) uint64 { return s.Published }},
	{"lowered", func(s FirstSeenStats) uint64 { return s.Lowered }},
	{"skipped", func(s FirstSeenStats) uint64 { return s.Skipped }},
}

var firstSeenDesc = prometheus.NewDesc("servicegraph_kafka_first_seen_records_total",
	"Records of the global first-seen topic, by op: read, malformed (skipped), published, lowered (lowered a local edge's first-seen), skipped (past max edges).",
	[]string{"op"}, nil)

// firstSeenCollector exports FirstSeen.Stats at scrape time.
type firstSeenCollector struct{ f *FirstSeen }

func (c firstSeenCollector) Describe(ch chan<- *prometheus.Desc) { ch <- firstSeenDesc }

func (c firstSeenCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.f.Stats()
	for _, o := range firstSeenOps {
		ch <- prometheus.MustNewConstMetric(firstSeenDesc, prometheus.CounterValue, float64(o.of(st)), o.op)
	}
}

// edgeKey is an edge by names.
type edgeKey struct {
	client, server string
	kind           graph.Kind
}

// NewFirstSeen validates cfg and registers the metrics.
func NewFirstSeen(cfg FirstSeenConfig, set FirstSeenSettings, g FirstSeenGraph) (*FirstSeen, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("first-seen config: %w", err)
	}
	if set.Registerer == nil {
		set.Registerer = prometheus.NewRegistry()
	}
	if len(set.ClientOpts) == 0 {
		if len(set.Brokers) == 0 {
			return nil, errors.New("first-seen: no brokers")
		}
		set.ClientOpts = []kgo.Opt{kgo.SeedBrokers(set.Brokers...)}
	}
	f := &FirstSeen{cfg: cfg, set: set, g: g, log: logging.OrDiscard(set.Logger),
		earliest: map[edgeKey]int64{}, latest: map[edgeKey]int64{}}
	if err := set.Registerer.Register(firstSeenCollector{f}); err != nil {
		return nil, fmt.Errorf("first-seen metrics: %w", err)
	}
	return f, nil
}

// Start creates the topic if missing, reads it to its end (at most
// CatchUp), publishes this instance's earlier times, and goes on reading
// and publishing every Interval in the background.
func (f *FirstSeen) Start(ctx context.Context) error {
	opts := append(append([]kgo.Opt(nil), f.set.ClientOpts...),
		kgo.ConsumeTopics(f.cfg.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DefaultProduceTopic(f.cfg.Topic), kgo.AllowAutoTopicCreation())
	adm, acl, err := newAdmin(f.set.ClientOpts)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, f.cfg.CatchUp)
	defer cancel()
	res, err := adm.CreateTopic(cctx, 1, -1, map[string]*string{"cleanup.policy": ptr("compact")}, f.cfg.Topic)
	if err == nil {
		err = res.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		acl.Close()
		return fmt.Errorf("create first-seen topic %q: %w", f.cfg.Topic, err)
	}
	ends, err := adm.ListEndOffsets(cctx, f.cfg.Topic)
	acl.Close()
	if err != nil {
		return fmt.Errorf("first-seen topic %q end offsets: %w", f.cfg.Topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	// Catch up: read until every partition reached its end offset at
	// start. Past CatchUp (a slow broker, or compaction that removed the
	// last offsets) the rest is read in the background.
	for len(want) > 0 {
		fs := cl.PollFetches(cctx)
		if cctx.Err() != nil {
			f.log.Warn("first-seen topic not read to its end at start; the rest is read in the background",
				"topic", f.cfg.Topic, "catch_up", f.cfg.CatchUp)
			break
		}
		f.apply(fs)
		fs.EachRecord(func(r *kgo.Record) {
			if e, ok := want[r.Partition]; ok && r.Offset+1 >= e {
				delete(want, r.Partition)
			}
		})
	}
	pctx, pcancel := context.WithTimeout(ctx, f.cfg.CatchUp)
	defer pcancel()
	if err := f.publish(pctx, cl); err != nil {
		cl.Close()
		return err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	f.mu.Lock()
	f.cl, f.cancel = cl, stop
	f.mu.Unlock()
	f.wg.Go(func() { f.read(bg, cl) })
	f.wg.Go(func() { f.tick(bg, cl) })
	f.log.Info("global first-seen started", "topic", f.cfg.Topic, "edges", f.Stats().Read)
	return nil
}

func ptr[T any](v T) *T { return &v }

// read applies the topic's records as they come.
func (f *FirstSeen) read(ctx context.Context, cl *kgo.Client) {
	for ctx.Err() == nil {
		f.apply(cl.PollFetches(ctx))
	}
}

// tick publishes every Interval.
func (f *FirstSeen) tick(ctx context.Context, cl *kgo.Client) {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.publish(ctx, cl); err != nil && ctx.Err() == nil {
				f.log.Warn("publishing first-seen times failed; retrying at the next interval", "err", err)
			}
		}
	}
}

// apply takes in the records of fs.
func (f *FirstSeen) apply(fs kgo.Fetches) {
	type floor struct {
		k  edgeKey
		ns int64
	}
	var floors []floor
	f.mu.Lock()
	fs.EachRecord(func(r *kgo.Record) {
		f.stats.Read++
		k, ns, ok := decodeFirstSeen(r.Key, r.Value)
		if !ok {
			f.stats.Malformed++
			return
		}
		have, known := f.earliest[k]
		if !known && len(f.earliest) >= f.cfg.MaxEdges {
			f.stats.Skipped++
			return
		}
		f.latest[k] = ns
		if !known || ns < have {
			f.earliest[k] = ns
			floors = append(floors, floor{k, ns})
		}
	})
	f.mu.Unlock()
	// The graph is told after the lock: it takes its own.
	var lowered uint64
	for _, fl := range floors {
		if f.g.FloorFirstSeen(fl.k.client, fl.k.server, fl.k.kind, time.Unix(0, fl.ns)) {
			lowered++
		}
	}
	f.mu.Lock()
	f.stats.Lowered += lowered
	f.mu.Unlock()
}

// publish writes, for every local edge, the earliest time known when the
// topic's latest record of it is later or missing.
func (f *FirstSeen) publish(ctx context.Context, cl *kgo.Client) error {
	snap := f.g.Snapshot()
	var recs []*kgo.Record
	f.mu.Lock()
	for i := range snap.Edges {
		e := snap.Edges[i].EdgeData
		if e.FirstSeen.IsZero() {
			continue
		}
		k := edgeKey{e.Client, e.Server, e.Kind}
		ns := e.FirstSeen.UnixNano()
		have, known := f.earliest[k]
		if !known && len(f.earliest) >= f.cfg.MaxEdges {
			f.stats.Skipped++
			continue
		}
		if known {
			ns = min(ns, have)
		}
		if last, ok := f.latest[k]; ok && last <= ns {
			continue
		}
		f.earliest[k], f.latest[k] = ns, ns
		recs = append(recs, &kgo.Record{Key: firstSeenKey(k), Value: firstSeenValue(ns)})
	}
	f.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		// Forget what was not written, so that the next round tries again.
		f.mu.Lock()
		for _, r := range recs {
			if k, _, ok := decodeFirstSeen(r.Key, r.Value); ok {
				delete(f.latest, k)
			}
		}
		f.mu.Unlock()
		return fmt.Errorf("publish %d first-seen times: %w", len(recs), err)
	}
	f.mu.Lock()
	f.stats.Published += uint64(len(recs))
	f.mu.Unlock()
	return nil
}

// Shutdown publishes once more, stops and closes the client. Safe
// without Start, twice, and on a nil *FirstSeen (not configured).
func (f *FirstSeen) Shutdown(ctx context.Context) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	cl, cancel, done := f.cl, f.cancel, f.done
	f.done = true
	f.mu.Unlock()
	if cl == nil || done {
		return nil
	}
	err := f.publish(ctx, cl)
	cancel()
	f.wg.Wait()
	cl.Close()
	return err
}

// Stats returns the counters.
func (f *FirstSeen) Stats() FirstSeenStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

const firstSeenFormat = 1

func firstSeenKey(k edgeKey) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(k.client)+len(k.server)+1)
	b = append(b, firstSeenFormat)
	b = binary.AppendUvarint(b, uint64(len(k.client)))
	b = append(b, k.client...)
	b = binary.AppendUvarint(b, uint64(len(k.server)))
	b = append(b, k.server...)
	return append(b, byte(k.kind))
}

func firstSeenValue(ns int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{firstSeenFormat}, uint64(ns))
}

// decodeFirstSeen reads a record; ok is false for one of another format.
func decodeFirstSeen(key, value []byte) (k edgeKey, ns int64, ok bool) {
	if len(key) < 1 || key[0] != firstSeenFormat || len(value) != 9 || value[0] != firstSeenFormat {
		return k, 0, false
	}
	rest := key[1:]
	str := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	c, ok1 := str()
	s, ok2 := str()
	if !ok1 || !ok2 || len(rest) != 1 || int(rest[0]) >= len(graph.Kinds) {
		return k, 0, false
	}
	return edgeKey{c, s, graph.Kind(rest[0])}, int64(binary.BigEndian.Uint64(value[1:])), true
}

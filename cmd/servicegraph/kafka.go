package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/kafka"
	"github.com/servicegraph/servicegraph/pairing"
)

// kafkaIngest joins pairing to the Kafka transport (serve --kafka-*): it
// is the kafka.Handler, routes the links pairing hands it through the
// Consumer, and exports the transport's self-metrics.
type kafkaIngest struct {
	proc   *pairing.Processor
	c      *kafka.Consumer
	logger *slog.Logger
	now    func() time.Time

	replayNanos   atomic.Int64  // time spent handling replayed records
	routeErrors   atomic.Uint64 // links Route refused (counted apart from produce errors)
	linksForgot   atomic.Uint64 // waiting links left to their partition's new owner
	clientsForgot atomic.Uint64 // waiting CLIENT spans left to their partition's new owner
	spansRefused  atomic.Uint64 // records pairing refused (malformed)

	// linkDelay: from a live link record's write to its handling here
	// (servicegraph_kafka_link_resolution_seconds).
	linkDelay prometheus.Histogram

	// What handling records counted, held until their offsets are
	// committed (kafka.Committer): cur is the record being handled (set
	// by Spans and Link, which run on one goroutine), hold the
	// pairing.Hold that files its counts under it.
	cur  heldFrom
	hold pairing.Hold
	held held
}

var (
	_ kafka.Handler   = (*kafkaIngest)(nil)
	_ kafka.Committer = (*kafkaIngest)(nil)
	_ kafka.Loser     = (*kafkaIngest)(nil)
)

// startKafka creates the consumer, verifies the topics (refusing to run on
// unequal partition counts or records the partitioner does not place),
// registers the self-metrics and joins the group.
func startKafka(ctx context.Context, cfg kafka.Config, clientID string, proc *pairing.Processor, logger *slog.Logger,
	reg prometheus.Registerer) (*kafkaIngest, error) {
	k := &kafkaIngest{proc: proc, logger: logger, now: time.Now, linkDelay: newLinkDelay()}
	k.hold = func(obs []graph.Observation, tallies []graph.LinkTally) { k.held.add(k.cur, obs, tallies) }
	c, err := kafka.New(cfg, kafka.Settings{Logger: logger, ClientID: clientID}, k)
	if err != nil {
		return nil, err
	}
	k.c = c
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := reg.Register(k); err != nil {
		return nil, errors.Join(fmt.Errorf("kafka metrics: %w", err), c.Shutdown(context.Background()))
	}
	return k, nil
}

// Spans hands a spans-topic record to pairing; the links it routes go to
// the links topic with the record's position (exactly-once watermark).
func (k *kafkaIngest) Spans(ctx context.Context, value []byte, pos kafka.Position) error {
	if pos.Replay {
		defer k.timeReplay(k.now())
	}
	var l kafka.Link
	k.cur = heldFrom{partition: pos.Partition}
	rec := pairing.Record{Replay: pos.Replay, Time: pos.Timestamp, Handover: pos.Since, Hold: k.hold, RouteAll: pos.Redo}
	err := k.proc.ConsumeRecord(ctx, value, rec, func(rl *pairing.RoutedLink) {
		l = kafka.Link{TargetTrace: rl.Target.Trace, TargetSpan: rl.Target.Span, FromTrace: rl.From.Trace, FromSpan: rl.From.Span,
			Service: rl.Service, SpanName: rl.SpanName, Kind: rl.Kind, Failed: rl.Failed, Start: rl.Start,
			SourcePartition: pos.Partition, SourceOffset: pos.Offset, SourceIndex: rl.Index}
		if err := k.c.Route(ctx, &l); err != nil {
			k.routeErrors.Add(1)
			k.logger.Warn("kafka route link", "err", err)
		}
	})
	if _, partial := errors.AsType[*consumer.PartialError](err); err != nil && !partial {
		k.spansRefused.Add(1)
		return fmt.Errorf("spans record: %w", err)
	}
	return nil
}

// Link resolves a link routed to this member.
func (k *kafkaIngest) Link(_ context.Context, l *kafka.Link, pos kafka.Position) error {
	if pos.Replay {
		defer k.timeReplay(k.now())
	}
	rl := pairing.RoutedLink{Service: l.Service, SpanName: l.SpanName, Kind: l.Kind, Failed: l.Failed, Start: l.Start,
		Index: l.SourceIndex}
	rl.Target.Trace, rl.Target.Span = l.TargetTrace, l.TargetSpan
	rl.From.Trace, rl.From.Span = l.FromTrace, l.FromSpan
	k.cur = heldFrom{partition: pos.Partition, links: true}
	k.proc.ResolveLinkRecord(&rl, pairing.Record{Replay: pos.Replay, Hold: k.hold})
	if !pos.Replay {
		k.linkDelay.Observe(max(k.now().Sub(pos.Timestamp).Seconds(), 0))
	}
	return nil
}

// newLinkDelay is the histogram of the time a routed link takes to reach
// the owner of its target, which resolves it against its index (or, the
// target not there yet, makes it wait as a local link waits).
func newLinkDelay() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "servicegraph_kafka_link_resolution_seconds",
		Help: "Time from a link record's write (its Kafka timestamp) until the owner of its target resolved it " +
			"against its index, or made it wait for its target; replayed records not included.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}})
}

func (k *kafkaIngest) timeReplay(start time.Time) { k.replayNanos.Add(int64(k.now().Sub(start))) }

// Assigned logs the partitions this member now owns (the transport
// replays them before their committed offsets).
func (k *kafkaIngest) Assigned(ps []int32) {
	k.logger.Info("kafka partitions assigned", "partitions", ps)
}

// Revoked forgets the links and CLIENT spans waiting in traces of the
// partitions that went elsewhere: their new owner replays them and counts
// them.
func (k *kafkaIngest) Revoked(ps []int32) {
	links, clients := k.forget(ps)
	// What their records counted here and no commit covers, their new
	// owner handles again and counts.
	k.held.drop(func(f heldFrom) bool { return slices.Contains(ps, f.partition) })
	k.logger.Info("kafka partitions revoked", "partitions", ps, "waiting_links_forgotten", links, "waiting_clients_forgotten", clients)
}

// Lost forgets what waits in the partitions lost, as Revoked does, but
// keeps what their records counted until the next assignment (kafka.Loser).
func (k *kafkaIngest) Lost(ps []int32) {
	links, clients := k.forget(ps)
	k.logger.Warn("kafka partitions lost", "partitions", ps, "waiting_links_forgotten", links, "waiting_clients_forgotten", clients)
}

// forget forgets the links and CLIENT spans waiting in the partitions ps
// and marks their spans replayed.
func (k *kafkaIngest) forget(ps []int32) (links, clients int) {
	keep := func(trace *[16]byte) bool { return !slices.Contains(ps, k.c.PartitionOf(trace)) }
	links, clients = k.proc.ForgetLinks(keep), k.proc.ForgetClients(keep)
	// If a partition comes back (A, B, A), what B counted is replayed
	// here: what this member handled live of it must count as replayed.
	k.proc.MarkReplayed(keep)
	k.linksForgot.Add(uint64(links))
	k.clientsForgot.Add(uint64(clients))
	return links, clients
}

// shutdown leaves the group (committing what was handled; the other
// members replay and take over) and forgets every waiting link and CLIENT
// span, which the new owners count: the Flush after it must not count
// them too.
func (k *kafkaIngest) shutdown(ctx context.Context) error {
	if k == nil {
		return nil
	}
	err := k.c.Shutdown(ctx)
	k.held.drop(nil) // not committed: the new owners count it
	k.linksForgot.Add(uint64(k.proc.ForgetLinks(nil)))
	k.clientsForgot.Add(uint64(k.proc.ForgetClients(nil)))
	return err
}

var (
	descOwned = prometheus.NewDesc("servicegraph_kafka_partitions_owned",
		"Partitions of the spans topic (and the same of the links topic) this instance owns.", nil, nil)
	descRecords = prometheus.NewDesc("servicegraph_kafka_records_total",
		"Records handled, by topic (spans, links), replayed ones included.", []string{"topic"}, nil)
	descReplayed = prometheus.NewDesc("servicegraph_kafka_replayed_records_total",
		"Records of both topics handled in replay (before the committed offset at assignment: indexed only).", nil, nil)
	descLinkRecords = prometheus.NewDesc("servicegraph_kafka_link_records_total",
		"Link records by outcome: produced (routed to the owner of their target), consumed (resolved here), "+
			"duplicate (dropped: at or below their source's watermark), malformed, produce_error.",
		[]string{"outcome"}, nil)
	descReplaySeconds = prometheus.NewDesc("servicegraph_kafka_replay_seconds_total",
		"Time spent handling replayed records after assignments.", nil, nil)
	descLag = prometheus.NewDesc("servicegraph_kafka_consumer_lag_records",
		"Records of the owned partitions of both topics not handled yet, as of each partition's last fetch.", nil, nil)
	descHeld = prometheus.NewDesc("servicegraph_kafka_held_records",
		"Records handled whose counts (edges, link results) are not shown yet: they are once their offsets are committed.", nil, nil)
	descCommits = prometheus.NewDesc("servicegraph_kafka_commits_total",
		"Offset commits by result (ok, error).", []string{"result"}, nil)
	descErrors = prometheus.NewDesc("servicegraph_kafka_errors_total",
		"Transport problems by kind: fetch (among them lost records), rejected_record (not OTLP protobuf), "+
			"route (a link not routed), forgotten_link, forgotten_client (a waiting link or CLIENT span left to its partition's new owner).",
		[]string{"kind"}, nil)
)

// Describe implements prometheus.Collector.
func (k *kafkaIngest) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOwned, descRecords, descReplayed, descLinkRecords, descReplaySeconds, descLag, descHeld, descCommits, descErrors} {
		ch <- d
	}
	k.linkDelay.Describe(ch)
}

// Collect implements prometheus.Collector.
func (k *kafkaIngest) Collect(ch chan<- prometheus.Metric) {
	s := k.c.Stats()
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge(descOwned, float64(s.PartitionsOwned))
	gauge(descLag, float64(s.Lag))
	gauge(descHeld, float64(k.held.records()))
	counter(descRecords, s.SpanRecords, "spans")
	counter(descRecords, s.LinkRecords, "links")
	counter(descReplayed, s.ReplayedRecords)
	counter(descLinkRecords, s.LinksProduced, "produced")
	counter(descLinkRecords, s.LinkRecords-s.DuplicateLinks-s.MalformedLinks, "consumed")
	counter(descLinkRecords, s.DuplicateLinks, "duplicate")
	counter(descLinkRecords, s.MalformedLinks, "malformed")
	counter(descLinkRecords, s.ProduceErrors, "produce_error")
	ch <- prometheus.MustNewConstMetric(descReplaySeconds, prometheus.CounterValue, float64(k.replayNanos.Load())/1e9)
	counter(descCommits, s.Commits, "ok")
	counter(descCommits, s.CommitErrors, "error")
	counter(descErrors, s.FetchErrors, "fetch")
	counter(descErrors, s.RejectedRecords, "rejected_record")
	counter(descErrors, k.routeErrors.Load(), "route")
	counter(descErrors, k.linksForgot.Load(), "forgotten_link")
	counter(descErrors, k.clientsForgot.Load(), "forgotten_client")
	k.linkDelay.Collect(ch)
}

// KafkaConfig is the kafka: section: the transport's settings and this
// instance's advertised API address.
type KafkaConfig struct {
	kafka.Config `yaml:",inline"`
	// Advertise is this instance's API address as the other members reach
	// it; it is the member's client id in the group (kafka.Member).
	Advertise string `yaml:"advertise"`
}

// Enabled reports whether the multi-instance mode is on.
func (c KafkaConfig) Enabled() bool { return len(c.Brokers) > 0 }

// validate checks the section when the mode is on; replay must cover the
// pair wait, or a handover loses the pairs of spans that waited across it.
func (c KafkaConfig) validate(pairWait time.Duration) error {
	if !c.Enabled() {
		return nil
	}
	err := c.Config.Validate()
	if c.Replay < pairWait {
		err = errors.Join(err, fmt.Errorf("replay must be at least pairing.pair_wait (%s), got %s", pairWait, c.Replay))
	}
	return err
}

// advertised is the API address the other members reach this one at:
// --kafka-advertise, else the hostname and the API listener's port.
func advertised(flag string, api net.Addr) string {
	if flag != "" || api == nil {
		return flag
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	_, port, err := net.SplitHostPort(api.String())
	if err != nil {
		return host
	}
	return net.JoinHostPort(host, port)
}

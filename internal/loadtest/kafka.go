package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/internal/workload"
)

// kafkaBench measures the multi-instance mode beside one instance, on the
// same workload at the same rate (spans/s), each run a fresh set of
// `servicegraph serve` processes (-bin) and fresh topics on an in-process
// Kafka cluster (kfake: the broker's CPU is this process's, not theirs):
//
//   - grpc: one instance fed the workload's requests over OTLP/gRPC;
//   - single: one instance reading the spans topic the Collector's
//     kafkaexporter would write (one record per trace, keyed by the hex
//     trace id, Sarama's FNV-1a partitioner);
//   - cluster: -members instances in one group on the same records.
//
// Each run's CPU is the servers' user+system time (/proc) from the moment
// every partition is owned (or the gRPC listener is up) until every record
// (spans and routed links) is handled; per span, it compares the Kafka
// paths with the gRPC one and the cluster with one instance. The cluster
// run also reports the p99 of servicegraph_kafka_link_resolution_seconds
// summed over the members, the size of the link records on the links
// topic, and whether the members' edges summed equal the truth (-truth).
// What a member costs beside its records is in each Kafka run's line too:
// the servers' system CPU, page faults, GC cycles and bytes allocated per
// span (their /proc and Go metrics), and their fetch, link produce,
// offset commit and heartbeat requests (counted at the broker). Every
// run's servers get the same kafka: section (-kafka-config).
func kafkaBench(args []string) error {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	in := fs.String("in", "workload.otlp", "the workload file")
	bin := fs.String("bin", "servicegraph", "the servicegraph binary")
	members := fs.Int("members", 3, "instances in the cluster run")
	parts := fs.Int("partitions", 6, "partitions of the spans topic")
	rate := fs.Int("rate", 100000, "spans per second sent (every run)")
	truthPath := fs.String("truth", "", "the workload's truth file: the cluster's summed edges are compared with it")
	runs := fs.String("runs", "grpc,single,cluster", "the runs, in order")
	repeat := fs.Int("repeat", 1,
		"do -runs this many times over, interleaved; the result lines are the round whose cluster/single ratio is the median, and the ratios line gives the medians and every round's ratio (on a shared machine one round's ratio spreads by ±15%)")
	logPath := fs.String("log", "", "append the servers' stderr to this file (default: discarded)")
	procs := fs.Int("procs", 0,
		"GOMAXPROCS of every run's servers, the same for one instance and the members (0: the Go runtime's default, every core)")
	warm := fs.Bool("warm", true,
		"first send each run's servers the workload under other trace ids and measure the second pass: the servers' span index, pending queues and buffers are then at their working size, as in a cluster that has run for a while (their cold start is not charged to the spans)")
	kcfg := fs.String("kafka-config", "",
		"the kafka: section of every run's servers, the same for one instance and the members (the body of a YAML flow mapping, e.g. \"heartbeat_interval: 200ms\"; default: the product's defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reqs, counts, err := load(*in)
	if err != nil {
		return err
	}
	spans := 0
	for _, n := range counts {
		spans += n
	}
	recs, err := splitByTrace(reqs)
	if err != nil {
		return err
	}
	var truth *workload.Truth
	if *truthPath != "" {
		if truth, err = workload.LoadTruth(*truthPath); err != nil {
			return err
		}
	}
	var warmReqs [][]byte
	var warmRecs []*kgo.Record
	if *warm {
		warmReqs = make([][]byte, len(reqs))
		for i, r := range reqs {
			warmReqs[i] = slices.Clone(r)
			if err := rekey(warmReqs[i], warmKey); err != nil {
				return fmt.Errorf("warm pass: request %d: %w", i, err)
			}
		}
		if warmRecs, err = splitByTrace(warmReqs); err != nil {
			return err
		}
		if truth != nil {
			truth = truth.Times(2) // the warm pass counts the same edges
		}
	}
	var logw io.Writer = io.Discard
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	dir, err := os.MkdirTemp("", "loadtest-kafka")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "sg.yaml")
	if err := os.WriteFile(cfgPath, []byte("kafka: {"+*kcfg+"}\n"), 0o644); err != nil {
		return err
	}
	if *repeat < 1 {
		return fmt.Errorf("-repeat %d: want at least 1", *repeat)
	}
	runNames := strings.Split(*runs, ",")
	var topics []string
	for round := range *repeat {
		for _, r := range runNames {
			if r != "grpc" {
				topics = append(topics, "spans_"+roundName(r, round))
			}
		}
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(*parts), topics...),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer cluster.Close()
	observed := countRequests(cluster)
	fmt.Printf("kafka: %d spans in %d records (%.2f spans/record), %d B/record, %d spans/s, %d partitions, servers' GOMAXPROCS %d, warm pass %v\n",
		spans, len(recs), float64(spans)/float64(len(recs)), recordBytes(recs)/len(recs), *rate, *parts, *procs, *warm)
	k := &kafkaRun{bin: *bin, cfg: cfgPath, brokers: strings.Join(cluster.ListenAddrs(), ","), parts: *parts,
		rate: *rate, spans: spans, log: logw, reqs: observed, procs: *procs, warmReqs: warmReqs, warmRecs: warmRecs}
	rounds := make([]map[string]runResult, *repeat)
	for round := range rounds {
		rounds[round] = map[string]runResult{}
		for _, r := range runNames {
			var res runResult
			switch r {
			case "grpc":
				res, err = k.grpc(reqs, counts)
			case "single":
				res, err = k.kafka(roundName(r, round), 1, recs, nil)
			case "cluster":
				res, err = k.kafka(roundName(r, round), *members, recs, truth)
			default:
				err = fmt.Errorf("unknown run %q (want grpc, single or cluster)", r)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", roundName(r, round), err)
			}
			rounds[round][r] = res
			if *repeat > 1 {
				fmt.Printf("round %d kafka_%s %s\n", round+1, r, res.line(spans))
			}
		}
	}
	reportRounds(os.Stdout, rounds, runNames, spans)
	return nil
}

// reportRounds prints the round whose cluster/single ratio is the median (the
// upper middle one of an even count; the middle round when the runs hold
// no ratio) as the result lines, every round's truth check (the first
// that differs), and the ratios: their medians, and every round's when
// there are several.
func reportRounds(w io.Writer, rounds []map[string]runResult, runNames []string, spans int) {
	ratio := func(a, b runResult) float64 {
		if a.cpu <= 0 || b.cpu <= 0 {
			return 0
		}
		return a.cpu.Seconds() / b.cpu.Seconds()
	}
	var clusterRatios, grpcRatios []float64
	order := make([]int, len(rounds))
	for i, rr := range rounds {
		order[i] = i
		if x := ratio(rr["cluster"], rr["single"]); x > 0 {
			clusterRatios = append(clusterRatios, x)
		}
		if x := ratio(rr["grpc"], rr["single"]); x > 0 {
			grpcRatios = append(grpcRatios, x)
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		return ratio(rounds[order[i]]["cluster"], rounds[order[i]]["single"]) < ratio(rounds[order[j]]["cluster"], rounds[order[j]]["single"])
	})
	mid := rounds[order[len(order)/2]]
	for _, r := range runNames {
		res := mid[r]
		fmt.Fprintf(w, "result kafka_%s %s\n", r, res.line(spans))
		if res.truth != "" {
			// Every round's, since each is a check: the first that differs.
			truthLine := res.truth
			for i, rr := range rounds {
				if t := rr[r].truth; !strings.HasPrefix(t, "exact") {
					truthLine = fmt.Sprintf("round %d of %d: %s", i+1, len(rounds), t)
					break
				}
			}
			if len(rounds) > 1 && strings.HasPrefix(truthLine, "exact") {
				truthLine += fmt.Sprintf(" (every one of %d rounds)", len(rounds))
			}
			fmt.Fprintf(w, "kafka_%s truth: %s\n", r, truthLine)
		}
	}
	var ratios []string
	if len(grpcRatios) > 0 {
		ratios = append(ratios, fmt.Sprintf("kafka_vs_grpc=%.2f", medianOf(grpcRatios)))
	}
	if len(clusterRatios) > 0 {
		ratios = append(ratios, fmt.Sprintf("cluster_vs_single=%.2f", medianOf(clusterRatios)))
	}
	if len(rounds) > 1 {
		if len(grpcRatios) > 0 {
			ratios = append(ratios, "kafka_vs_grpc_rounds="+joinRatios(grpcRatios))
		}
		if len(clusterRatios) > 0 {
			ratios = append(ratios, "cluster_vs_single_rounds="+joinRatios(clusterRatios))
		}
	}
	if len(ratios) > 0 {
		fmt.Fprintf(w, "result kafka_ratios %s\n", strings.Join(ratios, " "))
	}
}

// roundName names a run's topic and group in a round of -repeat.
func roundName(run string, round int) string {
	if round == 0 {
		return run
	}
	return fmt.Sprintf("%s%d", run, round+1)
}

// medianOf is the median of xs (the mean of the middle two when even).
func medianOf(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// joinRatios lists ratios in the order of the rounds.
func joinRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ",")
}

// runResult is one run's figures.
type runResult struct {
	members  int
	cpu      time.Duration // the servers' CPU, summed
	wall     time.Duration // from the first record sent until every one was handled
	routed   float64       // link records produced
	linkN    uint64        // link records the histogram saw
	p99, p50 float64       // link resolution, seconds (interpolated in the bucket)
	p99le    float64       // the upper bound of the bucket holding the p99
	linkB    float64       // mean link record size on the links topic (key + value)
	linkVal  float64       // mean link record value size
	truth    string        // the summed edges against the truth, when checked
	idle     time.Duration // the servers' CPU, summed, over idleWindow before sending
	gcs      float64       // Go GC cycles of the servers, summed, during the run (Kafka runs)
	allocB   float64       // bytes the servers allocated, summed, during the run (Kafka runs)
	reqs     [4]int64      // the servers' requests during the run: requestCounts.snapshot
	faults   int64         // the servers' minor page faults during the run (Kafka runs)
	sys      time.Duration // the system part of cpu (Kafka runs)
}

// warmKey renumbers the warm pass's traces (rekey).
const warmKey = 0x5eed_0f_a_c1a55e5

// idleWindow is how long the members' idle CPU is measured.
const idleWindow = 3 * time.Second

func (r runResult) line(spans int) string {
	s := fmt.Sprintf("members=%d spans=%d cpu_s=%.2f cpu_ns_per_span=%.0f cpu_spans_per_s=%.0f wall_s=%.1f",
		r.members, spans, r.cpu.Seconds(), float64(r.cpu.Nanoseconds())/float64(spans), float64(spans)/r.cpu.Seconds(), r.wall.Seconds())
	if r.idle > 0 {
		s += fmt.Sprintf(" idle_cpu_ms_per_s=%.0f", float64(r.idle.Milliseconds())/idleWindow.Seconds())
	}
	if r.faults > 0 {
		s += fmt.Sprintf(" sys_cpu_s=%.2f page_faults=%d", r.sys.Seconds(), r.faults)
	}
	if r.gcs > 0 {
		s += fmt.Sprintf(" gc_cycles=%.0f alloc_b_per_span=%.0f", r.gcs, r.allocB/float64(spans))
	}
	if r.reqs != [4]int64{} {
		s += fmt.Sprintf(" fetch_reqs=%d link_produce_reqs=%d commit_reqs=%d heartbeat_reqs=%d", r.reqs[0], r.reqs[1], r.reqs[2], r.reqs[3])
	}
	if r.linkN > 0 {
		s += fmt.Sprintf(" links_routed=%.0f link_resolution_n=%d link_p50_ms=%.1f link_p99_ms=%.1f link_p99_le_s=%g",
			r.routed, r.linkN, r.p50*1e3, r.p99*1e3, r.p99le)
	}
	if r.linkB > 0 {
		s += fmt.Sprintf(" link_record_bytes=%.1f link_value_bytes=%.1f", r.linkB, r.linkVal)
	}
	return s
}

// kafkaRun holds what every run shares.
type kafkaRun struct {
	bin, cfg, brokers string
	parts, rate       int
	spans             int
	procs             int // GOMAXPROCS of the servers (0: not set)
	log               io.Writer
	reqs              *requestCounts
	// The warm pass (-warm): the workload under other trace ids, sent
	// before the measured one.
	warmReqs [][]byte
	warmRecs []*kgo.Record
}

// requestCounts counts the requests the servers make of the cluster, by
// kind, for the runs' figures (a member's costs are mostly per request).
type requestCounts struct {
	fetch, linkProduce, commit, heartbeat atomic.Int64
	links                                 atomic.Value // [16]byte: the links topic's id (produce v13 names topics by id)
}

// countRequests observes every request the cluster handles (without
// handling any).
func countRequests(c *kfake.Cluster) *requestCounts {
	rc := &requestCounts{}
	c.Control(func(r kmsg.Request) (kmsg.Response, error, bool) {
		switch r := r.(type) {
		case *kmsg.FetchRequest:
			rc.fetch.Add(1)
		case *kmsg.ProduceRequest:
			id, _ := rc.links.Load().([16]byte)
			for _, t := range r.Topics {
				if strings.HasSuffix(t.Topic, "_links") || t.TopicID == id && id != [16]byte{} {
					rc.linkProduce.Add(1)
					break
				}
			}
		case *kmsg.OffsetCommitRequest:
			rc.commit.Add(1)
		case *kmsg.HeartbeatRequest:
			rc.heartbeat.Add(1)
		}
		c.KeepControl()
		return nil, nil, false
	})
	return rc
}

// linksTopic sets the links topic whose produce requests are counted.
func (rc *requestCounts) linksTopic(ctx context.Context, brokers, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	t, ok := td[topic]
	if !ok || t.Err != nil {
		return fmt.Errorf("links topic %q not listed: %v", topic, t.Err)
	}
	rc.links.Store([16]byte(t.ID))
	return nil
}

// snapshot returns the counts so far: fetches, link produce requests,
// offset commits, heartbeats.
func (rc *requestCounts) snapshot() [4]int64 {
	return [4]int64{rc.fetch.Load(), rc.linkProduce.Load(), rc.commit.Load(), rc.heartbeat.Load()}
}

// member is one running servicegraph.
type member struct {
	cmd  *exec.Cmd
	api  string
	grpc string
}

// start launches one servicegraph with args after the common ones.
func (k *kafkaRun) start(args ...string) (*member, error) {
	api, grpcAddr := freeAddr(), freeAddr()
	base := []string{"serve", "--otlp-grpc-addr", grpcAddr, "--otlp-http-addr", "", "--http-addr", api, "--data-dir", "",
		"--log-level", "warn", "--config", k.cfg}
	base = append(base, workload.ServeFlags()...)
	cmd := exec.Command(k.bin, append(base, args...)...)
	cmd.Stdout, cmd.Stderr = k.log, k.log
	if k.procs > 0 {
		cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", k.procs))
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &member{cmd: cmd, api: "http://" + api, grpc: grpcAddr}, nil
}

func (m *member) stop() {
	_ = m.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
}

func (m *member) cpu() time.Duration { d, _ := cpuTime(m.cmd.Process.Pid); return d }

// faults returns the member's minor page faults and system CPU so far
// (procStat; 0 when unknown).
func (m *member) faults() (int64, time.Duration) {
	st, _ := procStat(m.cmd.Process.Pid)
	return st.minflt, st.stime
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// grpc is the OTLP/gRPC run.
func (k *kafkaRun) grpc(reqs [][]byte, counts []int) (runResult, error) {
	m, err := k.start()
	if err != nil {
		return runResult{}, err
	}
	defer m.stop()
	conn, err := dial(m.grpc)
	if err != nil {
		return runResult{}, err
	}
	defer conn.Close()
	send := func(reqs [][]byte) error {
		pace := newPacer(k.rate)
		for i, r := range reqs {
			pace.wait(counts[i])
			if err := export(conn, r); err != nil {
				return err
			}
		}
		return nil
	}
	if err := send(k.warmReqs); err != nil {
		return runResult{}, fmt.Errorf("warm pass: %w", err)
	}
	c0, t0 := m.cpu(), time.Now()
	if err := send(reqs); err != nil {
		return runResult{}, err
	}
	return runResult{members: 1, cpu: m.cpu() - c0, wall: time.Since(t0)}, nil
}

// kafka is a run of n members reading topic spans_<name>.
func (k *kafkaRun) kafka(name string, n int, recs []*kgo.Record, truth *workload.Truth) (runResult, error) {
	topic := "spans_" + name
	var ms []*member
	defer func() {
		for _, m := range ms {
			m.stop()
		}
	}()
	for range n {
		m, err := k.start("--kafka-brokers", k.brokers, "--kafka-topic", topic, "--kafka-group", "g_"+name,
			"--kafka-edges-topic", topic+"_edges", "--kafka-session-timeout", "6s")
		if err != nil {
			return runResult{}, err
		}
		ms = append(ms, m)
	}
	// Every partition owned, by every member, for a second on end.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	stable := 0
	for stable < 4 {
		owned, all := 0.0, true
		for _, m := range ms {
			f, err := scrapeMetrics(ctx, http.DefaultClient, m.api, "servicegraph_kafka_partitions_owned")
			if err != nil {
				all = false
				break
			}
			o := sum(f, "servicegraph_kafka_partitions_owned", "")
			all = all && o > 0
			owned += o
		}
		if all && int(owned) == k.parts {
			stable++
		} else {
			stable = 0
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return runResult{}, fmt.Errorf("the members did not own the %d partitions: %w", k.parts, err)
		}
	}
	faultsAll := func() (n int64, sys time.Duration) {
		for _, m := range ms {
			f, s := m.faults()
			n, sys = n+f, sys+s
		}
		return n, sys
	}
	cpuAll := func() time.Duration {
		var d time.Duration
		for _, m := range ms {
			d += m.cpu()
		}
		return d
	}
	// The members' CPU while idle (heartbeats, fetch polls, commits): the
	// part of the cost that does not depend on the rate.
	i0 := cpuAll()
	if err := sleepCtx(ctx, idleWindow); err != nil {
		return runResult{}, err
	}
	idle := cpuAll() - i0
	if err := k.reqs.linksTopic(ctx, k.brokers, topic+"_links"); err != nil {
		return runResult{}, err
	}
	var base []map[string]*dto.MetricFamily // what the warm pass left in the families
	if len(k.warmRecs) > 0 {
		if err := k.produce(ctx, topic, k.warmRecs); err != nil {
			return runResult{}, fmt.Errorf("warm pass: %w", err)
		}
		if err := k.handled(ctx, "g_"+name, topic, len(k.warmRecs)); err != nil {
			return runResult{}, fmt.Errorf("warm pass: %w", err)
		}
		var err error
		if base, err = scrapeDone(ctx, ms); err != nil {
			return runResult{}, err
		}
	}
	gc0, alloc0, err := memStats(ctx, ms)
	if err != nil {
		return runResult{}, err
	}
	r0 := k.reqs.snapshot()
	f0, s0 := faultsAll()
	c0, t0 := cpuAll(), time.Now()
	if err := k.produce(ctx, topic, recs); err != nil {
		return runResult{}, err
	}
	if err := k.handled(ctx, "g_"+name, topic, len(k.warmRecs)+len(recs)); err != nil {
		return runResult{}, err
	}
	res := runResult{members: n, cpu: cpuAll() - c0, wall: time.Since(t0), idle: idle}
	f1, s1 := faultsAll()
	res.faults, res.sys = f1-f0, s1-s0
	fmt.Printf("kafka: %s: measured from %s to %s\n", name, t0.Format("15:04:05.000"), time.Now().Format("15:04:05.000"))
	fams, err := scrapeDone(ctx, ms)
	if err != nil {
		return runResult{}, err
	}
	r1 := k.reqs.snapshot()
	for i := range r1 {
		res.reqs[i] = r1[i] - r0[i]
	}
	gc1, alloc1, err := memStats(ctx, ms)
	if err != nil {
		return runResult{}, err
	}
	res.gcs, res.allocB = gc1-gc0, alloc1-alloc0
	// The measured pass's links: the end's counts less the warm pass's.
	routed, linkN, buckets := linkStats(fams)
	routed0, linkN0, buckets0 := linkStats(base)
	res.routed, res.linkN = routed-routed0, linkN-linkN0
	for le, c := range buckets0 {
		buckets[le] -= c
	}
	res.p50, _ = quantile(buckets, res.linkN, 0.5)
	res.p99, res.p99le = quantile(buckets, res.linkN, 0.99)
	if res.routed > 0 {
		var err error
		if res.linkB, res.linkVal, err = k.linkSizes(ctx, topic+"_links"); err != nil {
			return runResult{}, err
		}
	}
	if truth != nil {
		res.truth = clusterTruth(ctx, ms, truth)
	}
	return res, nil
}

// handled waits until the group has committed every record of the
// spans topic, recs in all, and of the links topic, as the broker tells
// (the members are not asked: a scrape costs each member CPU that the run
// counts, N times for N members). A member flushes the link records it
// routed before it commits the spans records that routed them, so once
// every spans record is committed, the links topic's end offsets read
// after hold every link record routed; the run ends when those are
// committed too, within a commit interval of the members' last record.
func (k *kafkaRun) handled(ctx context.Context, group, topic string, recs int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(k.brokers, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	links := topic + "_links"
	for {
		// The commits first, the end offsets after: see above. A group
		// that has committed nothing yet may not be known to the broker.
		var spansAt, spansEnd, linksAt, linksEnd int64
		committed, cerr := adm.FetchOffsets(ctx, group)
		if cerr == nil {
			cerr = committed.Error()
		}
		committed.Each(func(o kadm.OffsetResponse) {
			switch {
			case o.Err != nil:
			case o.Topic == topic:
				spansAt += max(o.At, 0)
			case o.Topic == links:
				linksAt += max(o.At, 0)
			}
		})
		ends, err := adm.ListEndOffsets(ctx, topic, links)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return fmt.Errorf("end offsets: %w", err)
		}
		ends.Each(func(o kadm.ListedOffset) {
			switch o.Topic {
			case topic:
				spansEnd += o.Offset
			case links:
				linksEnd += o.Offset
			}
		})
		if spansEnd >= int64(recs) && spansAt >= spansEnd && linksAt >= linksEnd {
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			if cerr != nil {
				err = fmt.Errorf("%w (committed offsets: %v)", err, cerr)
			}
			return fmt.Errorf("committed %d of %d spans records (%d sent), %d of %d link records: %w",
				spansAt, spansEnd, recs, linksAt, linksEnd, err)
		}
	}
}

// scrapeDone reads doneFamilies from every member.
func scrapeDone(ctx context.Context, ms []*member) ([]map[string]*dto.MetricFamily, error) {
	var fams []map[string]*dto.MetricFamily
	for _, m := range ms {
		f, err := scrapeMetrics(ctx, http.DefaultClient, m.api, doneFamilies...)
		if err != nil {
			return nil, err
		}
		fams = append(fams, f)
	}
	return fams, nil
}

// linkStats sums the members' link records produced and their link
// resolution histograms (cumulative counts by upper bound).
func linkStats(fams []map[string]*dto.MetricFamily) (routed float64, n uint64, buckets map[float64]uint64) {
	buckets = map[float64]uint64{}
	for _, f := range fams {
		routed += sum(f, "servicegraph_kafka_link_records_total", "produced")
		for _, m := range f["servicegraph_kafka_link_resolution_seconds"].GetMetric() {
			h := m.GetHistogram()
			n += h.GetSampleCount()
			for _, b := range h.GetBucket() {
				buckets[b.GetUpperBound()] += b.GetCumulativeCount()
			}
		}
	}
	return routed, n, buckets
}

// produce writes the records at the run's rate as the kafkaexporter
// would (Sarama's FNV-1a hash of the key).
func (k *kafkaRun) produce(ctx context.Context, topic string, recs []*kgo.Record) error {
	hasher := kgo.SaramaCompatHasher(func(b []byte) uint32 { h := fnv.New32a(); h.Write(b); return h.Sum32() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(k.brokers, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(hasher)), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	var failed atomic.Value
	pace := newPacer(k.rate)
	for _, r := range recs {
		pace.wait(int(r.Headers[0].Value[0]) | int(r.Headers[0].Value[1])<<8)
		rec := &kgo.Record{Key: r.Key, Value: r.Value}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err, _ := failed.Load().(error); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// linkSizes reads the links topic whole: the mean record size (key and
// value) and the mean value size.
func (k *kafkaRun) linkSizes(ctx context.Context, topic string) (float64, float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(k.brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	var n, all, val int
	for idle := 0; idle < 3; {
		fctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		f := cl.PollFetches(fctx)
		cancel()
		got := 0
		f.EachRecord(func(r *kgo.Record) {
			n, got = n+1, got+1
			all += len(r.Key) + len(r.Value)
			val += len(r.Value)
		})
		if got == 0 {
			idle++
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
	}
	if n == 0 {
		return 0, 0, errors.New("the links topic is empty")
	}
	return float64(all) / float64(n), float64(val) / float64(n), nil
}

// clusterTruth waits (at most 30 s: the last CLIENT spans become
// database and virtual edges after the default --pair-wait, 10 s) until the members' edges summed equal
// the truth, and summarises them.
func clusterTruth(ctx context.Context, ms []*member, truth *workload.Truth) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got []workload.Edge
	for {
		byKey := map[[3]string]*workload.Edge{}
		got = got[:0]
		for _, m := range ms {
			f, err := scrapeMetrics(ctx, http.DefaultClient, m.api)
			if err != nil {
				return "no answer: " + err.Error()
			}
			for _, e := range workload.FromMetrics(f) {
				key := [3]string{e.Source, e.Target, e.Kind}
				if s := byKey[key]; s != nil {
					s.Count += e.Count
					s.Failed += e.Failed
					continue
				}
				e := e
				byKey[key] = &e
			}
		}
		for _, e := range byKey {
			got = append(got, *e)
		}
		sort.Slice(got, func(i, j int) bool { return got[i].String() < got[j].String() })
		if len(workload.Diff(truth.Edges, got)) == 0 {
			return "exact: " + workload.Summary(truth.Edges, got)
		}
		if sleepCtx(ctx, time.Second) != nil {
			diff := workload.Diff(truth.Edges, got)
			if len(diff) > 10 {
				diff = append(diff[:10], fmt.Sprintf("and %d more", len(diff)-10))
			}
			return "differs: " + workload.Summary(truth.Edges, got) + "; " + strings.Join(diff, "; ")
		}
	}
}

// quantile estimates the q quantile of a cumulative histogram (linear
// within the bucket), and returns the upper bound of its bucket.
func quantile(buckets map[float64]uint64, n uint64, q float64) (float64, float64) {
	if n == 0 {
		return 0, 0
	}
	bounds := make([]float64, 0, len(buckets))
	for b := range buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	rank := q * float64(n)
	lo, below := 0.0, uint64(0)
	for _, b := range bounds {
		c := buckets[b]
		if float64(c) >= rank {
			if c == below {
				return b, b
			}
			return lo + (b-lo)*(rank-float64(below))/float64(c-below), b
		}
		lo, below = b, c
	}
	return math.Inf(1), math.Inf(1)
}

// sum adds the samples of a counter or gauge family, those whose one
// label has value lv (any labels when lv is "").
func sum(fams map[string]*dto.MetricFamily, name, lv string) float64 {
	var v float64
	for _, m := range fams[name].GetMetric() {
		if lv != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != lv) {
			continue
		}
		v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return v
}

// memStats sums the members' Go GC cycles and allocated bytes so far
// (gcOf).
func memStats(ctx context.Context, ms []*member) (cycles, alloc float64, err error) {
	for _, m := range ms {
		f, err := scrapeMetrics(ctx, http.DefaultClient, m.api, gcFamilies...)
		if err != nil {
			return 0, 0, err
		}
		g, err := gcOf(f)
		if err != nil {
			return 0, 0, err
		}
		cycles, alloc = cycles+g.cycles, alloc+g.alloc
	}
	return cycles, alloc, nil
}

// doneFamilies are the families the run's end is told from, and its
// figures read.
var doneFamilies = []string{"servicegraph_kafka_records_total", "servicegraph_kafka_link_records_total",
	"servicegraph_kafka_link_resolution_seconds"}

// scrapeMetrics reads api's /metrics: the named families only when names
// are given (the server's name[] filter), all of them otherwise. The read
// is fresh (no-cache): never an answer the server's read cache kept (up to
// --read-max-staleness old), and counted as a bypass, not a hit.
func scrapeMetrics(ctx context.Context, hc *http.Client, api string, names ...string) (map[string]*dto.MetricFamily, error) {
	u := api + "/metrics"
	if len(names) > 0 {
		u += "?" + url.Values{"name[]": names}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// pacer keeps a sender at rate spans per second.
type pacer struct {
	rate  float64
	start time.Time
	sent  int
	mu    sync.Mutex
}

func newPacer(rate int) *pacer { return &pacer{rate: float64(rate), start: time.Now()} }

// wait blocks until n more spans may go.
func (p *pacer) wait(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += n
	if p.rate <= 0 {
		return
	}
	if d := time.Until(p.start.Add(time.Duration(float64(p.sent) / p.rate * float64(time.Second)))); d > 0 {
		time.Sleep(d)
	}
}

// splitByTrace does what the Collector's kafkaexporter does with
// partition_traces_by_id (workload.SplitByTrace) to each request. Each
// record's one header holds its span count (two bytes, little endian) for
// the pacer; it is not produced.
func splitByTrace(reqs [][]byte) ([]*kgo.Record, error) {
	var out []*kgo.Record
	for _, raw := range reqs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			return nil, err
		}
		recs, err := workload.SplitByTrace(req.Traces())
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			n := r.Spans
			out = append(out, &kgo.Record{Key: r.Key, Value: r.Value,
				Headers: []kgo.RecordHeader{{Key: "spans", Value: []byte{byte(n), byte(n >> 8)}}}})
		}
	}
	return out, nil
}

// recordBytes is the records' total key and value size.
func recordBytes(recs []*kgo.Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Key) + len(r.Value)
	}
	return n
}

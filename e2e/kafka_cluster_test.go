package e2e

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/internal/workload"
)

// kafkaParts is the spans topic's partition count in these tests.
const kafkaParts = 6

// kafkaWorkload is a bench-shaped workload as the Collector's
// kafkaexporter writes it with partition_traces_by_id and otlp_proto:
// one record per trace of each request, keyed by the hex trace id.
type kafkaWorkload struct {
	recs  []*kgo.Record
	reqs  [][]byte // the OTLP requests the records were split from
	truth *workload.Truth
	links int // span links in the workload, all to spans in it
}

// genKafkaWorkload generates a workload with ../shared/bench/gen (exact
// truth included) and splits its requests by trace.
func genKafkaWorkload(t *testing.T, traces int) *kafkaWorkload {
	t.Helper()
	wl, out := genBenchWorkload(t, "-seed", "5", "-services", "12", "-traces", strconv.Itoa(traces), "-batch", "256")
	var err error
	m := regexp.MustCompile(`(\d+) links`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("gen printed no link count:\n%s", out)
	}
	w := &kafkaWorkload{}
	w.links, _ = strconv.Atoi(string(m[1]))
	if w.truth, err = workload.LoadTruth(wl + ".truth.json"); err != nil {
		t.Fatal(err)
	}
	if w.reqs, err = workload.ReadAll(wl); err != nil {
		t.Fatal(err)
	}
	for _, b := range w.reqs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(b); err != nil {
			t.Fatal(err)
		}
		w.recs = append(w.recs, kafkaSplitByTrace(t, req.Traces())...)
	}
	return w
}

// kafkaSplitByTrace does what the kafkaexporter does with
// partition_traces_by_id (workload.SplitByTrace).
func kafkaSplitByTrace(t *testing.T, td ptrace.Traces) []*kgo.Record {
	t.Helper()
	recs, err := workload.SplitByTrace(td)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = &kgo.Record{Key: r.Key, Value: r.Value}
	}
	return out
}

// newKafka starts a 3-broker in-process Kafka cluster with the spans topic.
func newKafka(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(kafkaParts, "otlp_spans"),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// kafkaExporterClient writes as the Collector's kafkaexporter does: Sarama's
// hash partitioner (FNV-1a); with javaDefault, as the Java client does
// (murmur2).
func kafkaExporterClient(t *testing.T, addrs []string, javaDefault bool) *kgo.Client {
	t.Helper()
	hasher := kgo.SaramaCompatHasher(func(b []byte) uint32 { h := fnv.New32a(); h.Write(b); return h.Sum32() })
	if javaDefault {
		hasher = nil // franz-go's default: murmur2
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("otlp_spans"),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(hasher)), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func kafkaProduce(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	for i, r := range recs {
		r.Topic, r.Partition, r.Offset = "", 0, 0
		cl.Produce(ctx(t), r, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce record %d: %v", i, err)
			}
		})
	}
	if err := cl.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

// kafkaConfig writes the YAML of the knobs without a flag: a short
// heartbeat, so that rebalances are quick, and a short rebalance timeout,
// so that a member whose join kfake never answers (its session ended
// while the join waited, as after the brokers' restart) asks again
// within 20 s rather than 70.
func kafkaConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sg.yaml")
	if err := os.WriteFile(path, []byte("kafka:\n  heartbeat_interval: 200ms\n  rebalance_timeout: 10s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startKafkaMember runs one `servicegraph serve` in the group. CLIENT spans
// without a server side become database and virtual edges after
// pairWait: the tests wait that long for the last ones.
func startKafkaMember(t *testing.T, addrs []string, pairWait string) *service {
	t.Helper()
	s := launchKafkaMember(t, t.TempDir(), addrs, pairWait)
	s.waitStarted(t)
	return s
}

// launchKafkaMember is startKafkaMember on dataDir, with extra flags,
// without waiting for the start.
func launchKafkaMember(t *testing.T, dataDir string, addrs []string, pairWait string, extra ...string) *service {
	t.Helper()
	args := []string{"--data-dir", dataDir, "--config", kafkaConfig(t), "--kafka-brokers", strings.Join(addrs, ","),
		"--kafka-session-timeout", "2s", "--kafka-commit-interval", "200ms", "--pair-wait", pairWait, "--kafka-replay", "60s"}
	args = append(args, workload.ServeFlags()...) // the truth's database names
	return launch(t, "", "serve", append(args, extra...)...)
}

// kafkaSum adds the samples of a family matching the label values given.
func kafkaSum(fams map[string]*dto.MetricFamily, name string, match ...string) float64 {
	var v float64
	for _, m := range fams[name].GetMetric() {
		l := labels(m.GetLabel())
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			ok = ok && l[match[i]] == match[i+1]
		}
		if ok {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

// kafkaView is the sum of the members' /metrics (plus earlier scrapes
// of members gone): the edges in truth form and the link counters.
type kafkaView struct {
	edges                                map[string]workload.Edge
	resolved, unresolved, pendingLinks   float64
	produced, consumed, duplicate, owned float64
	lag                                  float64
}

func (v *kafkaView) add(fams map[string]*dto.MetricFamily, running bool) {
	if v.edges == nil {
		v.edges = map[string]workload.Edge{}
	}
	for _, e := range workload.FromMetrics(fams) {
		k := e.Kind + " " + e.Source + ">" + e.Target
		s := v.edges[k]
		s.Kind, s.Source, s.Target = e.Kind, e.Source, e.Target
		s.Count += e.Count
		s.Failed += e.Failed
		v.edges[k] = s
	}
	v.resolved += kafkaSum(fams, "servicegraph_span_links_total", "result", "resolved")
	v.unresolved += kafkaSum(fams, "servicegraph_span_links_total", "result", "unresolved") +
		kafkaSum(fams, "servicegraph_span_links_total", "result", "dropped")
	if running { // a member gone left its waiting links to the others
		v.pendingLinks += kafkaSum(fams, "servicegraph_pending_items", "queue", "links")
	}
	v.produced += kafkaSum(fams, "servicegraph_kafka_link_records_total", "outcome", "produced")
	v.consumed += kafkaSum(fams, "servicegraph_kafka_link_records_total", "outcome", "consumed")
	v.duplicate += kafkaSum(fams, "servicegraph_kafka_link_records_total", "outcome", "duplicate")
	v.owned += kafkaSum(fams, "servicegraph_kafka_partitions_owned")
	v.lag += kafkaSum(fams, "servicegraph_kafka_consumer_lag_records")
}

func (v *kafkaView) list() []workload.Edge {
	var out []workload.Edge
	for _, e := range v.edges {
		out = append(out, e)
	}
	return out
}

func kafkaViewOf(t *testing.T, gone []map[string]*dto.MetricFamily, members ...*service) *kafkaView {
	v := &kafkaView{}
	for _, f := range gone {
		v.add(f, false)
	}
	for _, m := range members {
		v.add(m.metrics(t), true)
	}
	return v
}

// waitKafkaOwned waits until the members own every partition, each its share
// (the range balancer gives the first ones one more when it does not
// divide).
func waitKafkaOwned(t *testing.T, members ...*service) {
	t.Helper()
	share := kafkaParts / len(members)
	eventually(t, 30*time.Second, fmt.Sprintf("%d members to own %d partitions, %d or %d each", len(members), kafkaParts, share, share+1), func() bool {
		sum := 0
		for _, m := range members {
			v, _ := value(m.metrics(t), "servicegraph_kafka_partitions_owned")
			if n := int(v); n != share && n != share+1 {
				return false
			}
			sum += int(v)
		}
		return sum == kafkaParts
	})
}

// checkKafkaExact waits until the members' summed edges equal the truth and
// every link is resolved exactly once, each link record consumed once.
func checkKafkaExact(t *testing.T, w *kafkaWorkload, gone []map[string]*dto.MetricFamily, members ...*service) *kafkaView {
	t.Helper()
	var v *kafkaView
	var diff []string
	if !poll(60*time.Second, func() bool {
		v = kafkaViewOf(t, gone, members...)
		diff = workload.Diff(w.truth.Edges, v.list())
		return len(diff) == 0 && v.resolved == float64(w.links) && v.pendingLinks == 0
	}) {
		t.Fatalf("after 60s: resolved %g of %d links, %g unresolved, %g pending; link records produced %g, consumed %g; edges vs truth:\n%s",
			v.resolved, w.links, v.unresolved, v.pendingLinks, v.produced, v.consumed, strings.Join(diff, "\n"))
	}
	if v.unresolved != 0 || v.duplicate != 0 {
		t.Errorf("unresolved or dropped links %g, duplicate link records %g: want 0", v.unresolved, v.duplicate)
	}
	return v
}

// Three `servicegraph serve` processes in one group over a 3-broker
// cluster, fed the bench-shaped workload as the Collector's kafkaexporter
// writes it: the summed edges equal the truth exactly (calls, messaging,
// links, databases, virtual nodes), and every span link is resolved
// exactly once over the three, though most targets are in another
// member's trace.
func TestKafkaClusterTruth(t *testing.T) {
	w := genKafkaWorkload(t, 150)
	kc := newKafka(t)
	addrs := kc.ListenAddrs()
	var members []*service
	for range 3 {
		members = append(members, startKafkaMember(t, addrs, "2s"))
	}
	waitKafkaOwned(t, members...)
	kafkaProduce(t, kafkaExporterClient(t, addrs, false), w.recs)
	v := checkKafkaExact(t, w, nil, members...)
	if v.consumed != v.produced {
		t.Errorf("link records: %g produced, %g consumed", v.produced, v.consumed)
	}
	if v.produced == 0 || v.produced >= float64(w.links) {
		t.Errorf("%g link records produced for %d links: want some routed, some resolved at home", v.produced, w.links)
	}
	t.Logf("%d records, %d spans, %d edges, %d links (%g routed through the links topic): exact over 3 members",
		len(w.recs), w.truth.Spans, len(w.truth.Edges), w.links, v.produced)
	fams := members[0].metrics(t)
	for _, name := range []string{"servicegraph_kafka_partitions_owned", "servicegraph_kafka_consumer_lag_records",
		"servicegraph_kafka_link_records_total", "servicegraph_kafka_records_total"} {
		t.Logf("%s %v", name, series(fams, name))
	}
}

// kill -9 (or SIGTERM) of a member between two halves of the stream,
// once the group has committed the first: its partitions go to the two
// others, which replay them (index only) and go on. Nothing is lost or
// counted twice: the summed edges (the stopped member's last scrape
// included) equal the truth, every link is resolved exactly once, and
// link records of the second half that target the first are resolved by
// the new owners; CLIENT spans and links waiting at the stop are counted
// by the new owners only.
func TestKafkaKill9Handover(t *testing.T) { testKafkaHandover(t, syscall.SIGKILL) }

// TestKafkaSIGTERMHandover is TestKafkaKill9Handover with a clean stop:
// the member commits, forgets what waits, leaves the group at once.
func TestKafkaSIGTERMHandover(t *testing.T) { testKafkaHandover(t, syscall.SIGTERM) }

// TestKafkaJoinHandover is TestKafkaKill9Handover with a 4th member
// joining instead: the three give it partitions (forgetting what waits in
// them), it replays them.
func TestKafkaJoinHandover(t *testing.T) { testKafkaHandover(t, 0) }

// kafkaWaitCommitted waits until the group has committed the end of both
// topics: every record written so far handled.
func kafkaWaitCommitted(t *testing.T, cl *kgo.Client) {
	t.Helper()
	adm := kadm.NewClient(cl)
	eventually(t, 60*time.Second, "the group to commit the end of both topics", func() bool {
		ends, err := adm.ListEndOffsets(ctx(t), "otlp_spans", "otlp_spans_links")
		if err != nil {
			return false
		}
		got, err := adm.FetchOffsets(ctx(t), "servicegraph")
		if err != nil {
			return false
		}
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := got.Lookup(o.Topic, o.Partition)
			done = done && ok && c.At == o.Offset
		})
		return done
	})
}

func testKafkaHandover(t *testing.T, sig syscall.Signal) {
	w := genKafkaWorkload(t, 150)
	kc := newKafka(t)
	addrs := kc.ListenAddrs()
	var members []*service
	for range 3 {
		members = append(members, startKafkaMember(t, addrs, "12s"))
	}
	waitKafkaOwned(t, members...)
	cl := kafkaExporterClient(t, addrs, false)
	half := len(w.recs) / 2
	kafkaProduce(t, cl, w.recs[:half])
	// Quiet: every record handled and committed, the victim's CLIENT
	// spans without a server side expired (--pair-wait) or still waiting
	// (those the new owner replays and expires).
	kafkaWaitCommitted(t, cl)
	var gone []map[string]*dto.MetricFamily
	newOwners := members[1:]
	if sig == 0 {
		members = append(members, startKafkaMember(t, addrs, "12s"))
		newOwners = members
	} else {
		victim := members[0]
		gone = append(gone, victim.metrics(t))
		if err := victim.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := victim.wait(t, 30*time.Second); sig == syscall.SIGTERM && code != 0 {
			t.Fatalf("exit code %d after SIGTERM:\n%s", code, victim.logs())
		}
	}
	waitKafkaOwned(t, newOwners...)
	// The second half pairs with spans of the first that wait (--pair-wait
	// 12s covers the stop and the rebalance, a few seconds).
	kafkaProduce(t, cl, w.recs[half:])
	v := checkKafkaExact(t, w, gone, newOwners...)
	replayed := 0.0
	for _, m := range newOwners {
		r, _ := value(m.metrics(t), "servicegraph_kafka_replayed_records_total")
		replayed += r
	}
	if replayed == 0 {
		t.Error("the new owners replayed nothing")
	}
	what := "a 4th member joined"
	if sig != 0 {
		what = map[syscall.Signal]string{syscall.SIGKILL: "kill -9", syscall.SIGTERM: "SIGTERM"}[sig] + " of 1 of 3"
	}
	t.Logf("%s after %d of %d records; %g records replayed by the new owners; %d links resolved exactly once (%g routed)",
		what, half, len(w.recs), replayed, w.links, v.produced)
}

// A spans topic written with another partitioner than the one configured
// is refused at start with the flag to use.
func TestKafkaWrongPartitioner(t *testing.T) {
	kc := newKafka(t)
	addrs := kc.ListenAddrs()
	var recs []*kgo.Record
	for i := range 60 {
		id := [16]byte{byte(i), 1, 2, 3, 15: byte(i)}
		td := ptrace.NewTraces()
		sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(id)
		sp.SetSpanID([8]byte{1})
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(hex.EncodeToString(id[:])), Value: b})
	}
	kafkaProduce(t, kafkaExporterClient(t, addrs, true), recs)
	s := launch(t, "", "serve", "--data-dir", t.TempDir(), "--kafka-brokers", strings.Join(addrs, ","))
	if code := s.wait(t, 60*time.Second); code == 0 {
		t.Fatalf("started with the wrong partitioner:\n%s", s.logs())
	}
	if log := s.logs(); !strings.Contains(log, "not where --kafka-partitioner sarama_compat puts them") ||
		!strings.Contains(log, "use --kafka-partitioner murmur2") {
		t.Fatalf("log does not say which partitioner to use:\n%s", log)
	}
}

package e2e

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/kafka/kafkatest"
)

// restartableKafka is a 3-broker kfake cluster that keeps its state on
// disk (kfake.DataDir: records, topics, groups and their committed
// offsets) so that restart brings the brokers back on the same ports
// with the same data: every connection drops, every client reconnects,
// as in a restart of all brokers of a real cluster.
type restartableKafka struct {
	c     *kfake.Cluster
	dir   string
	ports []int
	addrs []string
}

func newRestartableKafka(t *testing.T) *restartableKafka {
	t.Helper()
	k := &restartableKafka{dir: t.TempDir()}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(kafkaParts, "otlp_spans"),
		kfake.GroupMinSessionTimeout(500*time.Millisecond), kfake.DataDir(k.dir))
	if err != nil {
		t.Fatal(err)
	}
	k.c, k.addrs = c, c.ListenAddrs()
	for _, a := range k.addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		k.ports = append(k.ports, p)
	}
	t.Cleanup(func() { k.c.Close() })
	return k
}

// refuseCommits makes the brokers refuse every offset commit (an error
// on each partition, which the members count and retry at their next
// commit) until the returned function is called: a member killed meanwhile
// dies with what it handled since uncommitted, for certain (a kill
// between two commits, 200 ms apart, made sure of).
func (k *restartableKafka) refuseCommits(t *testing.T) (allow func()) {
	t.Helper()
	return kafkatest.RefuseCommits(k.c)
}

// restart stops every broker, keeps them down for down, and starts them
// again on the same ports from the data directory.
func (k *restartableKafka) restart(t *testing.T, down time.Duration) {
	t.Helper()
	k.c.Close()
	<-time.After(down) // the outage
	c, err := kfake.NewCluster(kfake.Ports(k.ports...), kfake.GroupMinSessionTimeout(500*time.Millisecond), kfake.DataDir(k.dir))
	if err != nil {
		t.Fatalf("restart the brokers on %v: %v", k.ports, err)
	}
	k.c = c
}

// The faults the mid-stream tests inject once half the workload is
// written.
const (
	faultSIGTERM    = iota // a rolling restart: SIGTERM one member, start it again on its data directory
	faultJoin              // a 4th member joins
	faultKill              // kill -9 of one member
	faultBroker            // every broker restarts (1 s down)
	faultBrokerLost        // every broker restarts (3 s down): every member's session ends
)

// newEdgeWindowKafka is the new-edge alert window of the mid-stream
// tests (the shipped rules say 15 minutes): short, so that an edge seen
// before the fault is old when it happens, and an alert for it after the
// fault is false.
const newEdgeWindowKafka = 3 * time.Second

// TestKafkaMidStreamSIGTERM: one of 3 members is stopped with SIGTERM
// while the Collector-shaped stream goes on and started again on its
// data directory (a rolling restart); the stream pairs across it. The
// summed edges equal the truth exactly, every link is resolved exactly
// once, no ServiceGraphUnresolvedLinks is ever active and no
// ServiceGraphNewEdge fires for an edge older than the alert window.
func TestKafkaMidStreamSIGTERM(t *testing.T) { testKafkaMidStream(t, faultSIGTERM) }

// TestKafkaMidStreamJoin is TestKafkaMidStreamSIGTERM with a 4th member
// joining mid-stream.
func TestKafkaMidStreamJoin(t *testing.T) { testKafkaMidStream(t, faultJoin) }

// TestKafkaMidStreamBrokerRestart is TestKafkaMidStreamSIGTERM with every
// broker restarted mid-stream (down 1 s, back on the same ports with its
// data and the group's members): the members and the producer reconnect,
// every member is in the group again with its share, no edge is counted
// less than the truth nor twice beyond what the group had not committed,
// and the link results are exact.
func TestKafkaMidStreamBrokerRestart(t *testing.T) { testKafkaMidStream(t, faultBroker) }

// TestKafkaMidStreamBrokerLost is TestKafkaMidStreamBrokerRestart with
// the brokers down 3 s, past the members' 2 s sessions: kfake forgets
// them, every member loses its partitions (forgetting what waits in them
// at once, keeping what it counted and holds) and joins again, and
// whoever gets a partition replays it, its old owner too.
func TestKafkaMidStreamBrokerLost(t *testing.T) { testKafkaMidStream(t, faultBrokerLost) }

// TestKafkaMidStreamKill9: kill -9 of one of 3 members mid-stream, once
// it has handled what was written and could not commit its last second
// (the brokers refuse the group's commits meanwhile). The two others
// replay and take over: no edge is counted less than the truth, the edges
// counted twice are at most the spans of the records after the group's
// committed offsets at the kill (what one commit interval covers), every
// link is resolved exactly once, none unresolved, and no false alert
// fires.
func TestKafkaMidStreamKill9(t *testing.T) { testKafkaMidStream(t, faultKill) }

func testKafkaMidStream(t *testing.T, fault int) {
	w := genKafkaWorkload(t, 150)
	k := newRestartableKafka(t)
	pairWait := "12s" // covers a stop and a rebalance, a few seconds
	extra := []string{"--kafka-first-seen-interval", "1s"}
	if fault == faultBroker {
		// kfake keeps the group's members across the restart with what
		// was left of their sessions (a real broker gives them a whole
		// new one): 15 s leaves them time to reconnect and to finish
		// the rebalance the first one back starts, on a loaded machine
		// too. With 6 s, a member's session sometimes ended while its
		// join waited, which kfake never answers: it stayed out for the
		// rebalance timeout + 10 s, longer than the pair wait.
		extra = append(extra, "--kafka-session-timeout", "15s")
	}
	if fault == faultBroker || fault == faultBrokerLost {
		// The workload has client → server pairs 33 chunks apart
		// (api-gateway>payment: the client in chunk 0, the server in
		// chunk 33, 8.25 s), and the stream stops while the brokers are
		// away: 2.5 s when every member keeps its session, 5 s when one
		// loses its partitions and joins again (3 s down: more). With
		// 12 s, such a client's wait ended before its server came, and
		// it became a virtual edge (what a pause longer than the pair
		// wait costs, README), failing the test about one run in seven.
		pairWait = "20s"
	}
	var members []*service
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	for _, d := range dirs {
		members = append(members, launchKafkaMember(t, d, k.addrs, pairWait, extra...))
	}
	for _, m := range members {
		m.waitStarted(t)
	}
	waitKafkaOwned(t, members...)
	prom := startKafkaProm(t, newEdgeWindowKafka, members...)
	cl := kafkaExporterClient(t, k.addrs, false)

	// The stream: 40 chunks, one every 250 ms; the fault after the 20th.
	const chunks, at = 40, 20
	var gone []map[string]*dto.MetricFamily
	var victim *service
	var window struct{ spans, linkRecords int64 } // kill -9: what the group had not committed
	allowCommits := func() {}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	began := time.Now()
	for i := range chunks {
		<-tick.C
		kafkaProduce(t, cl, w.recs[i*len(w.recs)/chunks:(i+1)*len(w.recs)/chunks])
		switch {
		case i == at-1 && fault == faultSIGTERM:
			victim = members[0]
			if err := victim.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		case i == at+3 && fault == faultSIGTERM: // back 1 s later, on its data directory
			if code := victim.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit code %d after SIGTERM:\n%s", code, victim.logs())
			}
			members[0] = launchKafkaMember(t, dirs[0], k.addrs, pairWait, extra...)
		case i == at-1 && fault == faultJoin:
			members = append(members, launchKafkaMember(t, t.TempDir(), k.addrs, pairWait, extra...))
		case i == at-1 && (fault == faultBroker || fault == faultBrokerLost):
			// kfake keeps records, topics, groups, commits and the
			// groups' members across the restart, each member with what
			// was left of its session. A member whose session runs out
			// before it is back loses its partitions and the group
			// rebalances: for counting, a crash of that member. What the
			// group had not committed is the bound; the stream resumes
			// once everything is committed again.
			window.spans, window.linkRecords = kafkaUncommitted(t, cl, w, members...)
			down := time.Second
			if fault == faultBrokerLost {
				down = 3 * time.Second
			}
			k.restart(t, down)
			kafkaWaitCommitted(t, cl)
		case i == at-4 && fault == faultKill:
			// The last second before the kill is handled and never
			// committed: what a kill between two commits leaves.
			allowCommits = k.refuseCommits(t)
		case i == at-1 && fault == faultKill:
			victim = members[0]
			window.spans, window.linkRecords = kafkaUncommitted(t, cl, w, victim)
			// Caught up: its counts at the kill (nothing more is shown
			// without a commit).
			gone = append(gone, victim.metrics(t))
			if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			victim.wait(t, 30*time.Second)
			members = members[1:]
			allowCommits()
		}
	}
	t.Logf("stream of %d records written in %s", len(w.recs), time.Since(began).Round(time.Millisecond))
	for _, m := range members {
		if m.api == "" {
			m.waitStarted(t)
		}
	}
	prom.scrape(t, members...)
	waitKafkaOwned(t, members...)
	if fault == faultSIGTERM || fault == faultJoin {
		v := checkKafkaExact(t, w, gone, members...)
		t.Logf("exact over the fault: %d edges, %d links resolved once (%g routed, %g link records dropped as duplicates)",
			len(w.truth.Edges), w.links, v.produced, v.duplicate)
	} else {
		checkKafkaBounded(t, w, gone, window.spans, window.linkRecords, members...)
	}
	if fault == faultBroker || fault == faultBrokerLost {
		// Whether partitions moved (the new owner replays them) or every
		// member went on with its own.
		var replayed float64
		for _, m := range members {
			r, _ := value(m.metrics(t), "servicegraph_kafka_replayed_records_total")
			replayed += r
		}
		t.Logf("records replayed after the restart: %g (0: no partition moved)", replayed)
	}
	checkKafkaAlerts(t, prom)
}

// kafkaUncommitted waits until the members have handled every record
// written so far (lag 0), then counts what the group has not committed
// yet: the spans of the spans-topic records and the link records after
// the committed offsets. A member killed now counts at most those again
// on their new owner.
func kafkaUncommitted(t *testing.T, cl *kgo.Client, w *kafkaWorkload, members ...*service) (spans, linkRecords int64) {
	t.Helper()
	adm := kadm.NewClient(cl)
	eventually(t, 30*time.Second, "the members to handle what was written", func() bool {
		for _, m := range members {
			if lag, ok := value(m.metrics(t), "servicegraph_kafka_consumer_lag_records"); !ok || lag != 0 {
				return false
			}
		}
		return true
	})
	committed, err := adm.FetchOffsets(ctx(t), "servicegraph")
	if err != nil {
		t.Fatal(err)
	}
	at := func(topic string, p int32) int64 {
		c, ok := committed.Lookup(topic, p)
		if !ok {
			return 0
		}
		return c.At
	}
	for _, r := range w.recs {
		if r.Topic == "" || r.Offset < at("otlp_spans", r.Partition) {
			continue // not written yet, or committed
		}
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(r.Value); err != nil {
			t.Fatal(err)
		}
		spans += int64(req.Traces().SpanCount())
	}
	ends, err := adm.ListEndOffsets(ctx(t), "otlp_spans_links")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) { linkRecords += o.Offset - at(o.Topic, o.Partition) })
	return spans, linkRecords
}

// checkKafkaBounded is checkKafkaExact after a crash: it waits until
// every edge is counted at least as often as the truth says, every link
// is resolved, nothing waits, lags or waits for a commit any more, then
// checks that the edges counted twice are at most the spans the group had
// not committed, and that the link results are exact: every link resolved
// once, none unresolved (a member shows what it counts only once its
// commit covers it, so what the next owner handles again it had not
// shown).
func checkKafkaBounded(t *testing.T, w *kafkaWorkload, gone []map[string]*dto.MetricFamily, spans, linkRecords int64, members ...*service) {
	t.Helper()
	want := map[string]uint64{}
	for _, e := range w.truth.Edges {
		want[e.Kind+" "+e.Source+">"+e.Target] = e.Count
	}
	var v *kafkaView
	var short []string
	var over, waiting uint64
	var held float64
	if !poll(60*time.Second, func() bool {
		v = kafkaViewOf(t, gone, members...)
		short, over, waiting, held = nil, 0, 0, 0
		for k, c := range want {
			got := v.edges[k].Count
			if got < c {
				short = append(short, k+": "+strconv.FormatUint(got, 10)+" < "+strconv.FormatUint(c, 10))
			} else {
				over += got - c
			}
		}
		for _, m := range members {
			fams := m.metrics(t)
			p, _ := value(fams, "servicegraph_pending_items", "queue", "clients")
			waiting += uint64(p)
			h, _ := value(fams, "servicegraph_kafka_held_records")
			held += h
		}
		return len(short) == 0 && v.resolved >= float64(w.links) && v.pendingLinks == 0 && waiting == 0 && v.lag == 0 && held == 0
	}) {
		var extra []string // where what is short may have gone instead
		for k, e := range v.edges {
			if c, ok := want[k]; !ok || e.Count > c {
				extra = append(extra, k+": "+strconv.FormatUint(e.Count, 10)+" > "+strconv.FormatUint(c, 10))
			}
		}
		slices.Sort(short)
		slices.Sort(extra)
		t.Fatalf("after 60s: %d links resolved of %d, %g pending, %d CLIENT spans waiting, lag %g, %g records held; edges short of the truth:\n%s\nedges over the truth or not in it:\n%s",
			int(v.resolved), w.links, v.pendingLinks, waiting, v.lag, held, strings.Join(short, "\n"), strings.Join(extra, "\n"))
	}
	for k := range v.edges {
		if _, ok := want[k]; !ok {
			t.Errorf("edge %s not in the truth", k)
		}
	}
	if over > uint64(spans) {
		t.Errorf("%d edge occurrences counted twice: more than the %d spans after the committed offsets at the fault", over, spans)
	}
	if v.resolved != float64(w.links) {
		t.Errorf("%g links resolved, want %d: %g resolved twice (%d link records were not committed at the fault)",
			v.resolved, w.links, v.resolved-float64(w.links), linkRecords)
	}
	if v.unresolved != 0 {
		t.Errorf("%g links unresolved or dropped: want 0", v.unresolved)
	}
	t.Logf("after the fault: %d edge occurrences counted twice (bound: %d uncommitted spans); %d links resolved once (%d link records uncommitted at the fault, %g re-produced ones dropped as duplicates)",
		over, spans, w.links, linkRecords, v.duplicate)
}

// checkKafkaAlerts waits for a few more rule evaluations, then checks
// that ServiceGraphUnresolvedLinks was never active, that the instances
// scraped now export each edge's earliest first-seen time ever scraped,
// and that the new-edge alerts never fired for an edge past its earliest first-seen time (over
// every member, gone ones included) plus the window: the false alert an
// instance that took over an old edge would raise.
func checkKafkaAlerts(t *testing.T, p *kafkaProm) {
	t.Helper()
	after := time.Now().Add(3 * time.Second)
	eventually(t, 30*time.Second, "three more rule evaluations", func() bool { return lastEvaluation(t, p.addr).After(after) })
	if ever, ok := p.vector(t, `max_over_time(ALERTS{alertname="ServiceGraphUnresolvedLinks"}[1h])`, "service", "alertstate"); !ok || len(ever) != 0 {
		t.Errorf("ServiceGraphUnresolvedLinks was active (pending or firing): %v (query ok %v)", ever, ok)
	}
	first, ok := p.vector(t, `min by (client, server, connection_type) (min_over_time(servicegraph_edge_first_seen_timestamp_seconds[1h]))`,
		"client", "server", "connection_type")
	if !ok || len(first) == 0 {
		t.Fatalf("no first-seen times in Prometheus (query ok %v)", ok)
	}
	// The instances scraped now export, for every edge they have, the
	// earliest first-seen time any instance ever exported (gone ones
	// included): the shared first-seen topic at work.
	current, ok := p.vector(t, `min by (client, server, connection_type) (servicegraph_edge_first_seen_timestamp_seconds)`,
		"client", "server", "connection_type")
	if !ok || len(current) == 0 {
		t.Fatalf("no current first-seen times in Prometheus (query ok %v)", ok)
	}
	for k, fs := range current {
		if fs > first[k]+0.001 {
			t.Errorf("edge %q: the instances now say first seen at %.3f, %.3fs after the earliest any instance said", k, fs, fs-first[k])
		}
	}
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	q := `ALERTS{alertname=~"ServiceGraphNewEdge|ServiceGraphNewAsyncEdge", alertstate="firing"}[1h]`
	if !promGet(t, p.addr, "/api/v1/query?query="+url.QueryEscape(q), &r) {
		t.Fatal("query ALERTS failed")
	}
	fired := 0
	for _, s := range r.Data.Result {
		k := s.Metric["client"] + " " + s.Metric["server"] + " " + s.Metric["connection_type"]
		fs, ok := first[k]
		if !ok {
			t.Errorf("%s fired for %q, which has no first-seen time", s.Metric["alertname"], k)
			continue
		}
		fired++
		last, _ := s.Values[len(s.Values)-1][0].(float64)
		if late := last - fs; late > newEdgeWindowKafka.Seconds()+1 {
			t.Errorf("%s fired for %q %.1fs after its first-seen time (window %s): a false new-edge alert",
				s.Metric["alertname"], k, late, newEdgeWindowKafka)
		}
	}
	if fired == 0 {
		t.Error("no new-edge alert fired at all: the check saw nothing")
	}
	t.Logf("new-edge alerts: %d series, none past its edge's first-seen + %s; ServiceGraphUnresolvedLinks never active", fired, newEdgeWindowKafka)
}

package pairing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/cputime"
	"github.com/servicegraph/servicegraph/pairing"
)

func brokers(c *pairing.Config) { c.BrokerNodes = true }

// dest is a span's messaging.destination.name.
func dest(name string) map[string]string {
	return map[string]string{"messaging.destination.name": name, "messaging.system": "kafka"}
}

// TestBrokerNodes: with --broker-nodes a messaging pair is drawn producer →
// topic → consumer, each half counted once per pair, the delay on topic →
// consumer; without a destination, or with the option off, the direct edge
// as before. Every arrival order, both decoders.
func TestBrokerNodes(t *testing.T) {
	childOf := []sp{
		{svc: "orders", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
		{svc: "orders", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindProducer, startMs: 10, end: 12, attrs: dest("orders-topic")},
		{svc: "billing", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindConsumer, startMs: 20, end: 30, attrs: dest("orders-topic")},
	}
	linked := []sp{
		{svc: "orders", trace: 1, id: 2, kind: ptrace.SpanKindProducer, startMs: 10, end: 12, attrs: dest("orders-topic")},
		{svc: "billing", trace: 2, id: 3, kind: ptrace.SpanKindConsumer, startMs: 20, end: 30, attrs: dest("orders-topic"),
			links: [][2]byte{{1, 2}}},
		{svc: "audit", trace: 3, id: 4, kind: ptrace.SpanKindConsumer, startMs: 40, end: 41, attrs: dest("orders-topic"),
			links: [][2]byte{{1, 2}}, err: true},
	}
	noDest := []sp{
		{svc: "orders", trace: 1, id: 2, kind: ptrace.SpanKindProducer, startMs: 10, end: 12},
		{svc: "billing", trace: 2, id: 3, kind: ptrace.SpanKindConsumer, startMs: 20, end: 30, links: [][2]byte{{1, 2}}},
	}
	runFidelity(t, []fidelityCase{
		{name: "child of its producer, off", spans: childOf,
			edges: []string{"orders>billing:messaging_system 1/0", "user>orders:virtual_node 1/0"},
			hists: []string{"orders>billing:messaging_system delay=1/0.008", "orders>billing:messaging_system server=1/0.01",
				"orders>billing:messaging_system client=1/0.002", "user>orders:virtual_node server=1/0.05"}},
		{name: "child of its producer", spans: childOf, cfg: brokers,
			edges: []string{"orders>orders-topic:messaging_system 1/0", "orders-topic>billing:messaging_system 1/0",
				"user>orders:virtual_node 1/0"},
			hists: []string{"orders>orders-topic:messaging_system server=1/0.002", "orders>orders-topic:messaging_system client=1/0.002",
				"orders-topic>billing:messaging_system delay=1/0.008", "orders-topic>billing:messaging_system server=1/0.01",
				"user>orders:virtual_node server=1/0.05"}},
		{name: "linked from two consumers, one failed", spans: linked, cfg: brokers,
			edges: []string{"orders>orders-topic:messaging_system 2/0", "orders-topic>audit:messaging_system 1/1",
				"orders-topic>billing:messaging_system 1/0"},
			links: []string{"audit resolved 1", "billing resolved 1"}},
		{name: "linked from two consumers, off", spans: linked,
			edges: []string{"orders>audit:messaging_system 1/1", "orders>billing:messaging_system 1/0"},
			links: []string{"audit resolved 1", "billing resolved 1"}},
		{name: "a filtered span before the pair", spans: append([]sp{{svc: "health", trace: 9, id: 9, kind: ptrace.SpanKindServer, end: 1}}, childOf...),
			cfg: func(c *pairing.Config) {
				c.BrokerNodes = true
				c.FilterPolicies = []pairing.FilterPolicy{policy(nil, match("strict", "resource.service.name", "health"))}
			}, filtered: 1,
			edges: []string{"orders>orders-topic:messaging_system 1/0", "orders-topic>billing:messaging_system 1/0",
				"user>orders:virtual_node 1/0"}},
		{name: "no destination: the direct edge", spans: noDest, cfg: brokers,
			edges: []string{"orders>billing:messaging_system 1/0"}, links: []string{"billing resolved 1"}},
	})
}

// TestBrokerNodeKind: the topic is a node of kind topic, its detail the
// messaging.system; a name also seen as a service stays a service.
func TestBrokerNodeKind(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	cfg.BrokerNodes = true
	p, g, _ := newPipeline(t, cfg)
	consume(t, p, traces(
		sp{svc: "orders", trace: 1, id: 2, kind: ptrace.SpanKindProducer, startMs: 10, end: 12, attrs: dest("orders-topic")},
		sp{svc: "billing", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindConsumer, startMs: 20, end: 30, attrs: dest("orders-topic")},
		sp{svc: "billing", trace: 2, id: 4, kind: ptrace.SpanKindProducer, startMs: 10, end: 12, attrs: dest("orders")},
		sp{svc: "orders", trace: 2, id: 5, parent: 4, kind: ptrace.SpanKindConsumer, startMs: 20, end: 30, attrs: dest("orders")},
	))
	p.Flush()
	var got []string
	for _, n := range g.Snapshot().Nodes {
		got = append(got, n.Name+" "+n.Kind.String()+" "+n.Detail)
	}
	want := []string{"billing service ", "orders service ", "orders-topic topic kafka", "user virtual "}
	if !slices.Equal(got, want) {
		t.Errorf("nodes: got %q, want %q", got, want)
	}
	if k := graph.TopicNode; k.Rank() <= graph.DatabaseNode.Rank() || k.Rank() >= graph.ServiceNode.Rank() {
		t.Errorf("topic rank %d", k.Rank())
	}
}

// BenchmarkBrokerCost measures the workload (whose messaging spans name
// their destination) through ConsumeTracesProto with broker nodes off and
// on.
func BenchmarkBrokerCost(b *testing.B) {
	recs, _, spans := workloadRecords(b)
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			topics := 0
			for b.Loop() {
				b.StopTimer()
				cfg := benchConfig()
				cfg.BrokerNodes = on
				g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
				p, err := pairing.New(cfg, pairing.Settings{}, g)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu0 := cputime.Process()
				for _, r := range recs {
					if err := p.ConsumeTracesProto(context.Background(), r); err != nil {
						b.Fatal(err)
					}
				}
				cpu += cputime.Process() - cpu0
				b.StopTimer()
				topics = 0
				for _, n := range g.Snapshot().Nodes {
					if n.Kind == graph.TopicNode {
						topics++
					}
				}
				b.StartTimer()
			}
			if on != (topics > 0) {
				b.Fatalf("broker nodes %v: %d topic nodes", on, topics)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans*b.N), "cpu-ns/span")
			b.ReportMetric(float64(topics), "topics")
		})
	}
}

package pairing_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// fidelityCase is spans and the exact graph they make, in every arrival
// order and through both decoders.
type fidelityCase struct {
	name  string
	spans []sp
	cfg   func(*pairing.Config) // nil: the defaults
	edges []string              // edgesOf
	links []string              // linksOf
	hists []string              // histsOf, when set
	// toParent is Stats.LinksToParent: links to the span's own parent
	// that made no edge.
	toParent uint64
	// mutate changes the request before it is split (attributes the
	// sp form has no field for); nil: none.
	mutate func(ptrace.Traces)
	// filtered is Stats.SpansFiltered for one delivery of each span.
	filtered uint64
}

// feeds are the two ways a request reaches pairing: pdata and protobuf.
var feeds = map[string]func(p *pairing.Processor, td ptrace.Traces) error{
	"pdata": func(p *pairing.Processor, td ptrace.Traces) error { return p.ConsumeTraces(context.Background(), td) },
	"proto": func(p *pairing.Processor, td ptrace.Traces) error {
		buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return err
		}
		return p.ConsumeTracesProto(context.Background(), buf)
	},
}

// histsOf lists each edge's histograms that have observations:
// "client>server:kind h=count/sum" with h one of server, client, delay
// (an async edge's delay first, then its span durations).
func histsOf(s *graph.Snapshot) []string {
	var out []string
	for _, e := range s.Edges {
		for i, h := range e.Hist {
			if h.Count == 0 {
				continue
			}
			name := [...]string{"server", "client"}[i]
			if e.Kind.Async() && i == 0 {
				name = "delay"
			}
			out = append(out, fmt.Sprintf("%s>%s:%s %s=%d/%g", e.Client, e.Server, e.Kind, name, h.Count, h.Sum))
		}
		for i, h := range e.AsyncHist {
			if h.Count > 0 {
				out = append(out, fmt.Sprintf("%s>%s:%s %s=%d/%g", e.Client, e.Server, e.Kind, [...]string{"server", "client"}[i], h.Count, h.Sum))
			}
		}
	}
	return out
}

func runFidelity(t *testing.T, tests []fidelityCase) {
	t.Helper()
	for _, tc := range tests {
		td := traces(tc.spans...)
		if tc.mutate != nil {
			tc.mutate(td)
		}
		for fname, feed := range feeds {
			for vname, reqs := range variants(td) {
				t.Run(tc.name+"/"+fname+"/"+vname, func(t *testing.T) {
					cfg := pairing.NewDefaultConfig()
					cfg.MaxIndexSpans, cfg.MaxPendingSpans, cfg.MaxPendingLinks, cfg.Shards = 1<<12, 1<<12, 1<<12, 4
					if tc.cfg != nil {
						tc.cfg(&cfg)
					}
					p, g, _ := newPipeline(t, cfg)
					for _, td := range reqs {
						if err := feed(p, td); err != nil {
							t.Fatal(err)
						}
					}
					p.Flush()
					snap := g.Snapshot()
					if got := edgesOf(snap); !slices.Equal(got, tc.edges) {
						t.Errorf("edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.edges, "\n     "))
					}
					if got := linksOf(snap); !slices.Equal(got, tc.links) {
						t.Errorf("links: got %q, want %q", got, tc.links)
					}
					if tc.hists != nil {
						if got := histsOf(snap); !slices.Equal(got, tc.hists) {
							t.Errorf("histograms:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.hists, "\n     "))
						}
					}
					st := p.Stats()
					if st.LinksToParent != tc.toParent {
						t.Errorf("links to the own parent without an edge: %d, want %d", st.LinksToParent, tc.toParent)
					}
					wantFiltered := tc.filtered
					if vname == "delivered-twice" {
						wantFiltered *= 2
					}
					if st.SpansFiltered != wantFiltered {
						t.Errorf("filtered spans: %d, want %d", st.SpansFiltered, wantFiltered)
					}
					checkAccounting(t, st)
				})
			}
		}
	}
}

// TestLinkToOwnParent: a link whose target is the span's own parent adds
// nothing beyond the parent-child edge, and counts resolved.
func TestLinkToOwnParent(t *testing.T) {
	runFidelity(t, []fidelityCase{
		{name: "consumer child of and linked to its producer", spans: []sp{
			{svc: "orders", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
			{svc: "orders", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindProducer, startMs: 10, end: 12},
			{svc: "billing", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindConsumer, startMs: 20, end: 30, links: [][2]byte{{1, 2}}},
		}, edges: []string{"orders>billing:messaging_system 1/0", "user>orders:virtual_node 1/0"},
			links: []string{"billing resolved 1"}, toParent: 1},
		{name: "server linking its parent client", spans: []sp{
			{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
			{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 40},
			{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 35, links: [][2]byte{{1, 2}}},
		}, edges: []string{"user>web:virtual_node 1/0", "web>api:call 1/0"},
			links: []string{"api resolved 1"}, toParent: 1},
		{name: "a link to a parent the pair makes no edge with counts", spans: []sp{
			{svc: "saga", trace: 1, id: 1, kind: ptrace.SpanKindInternal, end: 50},
			{svc: "saga", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindInternal, startMs: 60, end: 70, links: [][2]byte{{1, 1}}},
		}, edges: []string{"saga>saga:span_link 1/0"}, links: []string{"saga resolved 1"}},
		{name: "a link to another span of the trace still counts", spans: []sp{
			{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
			{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 40},
			{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 35, links: [][2]byte{{1, 1}}},
		}, edges: []string{"user>web:virtual_node 1/0", "web>api:call 1/0", "web>api:span_link 1/0"},
			links: []string{"api resolved 1"}},
	})
}

// TestLateServerAfterVirtualEdge: a SERVER span arriving after its CLIENT
// expired into a virtual_node (or database) edge is not counted again.
func TestLateServerAfterVirtualEdge(t *testing.T) {
	for _, attrs := range []map[string]string{{"peer.service": "stripe"}, {"db.system": "postgresql", "db.name": "pay"}} {
		t.Run(fmt.Sprint(attrs), func(t *testing.T) {
			p, g, c := newPipeline(t, pairing.NewDefaultConfig())
			consume(t, p, traces(
				sp{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
				sp{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 40, attrs: attrs}))
			c.t = c.t.Add(time.Minute)
			p.Expire(c.t)
			consume(t, p, traces(sp{svc: "stripe", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 35}))
			p.Flush()
			peer, kind := "stripe", "virtual_node"
			if attrs["db.name"] != "" {
				peer, kind = "pay", "database"
			}
			want := []string{"user>web:virtual_node 1/0", "web>" + peer + ":" + kind + " 1/0"}
			if got := edgesOf(g.Snapshot()); !slices.Equal(got, want) {
				t.Errorf("edges: got %q, want %q", got, want)
			}
			checkAccounting(t, p.Stats())
		})
	}
}

// TestDatabaseNames: a database is named by db.namespace, db.name, the
// peer attributes, and only then the db system; the list is configurable.
func TestDatabaseNames(t *testing.T) {
	db := func(attrs map[string]string) []sp {
		return []sp{
			{svc: "api", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
			{svc: "api", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 20, attrs: attrs},
		}
	}
	tempoOrder := func(c *pairing.Config) {
		c.DatabaseNameAttributes = []string{"peer.service", "server.address", "network.peer.address", "db.name"}
	}
	runFidelity(t, []fidelityCase{
		{name: "namespace first", spans: db(map[string]string{"db.system.name": "postgresql", "db.namespace": "orders",
			"db.name": "old", "server.address": "pg-1"}),
			edges: []string{"api>orders:database 1/0", "user>api:virtual_node 1/0"}},
		{name: "db.name", spans: db(map[string]string{"db.system": "postgresql", "db.name": "orders", "peer.service": "pg"}),
			edges: []string{"api>orders:database 1/0", "user>api:virtual_node 1/0"}},
		{name: "peer.service before the address", spans: db(map[string]string{"db.system": "postgresql", "peer.service": "pg",
			"server.address": "pg-1.internal"}),
			edges: []string{"api>pg:database 1/0", "user>api:virtual_node 1/0"}},
		{name: "server.address, not the system", spans: db(map[string]string{"db.system.name": "postgresql", "server.address": "pg-1.internal"}),
			edges: []string{"api>pg-1.internal:database 1/0", "user>api:virtual_node 1/0"}},
		{name: "network.peer.address with its port", spans: db(map[string]string{"db.system": "redis",
			"network.peer.address": "10.0.0.7", "network.peer.port": "6379"}),
			edges: []string{"api>10.0.0.7:6379:database 1/0", "user>api:virtual_node 1/0"}},
		{name: "the system last", spans: db(map[string]string{"db.system.name": "postgresql", "db.system": "postgres"}),
			edges: []string{"api>postgresql:database 1/0", "user>api:virtual_node 1/0"}},
		{name: "Tempo's order", spans: db(map[string]string{"db.system": "postgresql", "db.name": "orders", "server.address": "pg-1"}),
			cfg: tempoOrder, edges: []string{"api>pg-1:database 1/0", "user>api:virtual_node 1/0"}},
		{name: "no attribute of the list: no database node", spans: db(map[string]string{"db.system": "postgresql"}),
			cfg: tempoOrder, edges: []string{"user>api:virtual_node 1/0"}},
	})
}

// TestAnonymousServer: a SERVER span without a service.name whose client
// names its peer makes client → peer, as an uninstrumented peer would.
func TestAnonymousServer(t *testing.T) {
	spans := func(peer map[string]string) []sp {
		return []sp{
			{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
			{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 40, attrs: peer},
			{svc: "", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 35, err: true},
		}
	}
	runFidelity(t, []fidelityCase{
		{name: "client names its peer", spans: spans(map[string]string{"peer.service": "stripe"}),
			edges: []string{"user>web:virtual_node 1/0", "web>stripe:virtual_node 1/1"},
			hists: []string{"user>web:virtual_node server=1/0.05", "web>stripe:virtual_node server=1/0.02",
				"web>stripe:virtual_node client=1/0.03"}},
		{name: "client names no peer: a call to unknown_service", spans: spans(nil),
			edges: []string{"user>web:virtual_node 1/0", "web>unknown_service:call 1/1"}},
	})
}

// TestRootCaller: a root SERVER or CONSUMER span that names its caller
// gets a virtual_node edge from it; user stays the fallback of SERVER
// spans; the attribute list is configurable.
func TestRootCaller(t *testing.T) {
	root := func(kind ptrace.SpanKind, attrs map[string]string) []sp {
		return []sp{{svc: "worker", trace: 1, id: 1, kind: kind, end: 50, attrs: attrs}}
	}
	runFidelity(t, []fidelityCase{
		{name: "consumer names its producer", spans: root(ptrace.SpanKindConsumer, map[string]string{"peer.service": "legacy-producer"}),
			edges: []string{"legacy-producer>worker:virtual_node 1/0"}},
		{name: "server names its caller", spans: root(ptrace.SpanKindServer, map[string]string{"service.peer.name": "cron"}),
			edges: []string{"cron>worker:virtual_node 1/0"}},
		{name: "an address is no caller by default", spans: root(ptrace.SpanKindServer, map[string]string{"client.address": "10.1.2.3"}),
			edges: []string{"user>worker:virtual_node 1/0"}},
		{name: "unless asked", spans: root(ptrace.SpanKindServer, map[string]string{"client.address": "10.1.2.3"}),
			cfg:   func(c *pairing.Config) { c.CallerAttributes = []string{"peer.service", "client.address"} },
			edges: []string{"10.1.2.3>worker:virtual_node 1/0"}},
		{name: "a consumer naming none has no caller", spans: root(ptrace.SpanKindConsumer, nil)},
		{name: "a caller named user is not the synthetic user", spans: root(ptrace.SpanKindServer, map[string]string{"peer.service": "user"}),
			edges: []string{"user~>worker:virtual_node 1/0"}},
	})
}

// TestDurationsOnEveryKind: every edge kind has server and client duration
// histograms as Tempo records them (database and peer edges: server = the
// client's duration; messaging: consumer and producer; span links: the
// linking and the linked-to span), the async delays unchanged. root → user
// edges have the server's only.
func TestDurationsOnEveryKind(t *testing.T) {
	runFidelity(t, []fidelityCase{{name: "every kind", spans: []sp{
		{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 100},
		{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 50},
		{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 45},
		{svc: "api", trace: 1, id: 4, parent: 3, kind: ptrace.SpanKindClient, startMs: 20, end: 24,
			attrs: map[string]string{"db.system": "postgresql", "db.name": "orders"}},
		{svc: "api", trace: 1, id: 5, parent: 3, kind: ptrace.SpanKindClient, startMs: 25, end: 33,
			attrs: map[string]string{"peer.service": "stripe"}},
		{svc: "api", trace: 1, id: 6, parent: 3, kind: ptrace.SpanKindProducer, startMs: 34, end: 36},
		{svc: "mail", trace: 1, id: 7, parent: 6, kind: ptrace.SpanKindConsumer, startMs: 40, end: 56},
		{svc: "batch", trace: 2, id: 8, kind: ptrace.SpanKindInternal, startMs: 200, end: 264, links: [][2]byte{{1, 3}}},
	}, edges: []string{
		"api>batch:span_link 1/0",
		"api>mail:messaging_system 1/0",
		"api>orders:database 1/0",
		"api>stripe:virtual_node 1/0",
		"user>web:virtual_node 1/0",
		"web>api:call 1/0",
	}, links: []string{"batch resolved 1"}, hists: []string{
		"api>batch:span_link delay=1/0.155",
		"api>batch:span_link server=1/0.064",
		"api>batch:span_link client=1/0.03",
		"api>mail:messaging_system delay=1/0.004",
		"api>mail:messaging_system server=1/0.016",
		"api>mail:messaging_system client=1/0.002",
		"api>orders:database server=1/0.004",
		"api>orders:database client=1/0.004",
		"api>stripe:virtual_node server=1/0.008",
		"api>stripe:virtual_node client=1/0.008",
		"user>web:virtual_node server=1/0.1",
		"web>api:call server=1/0.03",
		"web>api:call client=1/0.04",
	}}})
}

// TestSamplingWeights: a sampled span stands for several: from the
// tracestate's ot=th: threshold (th:c keeps 1 in 4) or from the span
// multiplier attribute; counts, failed counts and histograms are weighted.
func TestSamplingWeights(t *testing.T) {
	quarter := "ot=th:c"
	runFidelity(t, []fidelityCase{
		{name: "threshold", spans: []sp{
			{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 100, traceState: quarter},
			{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 50, traceState: quarter},
			{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 45, err: true, traceState: quarter},
			{svc: "api", trace: 1, id: 4, parent: 3, kind: ptrace.SpanKindClient, startMs: 20, end: 30, traceState: quarter,
				attrs: map[string]string{"peer.service": "stripe"}},
			{svc: "batch", trace: 2, id: 5, kind: ptrace.SpanKindInternal, startMs: 200, end: 210, links: [][2]byte{{1, 3}},
				traceState: "vendor=x,ot=rv:ab;th:8"},
		}, edges: []string{
			"api>batch:span_link 2/2",
			"api>stripe:virtual_node 4/0",
			"user>web:virtual_node 4/0",
			"web>api:call 4/4",
		}, links: []string{"batch resolved 1"}, hists: []string{
			"api>batch:span_link delay=2/0.31",
			"api>batch:span_link server=2/0.02",
			"api>batch:span_link client=2/0.06",
			"api>stripe:virtual_node server=4/0.04",
			"api>stripe:virtual_node client=4/0.04",
			"user>web:virtual_node server=4/0.4",
			"web>api:call server=4/0.12",
			"web>api:call client=4/0.16",
		}},
		{name: "multiplier attribute, before the threshold", cfg: func(c *pairing.Config) { c.SpanMultiplierKey = "sampling.weight" },
			spans: []sp{
				{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 100, traceState: quarter,
					attrs: map[string]string{"sampling.weight": "10"}},
			}, edges: []string{"user>web:virtual_node 10/0"}},
		{name: "multiplier key not configured", spans: []sp{
			{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 100, attrs: map[string]string{"sampling.weight": "10"}},
		}, edges: []string{"user>web:virtual_node 1/0"}},
	})
}

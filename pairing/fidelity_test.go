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
// "client>server:kind h=count/sum" with h one of server, client, delay.
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
	}
	return out
}

func runFidelity(t *testing.T, tests []fidelityCase) {
	t.Helper()
	for _, tc := range tests {
		for fname, feed := range feeds {
			for vname, reqs := range variants(traces(tc.spans...)) {
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
					checkAccounting(t, p.Stats())
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
			links: []string{"billing resolved 1"}},
		{name: "server linking its parent client", spans: []sp{
			{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 50},
			{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 10, end: 40},
			{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 35, links: [][2]byte{{1, 2}}},
		}, edges: []string{"user>web:virtual_node 1/0", "web>api:call 1/0"},
			links: []string{"api resolved 1"}},
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

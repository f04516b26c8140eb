package pairing_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is an injected clock tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newPipeline(t testing.TB, cfg pairing.Config) (*pairing.Processor, *graph.Store, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.now})
	p, err := pairing.New(cfg, pairing.Settings{Now: c.now}, g)
	if err != nil {
		t.Fatal(err)
	}
	return p, g, c
}

func load(t testing.TB, name string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "traces", name))
	if err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return td
}

// singles splits td into one request per span, each with its resource.
func singles(td ptrace.Traces) []ptrace.Traces {
	var out []ptrace.Traces
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				one := ptrace.NewTraces()
				nrs := one.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(nrs.Resource())
				nss := nrs.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(nss.Scope())
				sp.CopyTo(nss.Spans().AppendEmpty())
				out = append(out, one)
			}
		}
	}
	return out
}

// merge packs requests into groups of the given sizes, in order.
func merge(reqs []ptrace.Traces, r *rand.Rand) []ptrace.Traces {
	var out []ptrace.Traces
	for len(reqs) > 0 {
		n := 1 + r.IntN(min(len(reqs), 4))
		td := ptrace.NewTraces()
		for _, one := range reqs[:n] {
			one.ResourceSpans().At(0).CopyTo(td.ResourceSpans().AppendEmpty())
		}
		out = append(out, td)
		reqs = reqs[n:]
	}
	return out
}

// variants returns the ways the same spans may arrive.
func variants(td ptrace.Traces) map[string][]ptrace.Traces {
	one := singles(td)
	rev := slices.Clone(one)
	slices.Reverse(rev)
	v := map[string][]ptrace.Traces{"whole": {td}, "span-per-request": one, "reversed": rev}
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		sh := slices.Clone(one)
		r.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
		v[fmt.Sprintf("shuffled-%d", seed)] = sh
		v[fmt.Sprintf("split-%d", seed)] = merge(sh, r)
	}
	v["delivered-twice"] = append(slices.Clone(one), rev...)
	return v
}

func edgesOf(s *graph.Snapshot) []string {
	var out []string
	for _, e := range s.Edges {
		out = append(out, fmt.Sprintf("%s>%s:%s %d/%d", e.Client, e.Server, e.Kind, e.Count, e.Failed))
	}
	return out
}

func linksOf(s *graph.Snapshot) []string {
	var out []string
	for _, n := range s.Nodes {
		for r, c := range n.Links {
			if c > 0 {
				out = append(out, fmt.Sprintf("%s %s %d", n.Name, graph.LinkResult(r), c))
			}
		}
	}
	return out
}

func TestEdges(t *testing.T) {
	tests := []struct {
		file  string
		edges []string
		links []string
	}{
		{"calls.json", []string{
			"checkout>orders:database 1/0",
			"checkout>payments:call 1/0",
			"checkout>redis.internal:database 1/1", // server.address before db.system
			"checkout>worker:call 1/0",
			"frontend>checkout:call 2/1",
			"payments>stripe-api:virtual_node 1/0",
			"user>frontend:virtual_node 2/0",
			"user>unknown_service:virtual_node 1/0",
		}, nil},
		{"messaging.json", []string{
			"billing>analytics:messaging_system 1/0",
			"notifications>mongodb:database 1/0",
			"orders>analytics:messaging_system 2/1",
			"orders>audit:span_link 1/0",
			"orders>notifications:messaging_system 1/0",
			"orders>shipping:messaging_system 1/0",
			"user>orders:virtual_node 1/0",
		}, []string{"analytics resolved 3", "audit resolved 1", "notifications resolved 1"}},
		{"links.json", []string{
			"cart>reporting-batch:span_link 1/1",
			"checkout>reporting-batch:span_link 2/0",
			"payments>payments:span_link 1/1",
			"payments>stripe-api:virtual_node 2/1",
			"reporting-batch>warehouse:database 1/0",
			"saga>saga:span_link 1/0",
			"user>cart:virtual_node 1/1",
			"user>checkout:virtual_node 2/0",
			"user>payments:virtual_node 1/0",
		}, []string{"cdc unresolved 1", "cdc invalid 2", "payments resolved 1", "reporting-batch resolved 3", "saga resolved 1"}},
		{"consumer50.json", []string{
			"billing>ledger:messaging_system 17/2",
			"inventory>ledger:messaging_system 16/1",
			"orders>ledger:messaging_system 17/2",
		}, []string{"ledger resolved 50"}},
	}
	for _, tc := range tests {
		for name, reqs := range variants(load(t, tc.file)) {
			t.Run(tc.file+"/"+name, func(t *testing.T) {
				cfg := pairing.NewDefaultConfig()
				cfg.MaxIndexSpans, cfg.MaxPendingSpans, cfg.MaxPendingLinks = 1<<12, 1<<12, 1<<12
				p, g, _ := newPipeline(t, cfg)
				for _, td := range reqs {
					if err := p.ConsumeTraces(context.Background(), td); err != nil {
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
				checkAccounting(t, p.Stats())
			})
		}
	}
}

// checkAccounting asserts that every received span is accounted for once.
func checkAccounting(t *testing.T, st pairing.Stats) {
	t.Helper()
	sum := st.SpansRejected + st.SpansFiltered + st.SpansNodeOverflow + st.SpansDuplicate + st.SpansRoot + st.SpansPaired + st.ExpiredChildren +
		st.DroppedChildren + uint64(st.PendingChildren)
	if sum != st.SpansReceived {
		t.Errorf("accounting: received %d != rejected+filtered+overflow+duplicate+root+paired+expired+dropped+pending = %d (%+v)",
			st.SpansReceived, sum, st)
	}
}

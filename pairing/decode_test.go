package pairing

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
)

// rootServers is a request of one resource per service, each with n root
// SERVER spans (trace i+1 of service i, span ids 1..n).
func rootServers(services []string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	for i, svc := range services {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		ss := rs.ScopeSpans().AppendEmpty()
		for j := range n {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{15: byte(i + 1)})
			sp.SetSpanID(pcommon.SpanID{7: byte(j + 1)})
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(1e9)
			sp.SetEndTimestamp(2e9)
		}
	}
	return td
}

// Spans of a service whose node id does not fit the span index's 24 bits
// are refused and counted, on both decoding paths, instead of being
// attributed to the node their id wraps to. The limit is lowered to 3 here
// (ids 0..3: user, a, b, c); 2^24 nodes do not fit a unit test.
func TestNodeIDOverflow(t *testing.T) {
	td := rootServers([]string{"a", "b", "c", "d", "e"}, 2)
	buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	for _, wire := range []bool{false, true} {
		t.Run(fmt.Sprint("wire ", wire), func(t *testing.T) {
			g := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{})
			p, err := New(NewDefaultConfig(), Settings{}, g)
			if err != nil {
				t.Fatal(err)
			}
			p.maxNodeID = 3
			if wire {
				err = p.ConsumeTracesProto(context.Background(), buf)
			} else {
				err = p.ConsumeTraces(context.Background(), td)
			}
			if err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			if st.SpansReceived != 10 || st.SpansNodeOverflow != 4 || st.SpansRoot != 6 || st.SpansRejected != 0 {
				t.Fatalf("stats %+v, want 10 received, 4 node overflow, 6 roots", st)
			}
			var got []string
			for _, e := range g.Snapshot().Edges {
				got = append(got, fmt.Sprintf("%s→%s %d", e.Client, e.Server, e.Count))
			}
			if want := fmt.Sprint([]string{"user→a 2", "user→b 2", "user→c 2"}); fmt.Sprint(got) != want {
				t.Fatalf("edges %v, want %s", got, want)
			}
		})
	}
}

// MaxNodes is what meta's service field holds.
func TestMaxNodes(t *testing.T) {
	if MaxNodes != 1<<24 || meta(packMeta(MaxNodes-1, kindClient, true)).svc() != MaxNodes-1 {
		t.Fatalf("MaxNodes %d does not round-trip through meta", MaxNodes)
	}
}

// Past graph.Config.MaxNodes, names fold into graph.OverflowNode and every
// lookup the graph does not remember is counted: the peer cache of
// resolve must not change those counts, whichever decoder made the records.
func TestPeerLookupOverflowCounts(t *testing.T) {
	td := ptrace.NewTraces()
	for _, svc := range []string{"a", "b"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		ss := rs.ScopeSpans().AppendEmpty()
		for i := range 40 {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{15: 1})
			sp.SetSpanID(pcommon.SpanID{6: 1, 7: byte(i + 1)})
			sp.SetKind(ptrace.SpanKindClient)
			sp.Attributes().PutStr("peer.service", "peer-"+string(rune('a'+i/3)))
		}
	}
	buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	run := func(cached bool) [2]uint64 {
		gcfg := graph.NewDefaultConfig()
		gcfg.MaxNodes = 4
		g := graph.MustNew(gcfg, graph.Settings{})
		cfg := NewDefaultConfig()
		cfg.Shards, cfg.MaxIndexSpans, cfg.MaxPendingSpans, cfg.MaxPendingLinks = 1, 1024, 1024, 1024
		p, err := New(cfg, Settings{}, g)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if cached {
				err = p.ConsumeTracesProto(context.Background(), buf)
			} else { // one lookup per span, as the graph counts them
				for i := 0; i < td.ResourceSpans().Len(); i++ {
					rs := td.ResourceSpans().At(i)
					svc, _ := rs.Resource().Attributes().Get("service.name")
					g.Node(svc.Str(), graph.ServiceNode)
					spans := rs.ScopeSpans().At(0).Spans()
					for j := 0; j < spans.Len(); j++ {
						v, _ := spans.At(j).Attributes().Get("peer.service")
						p.peerNode(v.Str(), graph.Virtual)
					}
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		st := g.Stats()
		return [2]uint64{uint64(st.Nodes), st.NodesOverflowed}
	}
	uncached, cached := run(false), run(true)
	if uncached[1] == 0 || uncached != cached {
		t.Fatalf("nodes, overflowed: one lookup per span %v, resolve %v", uncached, cached)
	}
}

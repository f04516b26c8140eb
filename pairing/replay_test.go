package pairing_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// record is td as a Kafka record value (otlp_proto).
func record(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// consumeRecord hands one record, collecting the links it routes.
func consumeRecord(t *testing.T, p *pairing.Processor, td ptrace.Traces, replay bool) []pairing.RoutedLink {
	t.Helper()
	return consumeAt(t, p, td, pairing.Record{Replay: replay})
}

func consumeAt(t *testing.T, p *pairing.Processor, td ptrace.Traces, rec pairing.Record) []pairing.RoutedLink {
	t.Helper()
	var out []pairing.RoutedLink
	if err := p.ConsumeRecord(context.Background(), record(t, td), rec, func(l *pairing.RoutedLink) {
		out = append(out, *l)
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A live record's link whose target is not indexed is routed (names,
// not node ids) and counted nowhere by its sender; the member owning the
// target resolves it and alone counts the edge and the link result. A
// link whose target is indexed locally is counted locally, not routed.
func TestRoutedLinkCountedByTargetOwner(t *testing.T) {
	a, ga, _ := newPipeline(t, pairing.NewDefaultConfig())
	b, gb, _ := newPipeline(t, pairing.NewDefaultConfig())
	// b owns trace 9: a PRODUCER span.
	if r := consumeRecord(t, b, traces(sp{svc: "orders", trace: 9, id: 1, kind: ptrace.SpanKindProducer, startMs: 0, end: 10}), false); len(r) != 0 {
		t.Fatalf("routed %v", r)
	}
	// a owns trace 5 (a local target) and trace 6, whose CONSUMER links
	// to both.
	consumeRecord(t, a, traces(sp{svc: "audit", trace: 5, id: 1, kind: ptrace.SpanKindInternal, end: 5}), false)
	routed := consumeRecord(t, a, traces(sp{svc: "billing", trace: 6, id: 2, kind: ptrace.SpanKindConsumer, err: true,
		startMs: 30, end: 40, links: [][2]byte{{9, 1}, {5, 1}}}), false)
	want := pairing.RoutedLink{Service: "billing", SpanName: "op", Kind: uint8(ptrace.SpanKindConsumer), Failed: true,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 30e6, time.UTC).UnixNano(), Index: 0}
	want.Target.Trace, want.Target.Span = tid(9), sid(1)
	want.From.Trace, want.From.Span = tid(6), sid(2)
	if len(routed) != 1 || routed[0] != want {
		t.Fatalf("routed %+v\nwant [%+v]", routed, want)
	}
	if got, w := linksOf(ga.Snapshot()), []string{"billing resolved 1"}; !slices.Equal(got, w) {
		t.Errorf("a's links %v, want %v (the local target only)", got, w)
	}
	if got, w := edgesOf(ga.Snapshot()), []string{"audit>billing:span_link 1/1"}; !slices.Equal(got, w) {
		t.Errorf("a's edges %v, want %v", got, w)
	}
	b.ResolveLink(&routed[0], false)
	if got, w := edgesOf(gb.Snapshot()), []string{"orders>billing:messaging_system 1/1"}; !slices.Equal(got, w) {
		t.Errorf("b's edges %v, want %v", got, w)
	}
	if got, w := linksOf(gb.Snapshot()), []string{"billing resolved 1"}; !slices.Equal(got, w) {
		t.Errorf("b's links %v, want %v", got, w)
	}
	// Several routed links of one record go in the record's order (the
	// owner's exactly-once watermark needs rising indexes), whatever
	// shards their targets hash to.
	var many [][2]byte
	for i := range 40 {
		many = append(many, [2]byte{byte(100 + i), 1})
	}
	routed = consumeRecord(t, a, traces(sp{svc: "billing", trace: 8, id: 2, links: many}), false)
	if len(routed) != 40 || !slices.IsSortedFunc(routed, func(x, y pairing.RoutedLink) int { return int(x.Index - y.Index) }) {
		t.Errorf("routed %d links, in order %v", len(routed), slices.IsSortedFunc(routed, func(x, y pairing.RoutedLink) int { return int(x.Index - y.Index) }))
	}
	// Without a router (the OTLP path) nothing is routed: it waits.
	consume(t, a, traces(sp{svc: "billing", trace: 7, id: 3, links: [][2]byte{{9, 1}}}))
	if st := a.Stats(); st.PendingLinks != 1 {
		t.Errorf("pending links %d, want 1", st.PendingLinks)
	}
}

// A routed link that arrives before its target waits for it; expired, it
// is counted unresolved by the target's owner.
func TestRoutedLinkWaits(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	p, g, c := newPipeline(t, cfg)
	l := pairing.RoutedLink{Service: "billing", SpanName: "op", Kind: uint8(ptrace.SpanKindConsumer)}
	l.Target.Trace, l.Target.Span = tid(9), sid(1)
	l.From.Trace, l.From.Span = tid(6), sid(2)
	p.ResolveLink(&l, false)
	consumeRecord(t, p, traces(sp{svc: "orders", trace: 9, id: 1, kind: ptrace.SpanKindProducer, end: 10}), false)
	l.Target.Span = sid(7) // never comes
	p.ResolveLink(&l, false)
	p.Expire(c.t.Add(cfg.LinkWait + time.Second))
	if got, w := edgesOf(g.Snapshot()), []string{"orders>billing:messaging_system 1/0"}; !slices.Equal(got, w) {
		t.Errorf("edges %v, want %v", got, w)
	}
	got := linksOf(g.Snapshot())
	slices.Sort(got)
	if w := []string{"billing resolved 1", "billing unresolved 1"}; !slices.Equal(got, w) {
		t.Errorf("links %v, want %v", got, w)
	}
}

// Replayed records are indexed only: a pair counts only if at least one
// of its two records is live; a replayed root SERVER span makes no user
// edge, a replayed CLIENT span no database edge at expiry if its wait was
// over at the handover (its earlier owner counted it) and one if not, a
// replayed span's links are neither counted nor routed, and a replayed
// link record counts only with a live target (and nothing when it
// expires).
func TestReplayCountsOnlyLivePairs(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	p, g, c := newPipeline(t, cfg)
	db := map[string]string{"db.system": "postgresql"}
	// Written a pair wait before the handover: counted by the earlier owner.
	over := pairing.Record{Replay: true, Time: c.t.Add(-cfg.PairWait - time.Second), Handover: c.t}
	consumeAt(t, p, traces(sp{svc: "api", trace: 4, id: 4, kind: ptrace.SpanKindClient, attrs: db, end: 9}), over)
	// Written just before: it still waited there, and waits here.
	notOver := pairing.Record{Replay: true, Time: c.t.Add(-time.Second), Handover: c.t}
	consumeAt(t, p, traces(sp{svc: "cart", trace: 5, id: 4, kind: ptrace.SpanKindClient, attrs: db, end: 9}), notOver)
	routed := consumeAt(t, p, traces(
		sp{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindServer, end: 100},                       // root
		sp{svc: "web", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindClient, startMs: 1, end: 50}, // paired with 3
		sp{svc: "api", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 2, end: 40,
			links: [][2]byte{{8, 8}}},
		sp{svc: "api", trace: 1, id: 4, parent: 3, kind: ptrace.SpanKindClient, startMs: 3, end: 9, attrs: db},
		sp{svc: "web", trace: 1, id: 5, parent: 1, kind: ptrace.SpanKindClient, startMs: 60, end: 90}, // its server is live
	), over)
	if len(routed) != 0 {
		t.Fatalf("a replayed record routed %v", routed)
	}
	// Live: the server side of span 5, and a child of replayed span 3.
	consumeRecord(t, p, traces(
		sp{svc: "cart", trace: 1, id: 6, parent: 5, kind: ptrace.SpanKindServer, startMs: 61, end: 80},
		sp{svc: "cache", trace: 1, id: 7, parent: 3, kind: ptrace.SpanKindServer, startMs: 5, end: 6},
	), false)
	// A replayed link record whose target is replayed, one whose target
	// comes live, one never resolved.
	l := pairing.RoutedLink{Service: "billing", Kind: uint8(ptrace.SpanKindInternal)}
	l.From.Trace, l.From.Span = tid(6), sid(2)
	l.Target.Trace, l.Target.Span = tid(1), sid(3)
	p.ResolveLink(&l, true)
	l.Target.Trace, l.Target.Span = tid(2), sid(1)
	p.ResolveLink(&l, true)
	l.Target.Trace, l.Target.Span = tid(3), sid(1)
	p.ResolveLink(&l, true)
	consumeRecord(t, p, traces(sp{svc: "ledger", trace: 2, id: 1, end: 1}), false)
	p.Expire(c.t.Add(cfg.LinkWait + cfg.PairWait + time.Minute))
	got := edgesOf(g.Snapshot())
	slices.Sort(got)
	if w := []string{"api>cache:call 1/0", "cart>postgresql:database 1/0", "ledger>billing:span_link 1/0", "web>cart:call 1/0"}; !slices.Equal(got, w) {
		t.Errorf("edges %v, want %v", got, w)
	}
	if got, w := linksOf(g.Snapshot()), []string{"billing resolved 1"}; !slices.Equal(got, w) {
		t.Errorf("links %v, want %v", got, w)
	}
}

// ForgetLinks drops the waiting links of the traces it is told to,
// counting nothing for them, even when they expire.
func TestForgetLinks(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	p, g, c := newPipeline(t, cfg)
	l := pairing.RoutedLink{Service: "billing"}
	l.From.Trace, l.From.Span = tid(6), sid(2)
	for _, tr := range []byte{1, 2, 3} {
		l.Target.Trace, l.Target.Span = tid(tr), sid(1)
		p.ResolveLink(&l, false)
	}
	if n := p.ForgetLinks(func(tr *[16]byte) bool { return *tr == [16]byte(tid(2)) }); n != 2 {
		t.Fatalf("forgot %d, want 2", n)
	}
	if st := p.Stats(); st.PendingLinks != 1 {
		t.Fatalf("pending %d, want 1", st.PendingLinks)
	}
	p.Expire(c.t.Add(cfg.LinkWait + time.Second))
	if got, w := linksOf(g.Snapshot()), []string{"billing unresolved 1"}; !slices.Equal(got, w) {
		t.Errorf("links %v, want %v", got, w)
	}
	if n := p.ForgetLinks(nil); n != 0 {
		t.Errorf("forgot %d after expiry", n)
	}
}

// ForgetClients drops the waiting CLIENT spans of the traces it is told
// to: they make no edge when the wait is over.
func TestForgetClients(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	p, g, c := newPipeline(t, cfg)
	db := map[string]string{"db.system": "postgresql"}
	for _, tr := range []byte{1, 2, 3} {
		consume(t, p, traces(sp{svc: "api", trace: tr, id: 4, kind: ptrace.SpanKindClient, attrs: db, end: 9}))
	}
	if n := p.ForgetClients(func(tr *[16]byte) bool { return *tr == [16]byte(tid(2)) }); n != 2 {
		t.Fatalf("forgot %d, want 2", n)
	}
	p.Expire(c.t.Add(cfg.PairWait + time.Second))
	if got, w := edgesOf(g.Snapshot()), []string{"api>postgresql:database 1/0"}; !slices.Equal(got, w) {
		t.Errorf("edges %v, want %v", got, w)
	}
	if n := p.ForgetClients(nil); n != 0 {
		t.Errorf("forgot %d after expiry", n)
	}
}

// A partition that comes back to the member that gave it up (A, B, A):
// the CLIENT spans it forgot are still in its index, and their replay
// makes them wait again, so that they expire into their edge here (B gave
// them back still waiting). One whose wait was over at the handover is
// not (B counted it), nor one that waits already.
func TestForgottenClientWaitsAgainOnReturn(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	db := map[string]string{"db.system": "postgresql"}
	for _, tt := range []struct {
		name    string
		forget  bool
		handoff time.Duration // the return's handover, after the record's time
		want    []string
	}{
		{"forgotten, back within the wait", true, cfg.PairWait / 2, []string{"api>postgresql:database 1/0"}},
		{"forgotten, back after the wait", true, cfg.PairWait + time.Second, nil},
		{"still waiting", false, cfg.PairWait / 2, []string{"api>postgresql:database 1/0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, g, c := newPipeline(t, cfg)
			td := traces(sp{svc: "api", trace: 1, id: 4, kind: ptrace.SpanKindClient, attrs: db, end: 9})
			consumeAt(t, p, td, pairing.Record{Time: c.t})
			if tt.forget {
				if n := p.ForgetClients(nil); n != 1 {
					t.Fatalf("forgot %d, want 1", n)
				}
			}
			consumeAt(t, p, td, pairing.Record{Replay: true, Time: c.t, Handover: c.t.Add(tt.handoff)})
			p.Expire(c.t.Add(2*cfg.PairWait + time.Second))
			if got := edgesOf(g.Snapshot()); !slices.Equal(got, tt.want) {
				t.Errorf("edges %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMarkReplayedOnReturn: a partition goes A → B → A. A indexed one side
// of a call live; B replayed it and counted the pair when the other side
// came live there; A replays that side when the partition comes back and
// must not count the pair again. MarkReplayed at A's revoke makes A's own
// live span count like the replayed record it then is. Both orders: the
// parent CLIENT indexed first (the child replays into it), and the child
// SERVER waiting for its parent (the parent replays into it).
func TestMarkReplayedOnReturn(t *testing.T) {
	parent := sp{svc: "web", trace: 1, id: 1, kind: ptrace.SpanKindClient, end: 5}
	child := sp{svc: "api", trace: 1, id: 2, parent: 1, kind: ptrace.SpanKindServer, end: 4}
	for _, order := range [][2]sp{{parent, child}, {child, parent}} {
		for _, mark := range []bool{true, false} {
			name := fmt.Sprintf("%s first, marked %v", order[0].svc, mark)
			t.Run(name, func(t *testing.T) {
				p, g, c := newPipeline(t, pairing.NewDefaultConfig())
				consumeAt(t, p, traces(order[0]), pairing.Record{Time: c.t}) // live at A
				p.ForgetLinks(nil)
				p.ForgetClients(nil)
				if mark {
					// The index entry, and the child's wait when it came first.
					want := 1
					if order[0].kind == ptrace.SpanKindServer {
						want = 2
					}
					if n := p.MarkReplayed(nil); n != want {
						t.Fatalf("marked %d, want %d", n, want)
					}
				}
				// B handled order[1] live and counted the pair; back at A
				// it is replayed.
				consumeAt(t, p, traces(order[1]), pairing.Record{Replay: true, Time: c.t, Handover: c.t.Add(time.Second)})
				p.Flush()
				got := edgesOf(g.Snapshot())
				var want []string
				if !mark {
					want = []string{"web>api:call 1/0"} // the double count the mark prevents
				}
				if !slices.Equal(got, want) {
					t.Errorf("edges %v, want %v", got, want)
				}
			})
		}
	}
	// A live record after the return still pairs with the marked span.
	p, g, c := newPipeline(t, pairing.NewDefaultConfig())
	consumeAt(t, p, traces(parent), pairing.Record{Time: c.t})
	p.MarkReplayed(func(*[16]byte) bool { return false })
	consumeAt(t, p, traces(child), pairing.Record{Time: c.t})
	p.Flush()
	if got := edgesOf(g.Snapshot()); !slices.Equal(got, []string{"web>api:call 1/0"}) {
		t.Errorf("live after the mark: edges %v, want web>api:call 1/0", got)
	}
	// keep: the traces of the partitions kept are not marked.
	p, _, c = newPipeline(t, pairing.NewDefaultConfig())
	consumeAt(t, p, traces(parent), pairing.Record{Time: c.t})
	if n := p.MarkReplayed(func(*[16]byte) bool { return true }); n != 0 {
		t.Errorf("marked %d of kept traces, want 0", n)
	}
}

// A record's Hold receives what handling it counts (edges and link
// tallies, local resolutions and routed links resolved by their target's
// owner alike) and the graph nothing, until Release: the multi-instance
// mode shows a record's counts only once its offset is committed. A wait
// that ends later (expiry) is not the record's and goes to the graph.
func TestHoldUntilRelease(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	p, g, c := newPipeline(t, cfg)
	var held []graph.Observation
	var tallies []graph.LinkTally
	hold := pairing.Hold(func(obs []graph.Observation, ts []graph.LinkTally) {
		held, tallies = append(held, obs...), append(tallies, ts...)
	})
	consumeAt(t, p, traces(sp{svc: "audit", trace: 5, id: 1, kind: ptrace.SpanKindInternal, end: 5}), pairing.Record{Hold: hold})
	consumeAt(t, p, traces(
		sp{svc: "web", trace: 6, id: 1, kind: ptrace.SpanKindClient, end: 20},
		sp{svc: "api", trace: 6, id: 2, parent: 1, kind: ptrace.SpanKindServer, startMs: 1, end: 10, links: [][2]byte{{5, 1}}},
	), pairing.Record{Hold: hold})
	l := pairing.RoutedLink{Service: "billing", SpanName: "op", Kind: uint8(ptrace.SpanKindConsumer)}
	l.Target.Trace, l.Target.Span = tid(5), sid(1)
	l.From.Trace, l.From.Span = tid(8), sid(2)
	p.ResolveLinkRecord(&l, pairing.Record{Hold: hold})
	if got := edgesOf(g.Snapshot()); len(got) != 0 {
		t.Fatalf("edges before the release %v, want none", got)
	}
	if got := linksOf(g.Snapshot()); len(got) != 0 {
		t.Fatalf("links before the release %v, want none", got)
	}
	p.Release(held, tallies)
	if got, w := edgesOf(g.Snapshot()), []string{"audit>api:span_link 1/0", "audit>billing:span_link 1/0", "web>api:call 1/0"}; !slices.Equal(got, w) {
		t.Errorf("edges after the release %v, want %v", got, w)
	}
	got := linksOf(g.Snapshot())
	slices.Sort(got)
	if w := []string{"api resolved 1", "billing resolved 1"}; !slices.Equal(got, w) {
		t.Errorf("links after the release %v, want %v", got, w)
	}
	// A routed link left waiting expires into the graph, not the Hold.
	n := len(tallies)
	l.Target.Span = sid(9) // never comes
	p.ResolveLinkRecord(&l, pairing.Record{Hold: hold})
	p.Expire(c.t.Add(cfg.LinkWait + time.Second))
	if len(tallies) != n {
		t.Errorf("the expiry went to the Hold: %v", tallies[n:])
	}
	got = linksOf(g.Snapshot())
	slices.Sort(got)
	if w := []string{"api resolved 1", "billing resolved 1", "billing unresolved 1"}; !slices.Equal(got, w) {
		t.Errorf("links after the expiry %v, want %v", got, w)
	}
}

// A live record an earlier owner may have handled too (RouteAll) routes
// every link, even one whose target is indexed here: the owner of the
// target, with its watermark, is the one place that knows whether the
// earlier owner routed it already.
func TestRouteAll(t *testing.T) {
	p, g, _ := newPipeline(t, pairing.NewDefaultConfig())
	consumeRecord(t, p, traces(sp{svc: "audit", trace: 5, id: 1, kind: ptrace.SpanKindInternal, end: 5}), false)
	routed := consumeAt(t, p, traces(sp{svc: "billing", trace: 6, id: 2, kind: ptrace.SpanKindConsumer,
		startMs: 30, end: 40, links: [][2]byte{{5, 1}, {9, 1}}}), pairing.Record{RouteAll: true})
	if len(routed) != 2 || routed[0].Index != 0 || routed[1].Index != 1 {
		t.Fatalf("routed %+v, want both links in order", routed)
	}
	if got := linksOf(g.Snapshot()); len(got) != 0 {
		t.Errorf("links counted here %v, want none", got)
	}
	// The same without RouteAll: the indexed target counts here.
	routed = consumeAt(t, p, traces(sp{svc: "billing", trace: 7, id: 2, kind: ptrace.SpanKindConsumer,
		startMs: 30, end: 40, links: [][2]byte{{5, 1}, {9, 1}}}), pairing.Record{})
	if len(routed) != 1 || routed[0].Index != 1 {
		t.Fatalf("routed %+v, want the link to trace 9 only", routed)
	}
	if got, w := linksOf(g.Snapshot()), []string{"billing resolved 1"}; !slices.Equal(got, w) {
		t.Errorf("links %v, want %v", got, w)
	}
}

// An anonymous SERVER span whose CLIENT parent names its peer makes
// client → peer (toPeer). When both records are replayed, their earlier
// owner counted that edge: the new owner counts it neither when the pair
// meets (in either order) nor when the parent's pair wait, not over at the
// handover, ends. With one of the two records live it counts once.
func TestReplayAnonymousServer(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	parent := sp{svc: "web", trace: 1, id: 2, kind: ptrace.SpanKindClient, startMs: 10, end: 40,
		attrs: map[string]string{"peer.service": "stripe"}}
	child := sp{svc: "", trace: 1, id: 3, parent: 2, kind: ptrace.SpanKindServer, startMs: 15, end: 35, err: true}
	for _, tc := range []struct {
		name   string
		first  sp
		second sp
		live   int // 0: both replayed; 2: the second record is live
		over   bool
		edges  []string
	}{
		{name: "parent first, both replayed", first: parent, second: child},
		{name: "child first, both replayed", first: child, second: parent},
		{name: "parent first, its wait over, both replayed", first: parent, second: child, over: true},
		{name: "replayed parent, live child", first: parent, second: child, live: 2,
			edges: []string{"web>stripe:virtual_node 1/1"}},
		{name: "replayed child, live parent", first: child, second: parent, live: 2,
			edges: []string{"web>stripe:virtual_node 1/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, g, c := newPipeline(t, cfg)
			rec := pairing.Record{Replay: true, Time: c.t.Add(-time.Second), Handover: c.t}
			if tc.over {
				rec.Time = c.t.Add(-cfg.PairWait - time.Second)
			}
			consumeAt(t, p, traces(tc.first), rec)
			if tc.live == 2 {
				rec = pairing.Record{}
			}
			consumeAt(t, p, traces(tc.second), rec)
			p.Expire(c.t.Add(cfg.PairWait + time.Minute))
			if got := edgesOf(g.Snapshot()); !slices.Equal(got, tc.edges) {
				t.Errorf("edges %v, want %v", got, tc.edges)
			}
			if st := p.Stats(); st.PendingChildren != 0 || st.PendingClients != 0 {
				t.Errorf("pending children %d, clients %d, want 0 and 0", st.PendingChildren, st.PendingClients)
			}
		})
	}
}

package pairing_test

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// TestPairedClientsLeaveTheQueue sends CLIENT spans at a rate × pair wait
// five times the pending cap: HTTP calls (server.address) whose SERVER side
// arrives in the next request, and database calls that never get one.
// Paired calls must leave the clients queue at once, so only the database
// calls count toward the cap: every one becomes a database edge and none
// is dropped. Before, every CLIENT span with a peer attribute held its
// place for the whole --pair-wait, and the full queue dropped the oldest:
// database edges came out low.
func TestPairedClientsLeaveTheQueue(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	cfg.Shards = 4
	cfg.MaxPendingSpans = 400 // 100 per shard
	cfg.PairWait = 10 * time.Second
	p, g, clk := newPipeline(t, cfg)
	const (
		calls = 4000
		every = 10 * time.Millisecond // 1,000 calls per pair wait: 2.5 × the cap
		dbs   = 5                     // every 5th trace also queries the database: 200 per pair wait
	)
	base := clk.t
	maxPending := 0
	for i := range calls {
		clk.t = base.Add(time.Duration(i) * every)
		client := ptrace.NewTraces()
		rs := client.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "frontend")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		call := steadySpan(spans, i, 1, 0, ptrace.SpanKindClient)
		call.Attributes().PutStr("server.address", "backend")
		if i%dbs == 0 {
			db := steadySpan(spans, i, 2, 0, ptrace.SpanKindClient)
			db.Attributes().PutStr("db.system", "postgresql")
			db.Attributes().PutStr("db.name", "orders")
		}
		consume(t, p, client)
		server := ptrace.NewTraces()
		rs = server.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "backend")
		steadySpan(rs.ScopeSpans().AppendEmpty().Spans(), i, 3, 1, ptrace.SpanKindServer)
		consume(t, p, server)
		p.Expire(clk.t)
		maxPending = max(maxPending, p.Stats().PendingClients)
	}
	clk.t = clk.t.Add(cfg.PairWait + time.Second)
	p.Expire(clk.t)
	st := p.Stats()
	if st.DroppedClients != 0 || st.PendingClients != 0 || st.CapacityClients != 400 {
		t.Errorf("clients dropped %d, pending %d, capacity %d; want 0, 0, 400", st.DroppedClients, st.PendingClients, st.CapacityClients)
	}
	if want := int(cfg.PairWait/every/dbs) + 1; maxPending > want {
		t.Errorf("at most %d clients waited at once, want at most %d (the database calls of one pair wait)", maxPending, want)
	}
	want := []string{"frontend>backend:call 4000/0", "frontend>orders:database 800/0"}
	if got := edgesOf(g.Snapshot()); !slices.Equal(got, want) {
		t.Fatalf("edges %q, want %q", got, want)
	}
}

// steadySpan appends a span of trace n: span id (n, id), parent (n, parent).
func steadySpan(spans ptrace.SpanSlice, n int, id, parent byte, kind ptrace.SpanKind) ptrace.Span {
	s := spans.AppendEmpty()
	var tr [16]byte
	binary.BigEndian.PutUint64(tr[8:], uint64(n)+1)
	s.SetTraceID(tr)
	sid := func(b byte) [8]byte {
		var v [8]byte
		binary.BigEndian.PutUint32(v[:4], uint32(n))
		v[7] = b
		return v
	}
	s.SetSpanID(sid(id))
	if parent != 0 {
		s.SetParentSpanID(sid(parent))
	}
	s.SetKind(kind)
	s.SetName("op")
	return s
}

// TestLinksToWaitingClients links spans to CLIENT spans while those wait in
// the clients queue (whose index entries then keep their queue position),
// across compactions of the queue and drops at its cap: every link delay
// must use the linked span's own end, and every database call not dropped
// must become an edge.
func TestLinksToWaitingClients(t *testing.T) {
	cfg := pairing.NewDefaultConfig()
	cfg.Shards = 1
	cfg.MaxPendingSpans = 8
	p, g, clk := newPipeline(t, cfg)
	const n = 40
	for i := range n {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "api")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		db := steadySpan(spans, i, 1, 0, ptrace.SpanKindClient)
		db.Attributes().PutStr("db.system", "redis")
		db.SetStartTimestamp(1_000_000_000)
		db.SetEndTimestamp(2_000_000_000) // ends at 2 s
		call := steadySpan(spans, i, 2, 0, ptrace.SpanKindClient)
		call.Attributes().PutStr("server.address", "worker")
		consume(t, p, td)
		// The call pairs at once (it leaves the queue: compactions follow);
		// a job links to the database span 3 s after it ended.
		td = ptrace.NewTraces()
		rs = td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "worker")
		steadySpan(rs.ScopeSpans().AppendEmpty().Spans(), i, 3, 2, ptrace.SpanKindServer)
		rs = td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "job")
		job := steadySpan(rs.ScopeSpans().AppendEmpty().Spans(), 1000+i, 1, 0, ptrace.SpanKindInternal)
		job.SetStartTimestamp(5_000_000_000)
		job.SetEndTimestamp(5_000_000_000)
		l := job.Links().AppendEmpty()
		var tr [16]byte
		binary.BigEndian.PutUint64(tr[8:], uint64(i)+1)
		l.SetTraceID(tr)
		var sid [8]byte
		binary.BigEndian.PutUint32(sid[:4], uint32(i))
		sid[7] = 1
		l.SetSpanID(sid)
		consume(t, p, td)
		clk.t = clk.t.Add(100 * time.Millisecond)
	}
	p.Flush()
	st := p.Stats()
	// From the 8th trace on, its call (waiting until its server side comes
	// in the next request) takes the 8th place: each trace drops the
	// oldest database call, and 7 wait until the flush.
	if st.DroppedClients != n-7 {
		t.Errorf("%d clients dropped, want %d", st.DroppedClients, n-7)
	}
	want := []string{"api>job:span_link 40/0", "api>redis:database 7/0", "api>worker:call 40/0"}
	snap := g.Snapshot()
	if got := edgesOf(snap); !slices.Equal(got, want) {
		t.Fatalf("edges %q, want %q", got, want)
	}
	for _, e := range snap.Edges {
		if e.Kind == graph.SpanLink && e.Hist[0].Sum != 3*n {
			t.Errorf("link delays sum to %v s, want %d (3 s each)", e.Hist[0].Sum, 3*n)
		}
	}
}

package graph_test

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

func traceOf(b byte) ([16]byte, [8]byte) {
	var t [16]byte
	var s [8]byte
	for i := range t {
		t[i] = b
	}
	for i := range s {
		s[i] = b + 1
	}
	return t, s
}

// Each edge keeps a recent traced occurrence (TestExemplarSampling: which)
// for its counter and for each histogram, the value it observed there; an
// untraced occurrence or an unknown value leaves the earlier one; Merge and
// the peer wire form keep the latest.
func TestExemplars(t *testing.T) {
	c := &clock{t: t0}
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.now})
	a, b := s.Node("a", graph.ServiceNode), s.Node("b", graph.ServiceNode)
	t1, s1 := traceOf(0x11)
	t2, s2 := traceOf(0x22)
	s.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.3, 0.4}, Trace: t1, Span: s1}}, nil)
	c.t = t0.Add(time.Second)
	s.Observe([]graph.Observation{
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.7, -1}, Trace: t2, Span: s2, Weight: 3},
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.9, 0.9}}, // untraced
		{Client: a, Server: b, Kind: graph.Messaging, Seconds: [2]float64{2, -1}, AsyncSeconds: [2]float64{0.5, -1}, AsyncTimed: true, Trace: t2, Span: s2},
	}, nil)
	snap := s.Snapshot()
	if len(snap.Edges) != 2 {
		t.Fatalf("edges: %d", len(snap.Edges))
	}
	call, msg := snap.Edges[0], snap.Edges[1]
	if call.Kind != graph.Call {
		call, msg = msg, call
	}
	ns1, ns2 := t0.UnixNano(), t0.Add(time.Second).UnixNano()
	for _, tc := range []struct {
		name      string
		got, want graph.Exemplar
	}{
		{"call counter", call.Exemplar, graph.Exemplar{Trace: t2, Span: s2, Value: 3, Time: ns2}},
		{"call server", call.Hist[0].Exemplar, graph.Exemplar{Trace: t2, Span: s2, Value: 0.7, Time: ns2}},
		{"call client", call.Hist[1].Exemplar, graph.Exemplar{Trace: t1, Span: s1, Value: 0.4, Time: ns1}},
		{"messaging counter", msg.Exemplar, graph.Exemplar{Trace: t2, Span: s2, Value: 1, Time: ns2}},
		{"messaging delay", msg.Hist[0].Exemplar, graph.Exemplar{Trace: t2, Span: s2, Value: 2, Time: ns2}},
		{"messaging server", msg.AsyncHist[0].Exemplar, graph.Exemplar{Trace: t2, Span: s2, Value: 0.5, Time: ns2}},
		{"messaging client", msg.AsyncHist[1].Exemplar, graph.Exemplar{}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	if got := call.Exemplar.TraceID(); got != "22222222222222222222222222222222" {
		t.Errorf("TraceID: %q", got)
	}
	if got := call.Exemplar.SpanID(); got != "2323232323232323" {
		t.Errorf("SpanID: %q", got)
	}

	// Merge: the latest wins, whichever side it is on.
	c.t = t0.Add(time.Hour)
	other := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.now})
	t3, s3 := traceOf(0x33)
	other.Observe([]graph.Observation{{Client: other.Node("a", graph.ServiceNode), Server: other.Node("b", graph.ServiceNode),
		Kind: graph.Call, Seconds: [2]float64{0.1, -1}, Trace: t3, Span: s3}}, nil)
	for _, order := range [][]*graph.Snapshot{{snap, other.Snapshot()}, {other.Snapshot(), snap}} {
		m, _, err := graph.Merge(graph.MergeLimits{MaxNodes: 10, MaxEdges: 10}, order...)
		if err != nil {
			t.Fatal(err)
		}
		e := edgeOf(m, "a", "b", graph.Call)
		want := graph.Exemplar{Trace: t3, Span: s3, Value: 1, Time: t0.Add(time.Hour).UnixNano()}
		if e == nil || e.Exemplar != want || e.Hist[0].Exemplar.Trace != t3 || e.Hist[1].Exemplar.Trace != t1 {
			t.Fatalf("merged: %+v", e)
		}
	}

	// The peer wire form carries the edge's exemplar (not the histograms').
	var buf bytes.Buffer
	if err := graph.WriteSnapshot(&buf, snap); err != nil {
		t.Fatal(err)
	}
	back, err := graph.ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if e := edgeOf(back, "a", "b", graph.Call); e == nil || e.Exemplar != call.Exemplar || e.Hist[0].Exemplar.Valid() {
		t.Fatalf("wire: %+v", e)
	}

	// The state file keeps the edge's sample too (the API's and the
	// page's sample trace after a restart), not the histograms'.
	buf.Reset()
	if err := s.WriteFinalState(&buf); err != nil {
		t.Fatal(err)
	}
	restored := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.now})
	if err := restored.ReadState(&buf); err != nil {
		t.Fatal(err)
	}
	rs := restored.Snapshot()
	for _, k := range []graph.Kind{graph.Call, graph.Messaging} {
		e, was := edgeOf(rs, "a", "b", k), edgeOf(snap, "a", "b", k)
		if e == nil || e.Exemplar != was.Exemplar || e.Hist[0].Exemplar.Valid() {
			t.Fatalf("state file, %s: %+v, want the exemplar %+v", k, e, was.Exemplar)
		}
	}
}

// Within one Observe call (a request's occurrences) each exemplar is the
// call's first traced occurrence that has its value: later ones in the
// call are not written (the cost of writing every occurrence's); the next
// call's replace them, even at the same clock time.
func TestExemplarSampling(t *testing.T) {
	c := &clock{t: t0}
	s := graph.MustNew(graph.NewDefaultConfig(), graph.Settings{Now: c.now})
	a, b := s.Node("a", graph.ServiceNode), s.Node("b", graph.ServiceNode)
	t1, s1 := traceOf(0x11)
	t2, s2 := traceOf(0x22)
	t3, s3 := traceOf(0x33)
	s.Observe([]graph.Observation{
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.9, 0.9}}, // untraced: no exemplar
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.3, -1}, Trace: t1, Span: s1},
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.5, 0.6}, Trace: t2, Span: s2, Weight: 2},
		{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.7, 0.8}, Trace: t3, Span: s3},
	}, nil)
	ns := t0.UnixNano()
	e := edgeOf(s.Snapshot(), "a", "b", graph.Call)
	for _, tc := range []struct {
		name      string
		got, want graph.Exemplar
	}{
		{"counter: the call's first traced", e.Exemplar, graph.Exemplar{Trace: t1, Span: s1, Value: 1, Time: ns}},
		{"server: the same", e.Hist[0].Exemplar, graph.Exemplar{Trace: t1, Span: s1, Value: 0.3, Time: ns}},
		{"client: the first traced with a client value", e.Hist[1].Exemplar, graph.Exemplar{Trace: t2, Span: s2, Value: 0.6, Time: ns}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	// The next call, at the same time, replaces what it has values for.
	s.Observe([]graph.Observation{{Client: a, Server: b, Kind: graph.Call, Seconds: [2]float64{0.05, -1}, Trace: t3, Span: s3, Weight: 4}}, nil)
	e = edgeOf(s.Snapshot(), "a", "b", graph.Call)
	if want := (graph.Exemplar{Trace: t3, Span: s3, Value: 4, Time: ns}); e.Exemplar != want {
		t.Errorf("counter after the next call: %+v, want %+v", e.Exemplar, want)
	}
	if want := (graph.Exemplar{Trace: t3, Span: s3, Value: 0.05, Time: ns}); e.Hist[0].Exemplar != want {
		t.Errorf("server after the next call: %+v, want %+v", e.Hist[0].Exemplar, want)
	}
	if want := (graph.Exemplar{Trace: t2, Span: s2, Value: 0.6, Time: ns}); e.Hist[1].Exemplar != want {
		t.Errorf("client after the next call (no client value): %+v, want %+v", e.Hist[1].Exemplar, want)
	}
}

func edgeOf(s *graph.Snapshot, client, server string, k graph.Kind) *graph.EdgeData {
	for _, e := range s.Edges {
		if e.Client == client && e.Server == server && e.Kind == k {
			return e.EdgeData
		}
	}
	return nil
}

// BenchmarkEdgeMemory reports the heap one edge holds in a store (its
// state, map entry and histograms; one history bucket), traced: classic,
// and with native histograms whose values span 1 ms to 10 s (16 values,
// log-spaced, in every histogram: ~107 native buckets each at schema 3).
func BenchmarkEdgeMemory(b *testing.B) {
	const n = 20000
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprintf("svc-%03d", i)
	}
	tr, sp := traceOf(7)
	for _, native := range []bool{false, true} {
		name := "classic"
		values := []float64{0.1}
		if native {
			name, values = "native", nil
			for j := range 16 {
				values = append(values, 0.001*math.Pow(10, 4*float64(j)/15))
			}
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				obs := make([]graph.Observation, n*len(values))
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				cfg := graph.NewDefaultConfig()
				cfg.NativeHistograms = native
				s := graph.MustNew(cfg, graph.Settings{Now: func() time.Time { return t0 }})
				for i := range n {
					for j, v := range values {
						obs[i*len(values)+j] = graph.Observation{Client: s.Node(ids[i%200], graph.ServiceNode), Server: s.Node(ids[i/200], graph.ServiceNode),
							Kind: graph.Kind(i % 5), Seconds: [2]float64{v, v}, AsyncSeconds: [2]float64{v, v}, AsyncTimed: true,
							Trace: tr, Span: sp}
					}
				}
				s.Observe(obs, nil)
				runtime.GC()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "B/edge")
				runtime.KeepAlive(s)
				runtime.KeepAlive(obs)
			}
		})
	}
}

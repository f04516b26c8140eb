package pairing

import (
	"fmt"
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// fuzzConds are single conditions whose decisions the wire walk and the
// pdata walk must agree on, span by span.
var fuzzConds = []struct {
	typ, key string
	value    any
}{
	{"strict", "kind", "server"}, {"regex", "kind", "CONSUMER"}, {"strict", "status", "error"}, {"regex", "status", "OK"},
	{"strict", "name", "op"}, {"regex", "name", "^o"}, {"strict", "span.k", "v"}, {"strict", "span.k", 7},
	{"strict", "span.k", 1.5}, {"strict", "span.k", true}, {"regex", "span.k", "."}, {"regex", "span.k", "^-?[0-9]"},
	{"strict", "resource.r", "v"}, {"regex", "resource.r", "."}, {"regex", "resource.service.name", "^a"},
	{"regex", "span.messaging.destination.name", "."},
}

func fuzzSeed() ptrace.Traces {
	td := ptrace.NewTraces()
	for i, v := range []func(pcommon.Value){
		func(v pcommon.Value) { v.SetStr("v") }, func(v pcommon.Value) { v.SetInt(7) },
		func(v pcommon.Value) { v.SetDouble(1.5) }, func(v pcommon.Value) { v.SetBool(true) },
		func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte("v")) }, func(v pcommon.Value) { v.SetInt(-3) },
	} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("a%d", i))
		v(rs.Resource().Attributes().PutEmpty("r"))
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1, byte(i + 1)})
		s.SetSpanID(pcommon.SpanID{1, byte(i + 1)})
		s.SetKind(ptrace.SpanKind(i % 6))
		s.SetName([]string{"op", "other"}[i%2])
		s.Status().SetCode(ptrace.StatusCode(i % 3))
		v(s.Attributes().PutEmpty("k"))
		s.Attributes().PutStr("messaging.destination.name", fmt.Sprintf("t%d", i%2))
	}
	return td
}

// FuzzFilterWalk: on any request both decoders accept, the wire walk
// decides every condition as the pdata walk does, and finds the same
// broker destinations (or, for ids repeated past the kind, none: the
// direct edges).
func FuzzFilterWalk(f *testing.F) {
	seed, err := ptraceotlp.NewExportRequestFromTraces(fuzzSeed()).MarshalProto()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{})
	var filters []*spanFilter
	for _, c := range fuzzConds {
		sf, err := newSpanFilter([]FilterPolicy{{Exclude: &PolicyMatch{MatchType: c.typ,
			Attributes: []MatchAttribute{{Key: c.key, Value: c.value}}}}})
		if err != nil {
			f.Fatal(err)
		}
		filters = append(filters, sf)
	}
	cfg := NewDefaultConfig()
	cfg.BrokerNodes, cfg.Shards = true, 1
	cfg.MaxIndexSpans, cfg.MaxPendingSpans, cfg.MaxPendingLinks = 64, 64, 64
	p, err := New(cfg, Settings{}, graph.MustNew(graph.NewDefaultConfig(), graph.Settings{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := ptraceotlp.NewExportRequest()
		if req.UnmarshalProto(data) != nil {
			return
		}
		var rec tracedecode.Records
		if tracedecode.Decode(data, &rec) != nil {
			return
		}
		td := req.Traces()
		for i, sf := range filters {
			var w, d filterState
			sf.walkWire(data, &w)
			sf.walkTraces(td, &d)
			if !slices.Equal(w.keep, d.keep) || !slices.Equal(w.keys, d.keys) {
				t.Fatalf("condition %v: wire %v, pdata %v", fuzzConds[i], w.keep, d.keep)
			}
			if len(w.keys) != len(rec.Spans) {
				t.Fatalf("walk saw %d spans, the decoder recorded %d", len(w.keys), len(rec.Spans))
			}
		}
		var bw, bd batch
		bw.rec, bd.rec = rec, rec
		p.brokerWire(data, &bw)
		p.brokerTraces(td, &bd)
		if len(bw.brk.topics) == 0 && len(rec.Spans) > 0 {
			// The wire walk's fallback (a span's ids changed past its kind,
			// which encoders never write): every pair keeps its direct edge.
			return
		}
		if !slices.Equal(bw.brk.topics, bd.brk.topics) || len(bw.brk.topics) != len(rec.Spans) {
			t.Fatalf("topics: wire %v, pdata %v, %d spans", bw.brk.topics, bd.brk.topics, len(rec.Spans))
		}
	})
}

package main

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestRekey: trace ids of spans and links change by the key, all-zero ids
// and everything else stay, and the request still decodes.
func TestRekey(t *testing.T) {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	tid := pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for range 2 {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(pcommon.SpanID{1})
		s.SetName("op")
		l := s.Links().AppendEmpty()
		l.SetTraceID(tid)
		l.SetSpanID(pcommon.SpanID{2})
		s.Links().AppendEmpty().SetSpanID(pcommon.SpanID{3}) // zero trace id: invalid, kept
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := countSpans(b); err != nil || n != 2 {
		t.Fatalf("countSpans = %d, %v; want 2", n, err)
	}
	if err := rekey(b, 0x0102); err != nil {
		t.Fatal(err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(b); err != nil {
		t.Fatal(err)
	}
	want := tid
	want[6] ^= 0x01
	want[7] ^= 0x02
	spans := req.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := range spans.Len() {
		s := spans.At(i)
		if s.TraceID() != want || s.Links().At(0).TraceID() != want {
			t.Errorf("span %d: trace id %v, link %v; want %v", i, s.TraceID(), s.Links().At(0).TraceID(), want)
		}
		if !s.Links().At(1).TraceID().IsEmpty() || s.SpanID() != (pcommon.SpanID{1}) || s.Name() != "op" {
			t.Errorf("span %d: changed beyond its trace ids", i)
		}
	}
}

package main

import (
	"fmt"
	"math"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// quantile reads a cumulative histogram as Prometheus' histogram_quantile
// does: linear within the bucket that holds the rank.
func TestQuantile(t *testing.T) {
	b := map[float64]uint64{0.01: 10, 0.1: 90, 1: 99, math.Inf(1): 100}
	for _, c := range []struct {
		q, want, le float64
	}{
		{0.05, 0.005, 0.01}, // 5 of the 10 at or below 10 ms
		{0.5, 0.055, 0.1},   // rank 50: 40 of the 80 between 10 and 100 ms
		{0.99, 1, 1},        // rank 99: the last of the bucket up to 1 s
	} {
		got, le := quantile(b, 100, c.q)
		if math.Abs(got-c.want) > 1e-12 || le != c.le {
			t.Errorf("q %v: %v (bucket le %v), want %v (le %v)", c.q, got, le, c.want, c.le)
		}
	}
	if got, le := quantile(nil, 0, 0.99); got != 0 || le != 0 {
		t.Errorf("empty histogram: %v %v, want 0 0", got, le)
	}
}

// splitByTrace makes one record per trace of each request, keyed by the
// hex trace id, holding that trace's spans under their resource, with its
// span count in its header.
func TestSplitByTrace(t *testing.T) {
	td := ptrace.NewTraces()
	for i, svc := range []string{"web", "api"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		ss := rs.ScopeSpans().AppendEmpty()
		for tr := range 2 {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(pcommon.TraceID{byte(tr + 1)})
			s.SetSpanID(pcommon.SpanID{byte(i + 1)})
		}
	}
	req, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := splitByTrace([][]byte{req})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for i, r := range recs {
		if want := fmt.Sprintf("%02x%030x", i+1, 0); string(r.Key) != want {
			t.Errorf("record %d key %s, want %s", i, r.Key, want)
		}
		if n := int(r.Headers[0].Value[0]) | int(r.Headers[0].Value[1])<<8; n != 2 {
			t.Errorf("record %d: %d spans in the header, want 2", i, n)
		}
		got := ptraceotlp.NewExportRequest()
		if err := got.UnmarshalProto(r.Value); err != nil {
			t.Fatal(err)
		}
		var svcs []string
		for _, rs := range got.Traces().ResourceSpans().All() {
			v, _ := rs.Resource().Attributes().Get("service.name")
			svcs = append(svcs, v.Str())
			for _, s := range rs.ScopeSpans().At(0).Spans().All() {
				if s.TraceID() != (pcommon.TraceID{byte(i + 1)}) {
					t.Errorf("record %d holds trace %v", i, s.TraceID())
				}
			}
		}
		if fmt.Sprint(svcs) != "[web api]" {
			t.Errorf("record %d resources %v, want [web api]", i, svcs)
		}
	}
}

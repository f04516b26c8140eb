package workload

import (
	"encoding/hex"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TraceRecord is one Kafka record as the Collector's kafkaexporter
// writes it with partition_traces_by_id and encoding otlp_proto: the
// spans of one trace id as an export request, keyed by the trace id in
// hex.
type TraceRecord struct {
	Key, Value []byte
	Spans      int
}

// SplitByTrace does what the kafkaexporter does with a request: one
// record per trace id, in the order the trace ids first appear, each
// keeping its spans' resources and scopes.
func SplitByTrace(td ptrace.Traces) ([]TraceRecord, error) {
	type at struct {
		id     pcommon.TraceID
		ri, si int // si -1: the resource
	}
	var order []pcommon.TraceID
	byTrace := map[pcommon.TraceID]ptrace.Traces{}
	resources := map[at]ptrace.ResourceSpans{}
	scopes := map[at]ptrace.ScopeSpans{}
	for ri, rs := range td.ResourceSpans().All() {
		for si, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				id := sp.TraceID()
				one, ok := byTrace[id]
				if !ok {
					one = ptrace.NewTraces()
					byTrace[id] = one
					order = append(order, id)
				}
				nss, ok := scopes[at{id, ri, si}]
				if !ok {
					nrs, ok := resources[at{id, ri, -1}]
					if !ok {
						nrs = one.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(nrs.Resource())
						nrs.SetSchemaUrl(rs.SchemaUrl())
						resources[at{id, ri, -1}] = nrs
					}
					nss = nrs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					nss.SetSchemaUrl(ss.SchemaUrl())
					scopes[at{id, ri, si}] = nss
				}
				sp.CopyTo(nss.Spans().AppendEmpty())
			}
		}
	}
	out := make([]TraceRecord, 0, len(order))
	for _, id := range order {
		one := byTrace[id]
		b, err := ptraceotlp.NewExportRequestFromTraces(one).MarshalProto()
		if err != nil {
			return nil, err
		}
		out = append(out, TraceRecord{Key: []byte(hex.EncodeToString(id[:])), Value: b, Spans: one.SpanCount()})
	}
	return out, nil
}

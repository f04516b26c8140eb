package tracedecode_test

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// A consumer decodes each request (an OTLP protobuf body, or a Kafka
// record value) into Records it reuses, and copies what it keeps.
func ExampleDecode() {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{15: 1})
	sp.SetSpanID(pcommon.SpanID{7: 1})
	sp.SetKind(ptrace.SpanKindClient)
	sp.SetName("SELECT orders")
	sp.Attributes().PutStr("db.system.name", "postgresql")
	sp.Attributes().PutStr("db.namespace", "orders")
	sp.Links().AppendEmpty().SetTraceID(pcommon.TraceID{15: 2})
	buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}

	var r tracedecode.Records
	if err := tracedecode.Decode(buf, &r); err != nil {
		fmt.Println(err)
		return
	}
	lo := 0
	for _, res := range r.Resources {
		for _, s := range r.Spans[lo:res.End] {
			fmt.Printf("%s: %q kind %d peer %q (%d), %d link(s), first valid %v\n",
				res.Service, s.Name, s.Kind, s.Peer, s.PeerKind, s.LinkHi-s.LinkLo, r.Links[s.LinkLo].Valid())
		}
		lo = res.End
	}
	r.Reset()

	fmt.Println(tracedecode.Decode([]byte{0x0a, 0x05}, &r))
	// Output:
	// checkout: "SELECT orders" kind 3 peer "orders" (1), 1 link(s), first valid false
	// decode protobuf ExportTraceServiceRequest: resource_spans[0]: unexpected end of data
}

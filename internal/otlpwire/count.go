package otlpwire

// Field numbers of the OTLP trace messages (opentelemetry-proto
// collector/trace/v1/trace_service.proto and trace/v1/trace.proto).
const (
	RequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	ResourceSpansResource   = 1    // ResourceSpans.resource
	ResourceSpansScopeSpans = 2    // ResourceSpans.scope_spans
	ResourceSpansSchemaURL  = 3    // ResourceSpans.schema_url
	ResourceSpansDeprecated = 1000 // ResourceSpans.instrumentation_library_spans, read as scope_spans

	ScopeSpansScope     = 1 // ScopeSpans.scope
	ScopeSpansSpans     = 2 // ScopeSpans.spans
	ScopeSpansSchemaURL = 3 // ScopeSpans.schema_url
)

// SpanCount returns the number of spans of a serialized
// ExportTraceServiceRequest, as ptrace.Traces.SpanCount gives it after
// ptraceotlp.ExportRequest.UnmarshalProto: per resource_spans, the spans of
// its scope_spans, or of its deprecated instrumentation_library_spans when
// it has no scope_spans (pdata's MigrateTraces). It reads the request's
// three outer levels only, skipping every span by its length: ok is false
// when those levels are malformed, and pdata refuses such a request; a
// request with ok true may still be malformed deeper.
func SpanCount(req []byte) (n int, ok bool) {
	for i := 0; i < len(req); {
		num, typ, j := Tag(req, i)
		if j < 0 {
			return 0, false
		}
		if num != RequestResourceSpans {
			if i = Skip(req, j, typ); i < 0 {
				return 0, false
			}
			continue
		}
		if typ != BytesType {
			return 0, false
		}
		lo, hi := Bytes(req, j)
		if hi < 0 {
			return 0, false
		}
		c, ok := resourceSpanCount(req[lo:hi])
		if !ok {
			return 0, false
		}
		n += c
		i = hi
	}
	return n, true
}

func resourceSpanCount(rs []byte) (int, bool) {
	scope, deprecated, hasScope := 0, 0, false
	for i := 0; i < len(rs); {
		num, typ, j := Tag(rs, i)
		if j < 0 {
			return 0, false
		}
		switch num {
		case ResourceSpansResource, ResourceSpansScopeSpans, ResourceSpansSchemaURL, ResourceSpansDeprecated:
			if typ != BytesType {
				return 0, false
			}
			lo, hi := Bytes(rs, j)
			if hi < 0 {
				return 0, false
			}
			if num == ResourceSpansScopeSpans || num == ResourceSpansDeprecated {
				c, ok := scopeSpanCount(rs[lo:hi])
				if !ok {
					return 0, false
				}
				if num == ResourceSpansScopeSpans {
					scope, hasScope = scope+c, true
				} else {
					deprecated += c
				}
			}
			i = hi
		default:
			if i = Skip(rs, j, typ); i < 0 {
				return 0, false
			}
		}
	}
	if hasScope {
		return scope, true
	}
	return deprecated, true
}

func scopeSpanCount(ss []byte) (int, bool) {
	n := 0
	for i := 0; i < len(ss); {
		num, typ, j := Tag(ss, i)
		if j < 0 {
			return 0, false
		}
		switch num {
		case ScopeSpansScope, ScopeSpansSpans, ScopeSpansSchemaURL:
			if typ != BytesType {
				return 0, false
			}
			_, hi := Bytes(ss, j)
			if hi < 0 {
				return 0, false
			}
			if num == ScopeSpansSpans {
				n++
			}
			i = hi
		default:
			if i = Skip(ss, j, typ); i < 0 {
				return 0, false
			}
		}
	}
	return n, true
}

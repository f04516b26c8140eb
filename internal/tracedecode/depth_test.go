package tracedecode

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// Leaves of deepValue: what the innermost value holds.
const (
	leafString      = iota // string_value "x"
	leafEmptyKV            // an empty kvlist_value
	leafValuelessKV        // a kvlist_value with one KeyValue without a value
)

// deepValue encodes an AnyValue nested levels deep (levels ≥ 1): each level
// but the last holds the next in an array_value (or, with kv, in the value
// of a kvlist_value's KeyValue); the last holds leaf. It writes the bytes
// front to back after sizing them inside out, so a million levels cost one
// allocation.
func deepValue(levels int, kv bool, leaf int) []byte {
	var inner []byte
	switch leaf {
	case leafString:
		inner = str(nil, 1, "x")
	case leafEmptyKV:
		inner = msg(nil, 6, nil)
	case leafValuelessKV:
		inner = msg(nil, 6, msg(nil, 1, str(nil, 1, "k")))
	}
	// wrap returns the sizes of the two (or three) messages one level
	// adds around a value of n bytes, outermost first.
	wrap := func(n int) (outer, mid, kvs int) {
		if kv {
			kvs = 3 + 1 + protowire.SizeVarint(uint64(n)) + n // key "k", value
			mid = 1 + protowire.SizeVarint(uint64(kvs)) + kvs // KeyValueList.values
		} else {
			mid = 1 + protowire.SizeVarint(uint64(n)) + n // ArrayValue.values
		}
		return 1 + protowire.SizeVarint(uint64(mid)) + mid, mid, kvs
	}
	sizes := make([]int, levels)
	sizes[levels-1] = len(inner)
	for i := levels - 2; i >= 0; i-- {
		sizes[i], _, _ = wrap(sizes[i+1])
	}
	b := make([]byte, 0, sizes[0])
	for i := 0; i < levels-1; i++ {
		n := sizes[i+1]
		_, mid, kvs := wrap(n)
		if kv {
			b = protowire.AppendVarint(protowire.AppendTag(b, 6, protowire.BytesType), uint64(mid))
			b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.BytesType), uint64(kvs))
			b = str(b, 1, "k")
			b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.BytesType), uint64(n))
		} else {
			b = protowire.AppendVarint(protowire.AppendTag(b, 5, protowire.BytesType), uint64(mid))
			b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.BytesType), uint64(n))
		}
	}
	return append(b, inner...)
}

// deepRequests places value at every place an attribute value can be.
func deepRequests(value []byte) map[string][]byte {
	kv := cat(str(nil, 1, "deep"), msg(nil, 2, value))
	scope := msg(nil, 2, scopeOf(spanOf()))
	return map[string][]byte{
		"span":     withSpan(attr("deep", value)),
		"resource": request(cat(msg(nil, 1, msg(nil, 1, kv)), scope)),
		"scope":    request(cat(resourceOf("a"), msg(nil, 2, cat(msg(nil, 1, msg(nil, 3, kv)), msg(nil, 2, spanOf()))))),
		"event":    withSpan(msg(nil, 11, msg(nil, 3, kv))),
		"link":     withSpan(msg(nil, 13, cat(msg(nil, 1, tid1), msg(nil, 2, sid2), msg(nil, 4, kv)))),
	}
}

// Values nest at most otlpwire.MaxValueDepth levels, on both paths
// (Decode, and pdata then FromTraces), wherever they are, as arrays or
// kvlists; a KeyValue at the last level counts as a value past it.
func TestValueDepthBound(t *testing.T) {
	const maxDepth = otlpwire.MaxValueDepth
	tests := []struct {
		name   string
		levels int
		kv     bool
		leaf   int
		accept bool
	}{
		{"array at the bound", maxDepth, false, leafString, true},
		{"array past the bound", maxDepth + 1, false, leafString, false},
		{"kvlist at the bound", maxDepth, true, leafString, true},
		{"kvlist past the bound", maxDepth + 1, true, leafString, false},
		{"empty kvlist at the bound", maxDepth, true, leafEmptyKV, true},
		{"valueless KeyValue at the bound", maxDepth, true, leafValuelessKV, false},
		{"valueless KeyValue below the bound", maxDepth - 1, true, leafValuelessKV, true},
	}
	for _, tt := range tests {
		for where, in := range deepRequests(deepValue(tt.levels, tt.kv, tt.leaf)) {
			t.Run(tt.name+" in "+where, func(t *testing.T) {
				if got := assertSame(t, in); got != tt.accept {
					t.Fatalf("accepted = %v, want %v", got, tt.accept)
				}
				if tt.accept {
					return
				}
				err := Decode(in, &Records{})
				if !errors.Is(err, consumer.ErrTooDeep) || !consumer.IsMalformed(err) {
					t.Fatalf("wire error %v: not a malformed consumer.ErrTooDeep", err)
				}
			})
		}
	}
}

// The error names the attribute and the bound, without a path through
// every level.
func TestValueDepthErrors(t *testing.T) {
	in := request(cat(resourceOf("a"), msg(nil, 2, scopeOf(spanOf(), spanOf(attr("ok", str(nil, 1, "v")),
		attr("deep", deepValue(1000, true, leafString)))))))
	err := Decode(in, &Records{})
	const want = "decode protobuf ExportTraceServiceRequest: resource_spans[0].scope_spans[0].spans[1].attributes[1].value: " +
		"attribute values nested too deep: more than 128 levels"
	if err == nil || err.Error() != want {
		t.Fatalf("wire error\n%v, want\n%s", err, want)
	}
	req := ptrace.NewTraces()
	sp := req.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID(tid1))
	sp.SetSpanID(pcommon.SpanID(sid1))
	v := sp.Events().AppendEmpty().Attributes().PutEmptySlice("deep")
	for range 1000 {
		v = v.AppendEmpty().SetEmptySlice()
	}
	err = FromTraces(req, &Records{})
	const wantPdata = `resource_spans[0].scope_spans[0].spans[0].events[0].attributes["deep"]: ` +
		"attribute values nested too deep: more than 128 levels"
	if err == nil || err.Error() != wantPdata || !errors.Is(err, consumer.ErrTooDeep) {
		t.Fatalf("FromTraces error\n%v, want\n%s", err, wantPdata)
	}
}

// A value a million levels deep (9.5 MB as arrays, the request that
// overflowed the stack of the unbounded walk) is refused after 129 levels,
// and nothing of the request is recorded.
func TestValueDepthMillion(t *testing.T) {
	for _, kv := range []bool{false, true} {
		t.Run(fmt.Sprint("kvlist ", kv), func(t *testing.T) {
			in := request(cat(resourceOf("a"), msg(nil, 2, scopeOf(spanOf(msg(nil, 2, sid2)),
				spanOf(attr("deep", deepValue(1_000_000, kv, leafString)))))))
			var r Records
			err := Decode(in, &r)
			if !errors.Is(err, consumer.ErrTooDeep) || !strings.HasSuffix(err.Error(), "more than 128 levels") {
				t.Fatalf("error %v, want consumer.ErrTooDeep", err)
			}
			if r.Received != 0 || len(r.Spans) != 0 || len(r.Resources) != 0 {
				t.Fatalf("refused request recorded: %+v", r)
			}
		})
	}
}

// JSONDepthWithin's bound holds every request whose values are within
// MaxValueDepth, however pdata encodes it (the deepest place, a link's or
// an event's attribute, and the deepest leaf, a valueless KeyValue below
// the bound), and refuses a value one level past it.
func TestMaxJSONDepth(t *testing.T) {
	build := func(levels int, leafKV bool) []byte {
		td := ptrace.NewTraces()
		sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		m := sp.Links().AppendEmpty().Attributes()
		v := m.PutEmptyMap("deep")
		for range levels - 1 {
			v = v.PutEmptyMap("k")
		}
		if leafKV {
			v.PutEmpty("k") // pdata writes "value":{}: an empty value, one more level
		}
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	maxDepth := otlpwire.MaxValueDepth
	if b := build(maxDepth-1, true); !otlpwire.JSONDepthWithin(b, otlpwire.MaxJSONDepth) {
		t.Fatalf("a request within the bound nests deeper than MaxJSONDepth: %.200s", b)
	}
	if b := build(maxDepth, false); !otlpwire.JSONDepthWithin(b, otlpwire.MaxJSONDepth) {
		t.Fatalf("a request at the bound nests deeper than MaxJSONDepth")
	}
	if b := build(maxDepth+1, false); otlpwire.JSONDepthWithin(b, otlpwire.MaxJSONDepth) {
		t.Fatalf("a request past the bound is within MaxJSONDepth")
	}
}

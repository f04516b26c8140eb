package tracedecode

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestWeight checks each span's sampling weight through both decoders:
// from the multiplier attribute, else the tracestate's ot=th: threshold.
func TestWeight(t *testing.T) {
	tests := []struct {
		name       string
		traceState string
		attrs      map[string]any
		want       uint32 // 0 means 1
	}{
		{"none", "", nil, 0},
		{"th:8 keeps half", "ot=th:8", nil, 2},
		{"th:c keeps a quarter", "ot=th:c", nil, 4},
		{"th:0 keeps all", "ot=th:0", nil, 0},
		{"th:fd keeps 3 in 256", "ot=rv:abcdef01234567;th:fd", nil, 85},
		{"among other members", "vendor=a:b, ot=th:8", nil, 2},
		{"14 digits", "ot=th:80000000000000", nil, 2},
		{"15 digits: no threshold", "ot=th:800000000000000", nil, 0},
		{"not hex", "ot=th:zz", nil, 0},
		{"empty threshold", "ot=th:", nil, 0},
		{"no ot member", "other=th:8", nil, 0},
		{"the largest threshold, cut to MaxWeight", "ot=th:ffffffffffffff", nil, MaxWeight},
		{"int multiplier", "", map[string]any{"w": int64(10)}, 10},
		{"double multiplier, rounded", "", map[string]any{"w": 2.6}, 3},
		{"string multiplier", "", map[string]any{"w": "4"}, 4},
		{"below one counts one", "", map[string]any{"w": 0.5}, 0},
		{"not a number: the threshold", "ot=th:8", map[string]any{"w": "many"}, 2},
		{"the multiplier before the threshold", "ot=th:8", map[string]any{"w": int64(7)}, 7},
	}
	n := NewDefaultNaming().WithSpanMultiplier("w")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			sp.SetTraceID([16]byte{1})
			sp.SetSpanID([8]byte{1})
			sp.SetKind(ptrace.SpanKindInternal)
			sp.TraceState().FromRaw(tt.traceState)
			if err := sp.Attributes().FromRaw(tt.attrs); err != nil {
				t.Fatal(err)
			}
			viaPdata, viaWire := Records{Naming: n}, Records{Naming: n}
			if err := FromTraces(td, &viaPdata); err != nil {
				t.Fatal(err)
			}
			buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
			if err != nil {
				t.Fatal(err)
			}
			if err := Decode(buf, &viaWire); err != nil {
				t.Fatal(err)
			}
			for name, r := range map[string]*Records{"pdata": &viaPdata, "wire": &viaWire} {
				if got := r.Spans[0].Weight; got != tt.want {
					t.Errorf("%s: weight %d, want %d", name, got, tt.want)
				}
			}
		})
	}
}

// The multiplier is read whatever its key's length (the decoder passes
// over keys by length, with a bit per length below 64), by Decode and
// DecodeIndexOnly, and another key of its length is not taken for it.
func TestMultiplierKeyLengths(t *testing.T) {
	for _, n := range []int{1, 5, 11, 63, 64, 65, 200} {
		key := strings.Repeat("m", n)
		td := ptrace.NewTraces()
		sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID([16]byte{1})
		sp.SetSpanID([8]byte{1})
		sp.SetKind(ptrace.SpanKindInternal)
		sp.Attributes().PutInt(strings.Repeat("x", n), 3) // same length, another key
		sp.Attributes().PutInt(key, 5)
		buf, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		for name, decode := range map[string]func([]byte, *Records) error{"Decode": Decode, "DecodeIndexOnly": DecodeIndexOnly} {
			r := Records{Naming: NewDefaultNaming().WithSpanMultiplier(key)}
			if err := decode(buf, &r); err != nil {
				t.Fatal(err)
			}
			if got := r.Spans[0].Weight; got != 5 {
				t.Errorf("%s, key of %d bytes: weight %d, want 5", name, n, got)
			}
		}
	}
}

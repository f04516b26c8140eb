package otlpwire_test

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

func TestVarint(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint64
		next int
	}{
		{"one byte", []byte{0x05}, 5, 1},
		{"two bytes", []byte{0x96, 0x01}, 150, 2},
		{"max", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<64 - 1, 10},
		{"tenth byte's high bits dropped, as pdata does", []byte{0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e}, 1, 10},
		{"eleven bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, int(otlpwire.ErrOverflow)},
		{"truncated", []byte{0x80}, 0, int(otlpwire.ErrEOF)},
		{"empty", nil, 0, int(otlpwire.ErrEOF)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, n := otlpwire.Varint(tt.in, 0); v != tt.want || n != tt.next {
				t.Errorf("Varint = %d, %d; want %d, %d", v, n, tt.want, tt.next)
			}
		})
	}
}

func TestTag(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		num  int32
		typ  protowire.Type
		next int
	}{
		{"field 1 bytes", []byte{0x0a}, 1, protowire.BytesType, 1},
		{"field 16 fixed32", protowire.AppendTag(nil, 16, protowire.Fixed32Type), 16, protowire.Fixed32Type, 2},
		{"field 0", []byte{0x02}, 0, 0, int(otlpwire.ErrFieldNumber)},
		{"number past 2^29 kept", protowire.AppendVarint(nil, 1<<29<<3), 1 << 29, 0, 5},
		{"number truncated to int32, as pdata does", protowire.AppendVarint(nil, (1<<32|5)<<3|2), 5, protowire.BytesType, 6},
		{"negative once truncated", protowire.AppendVarint(nil, 1<<31<<3), 0, 0, int(otlpwire.ErrFieldNumber)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			num, typ, n := otlpwire.Tag(tt.in, 0)
			if num != tt.num || typ != tt.typ || n != tt.next {
				t.Errorf("Tag = %d, %d, %d; want %d, %d, %d", num, typ, n, tt.num, tt.typ, tt.next)
			}
		})
	}
}

func TestSkip(t *testing.T) {
	sg := func(n protowire.Number) []byte { return protowire.AppendTag(nil, n, protowire.StartGroupType) }
	eg := func(n protowire.Number) []byte { return protowire.AppendTag(nil, n, protowire.EndGroupType) }
	cat := func(b ...[]byte) []byte {
		var out []byte
		for _, x := range b {
			out = append(out, x...)
		}
		return out
	}
	tests := []struct {
		name string
		in   []byte // starting with the tag
		next int
	}{
		{"varint", protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 300), 3},
		{"bytes", protowire.AppendBytes(protowire.AppendTag(nil, 9, protowire.BytesType), []byte("abc")), 5},
		{"nested empty groups, then more", cat(sg(9), sg(10), eg(10), eg(9), []byte{0x08, 0x01}), 4},
		{"group stops at its first field", cat(sg(9), protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1), eg(9)), 3},
		{"group ending the buffer", cat(sg(9), eg(9)), int(otlpwire.ErrEOF)},
		{"end group alone", cat(eg(9), []byte{0x08, 0x01}), int(otlpwire.ErrEndGroup)},
		{"anything at the very end", eg(9), int(otlpwire.ErrEOF)}, // pdata checks for data first
		{"wire type 6", []byte{0x0e, 0x00}, int(otlpwire.ErrWireType)},
		{"fixed64 truncated", []byte{0x09, 1, 2, 3}, int(otlpwire.ErrEOF)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, typ, i := otlpwire.Tag(tt.in, 0)
			if i < 0 {
				t.Fatalf("tag: %d", i)
			}
			if got := otlpwire.Skip(tt.in, i, typ); got != tt.next {
				t.Errorf("Skip = %d, want %d", got, tt.next)
			}
		})
	}
}

// FuzzSpanCount checks SpanCount against pdata: when pdata decodes the
// input, SpanCount agrees with its SpanCount; when SpanCount refuses it,
// pdata refuses it too.
func FuzzSpanCount(f *testing.F) {
	td := ptrace.NewTraces()
	for range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "a")
		for range 2 {
			ss := rs.ScopeSpans().AppendEmpty()
			for range 3 {
				s := ss.Spans().AppendEmpty()
				s.SetTraceID(pcommon.TraceID{1})
				s.SetName("x")
			}
		}
	}
	valid, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	// A deprecated instrumentation_library_spans (1000) holding one span.
	dep := protowire.AppendBytes(protowire.AppendTag(nil, 1000, protowire.BytesType),
		protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), nil))
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), dep))
	f.Fuzz(func(t *testing.T, in []byte) {
		n, ok := otlpwire.SpanCount(in)
		req := ptraceotlp.NewExportRequest()
		perr := req.UnmarshalProto(in)
		if perr == nil && (!ok || n != req.Traces().SpanCount()) {
			t.Fatalf("SpanCount = %d, %v; pdata decodes %d spans", n, ok, req.Traces().SpanCount())
		}
		if !ok && perr == nil {
			t.Fatalf("SpanCount refused what pdata decodes")
		}
	})
}

// Bytes reads lengths of one, two (its short path) and more bytes as
// protowire does, and refuses what runs past the end.
func TestBytes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		in     []byte
		lo, hi int
	}{
		{"one-byte length", []byte{2, 'a', 'b', 'c'}, 1, 3},
		{"two-byte length", append([]byte{0x81, 0x01}, make([]byte, 129)...), 2, 131},
		{"two-byte length, not minimal", []byte{0x83, 0x00, 'a', 'b', 'c'}, 2, 5},
		{"three-byte length", append([]byte{0x80, 0x80, 0x01}, make([]byte, 1<<14)...), 3, 3 + 1<<14},
		{"two-byte length past the end", append([]byte{0x81, 0x01}, make([]byte, 128)...), 0, int(otlpwire.ErrEOF)},
		{"length cut short", []byte{0x81}, 0, int(otlpwire.ErrEOF)},
		{"empty", nil, 0, int(otlpwire.ErrEOF)},
		{"eleven-byte length", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, int(otlpwire.ErrOverflow)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := otlpwire.Bytes(tt.in, 0)
			if lo != tt.lo || hi != tt.hi {
				t.Fatalf("Bytes = %d, %d, want %d, %d", lo, hi, tt.lo, tt.hi)
			}
			if v, n := protowire.ConsumeBytes(tt.in); n >= 0 && (hi != n || !bytes.Equal(v, tt.in[lo:hi])) {
				t.Fatalf("protowire reads %d bytes up to %d", len(v), n)
			}
		})
	}
}

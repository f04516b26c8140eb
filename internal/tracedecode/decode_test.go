package tracedecode

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// decodeOutcome is what one decoder made of a request.
type decodeOutcome struct {
	err error
	r   Records
}

// decodeBoth decodes buf through pdata (UnmarshalProto, then FromTraces)
// and through Decode. FromTraces applies checkDepth: the one deliberate
// difference from pdata, which accepts attribute values nested to any
// depth, while both of our paths refuse those past otlpwire.MaxValueDepth.
func decodeBoth(t testing.TB, buf []byte) (viaPdata, viaWire decodeOutcome) {
	t.Helper()
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(buf); err != nil {
		viaPdata.err = err
	} else {
		viaPdata.err = FromTraces(req.Traces(), &viaPdata.r)
	}
	viaWire.err = Decode(buf, &viaWire.r)
	return viaPdata, viaWire
}

// assertSame fails unless both decoders accepted buf with identical
// records, or both refused it (the wire decoder recording nothing).
func assertSame(t testing.TB, buf []byte) (accepted bool) {
	t.Helper()
	pd, wd := decodeBoth(t, buf)
	if (pd.err == nil) != (wd.err == nil) {
		t.Fatalf("pdata error %v, wire error %v\ninput %q", pd.err, wd.err, buf)
	}
	assertIndexOnly(t, buf, &wd.r, wd.err)
	if wd.err != nil {
		if !consumer.IsMalformed(wd.err) {
			t.Fatalf("wire error %v is not consumer.NewMalformed", wd.err)
		}
		if r := wd.r; len(r.Spans) != 0 || len(r.Links) != 0 || len(r.Resources) != 0 || r.Received != 0 {
			t.Fatalf("refused request left records: %+v", r)
		}
		return false
	}
	p, w := &pd.r, &wd.r
	if p.Received != w.Received || p.Rejected != w.Rejected || p.Sanitised != w.Sanitised {
		t.Fatalf("counts: pdata received %d rejected %d sanitised %d, wire %d %d %d",
			p.Received, p.Rejected, p.Sanitised, w.Received, w.Rejected, w.Sanitised)
	}
	if !slices.Equal(p.Resources, w.Resources) {
		t.Fatalf("resources differ:\npdata %+v\nwire  %+v", p.Resources, w.Resources)
	}
	if !slices.Equal(p.Spans, w.Spans) {
		t.Fatalf("spans differ:\npdata %+v\nwire  %+v", p.Spans, w.Spans)
	}
	if !slices.Equal(p.Links, w.Links) {
		t.Fatalf("links differ:\npdata %+v\nwire  %+v", p.Links, w.Links)
	}
	return true
}

// assertIndexOnly checks DecodeIndexOnly against Decode's records want
// and error werr for buf: the same error (text), resources, counts and
// spans, but every span without a peer or links, and no links.
func assertIndexOnly(t testing.TB, buf []byte, want *Records, werr error) {
	t.Helper()
	var r Records
	err := DecodeIndexOnly(buf, &r)
	if fmt.Sprint(err) != fmt.Sprint(werr) {
		t.Fatalf("index-only error %v, Decode's %v\ninput %q", err, werr, buf)
	}
	if err != nil {
		if !consumer.IsMalformed(err) || len(r.Spans) != 0 || len(r.Links) != 0 || len(r.Resources) != 0 || r.Received != 0 {
			t.Fatalf("index-only refusal: error %v (malformed %v), records left %+v", err, consumer.IsMalformed(err), r)
		}
		return
	}
	if r.Received != want.Received || r.Rejected != want.Rejected || r.Sanitised != want.Sanitised {
		t.Fatalf("index-only counts: received %d rejected %d sanitised %d, Decode's %d %d %d",
			r.Received, r.Rejected, r.Sanitised, want.Received, want.Rejected, want.Sanitised)
	}
	if !slices.Equal(r.Resources, want.Resources) {
		t.Fatalf("index-only resources differ:\ngot  %+v\nwant %+v", r.Resources, want.Resources)
	}
	spans := slices.Clone(want.Spans)
	for i := range spans {
		spans[i].PeerKind, spans[i].Peer, spans[i].LinkLo, spans[i].LinkHi = NoPeer, "", 0, 0
	}
	if !slices.Equal(r.Spans, spans) {
		t.Fatalf("index-only spans differ:\ngot  %+v\nwant %+v", r.Spans, spans)
	}
	if len(r.Links) != 0 {
		t.Fatalf("index-only recorded %d links", len(r.Links))
	}
}

// Wire-level builders for requests pdata cannot produce.

func tag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(b, num, typ)
}
func msg(b []byte, num protowire.Number, payload []byte) []byte {
	return protowire.AppendBytes(tag(b, num, protowire.BytesType), payload)
}
func str(b []byte, num protowire.Number, s string) []byte { return msg(b, num, []byte(s)) }
func varint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(tag(b, num, protowire.VarintType), v)
}
func fixed64(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(tag(b, num, protowire.Fixed64Type), v)
}
func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// request wraps resource_spans payloads.
func request(rss ...[]byte) []byte {
	var b []byte
	for _, rs := range rss {
		b = msg(b, 1, rs)
	}
	return b
}

func kvStr(k, v string) []byte { return cat(str(nil, 1, k), msg(nil, 2, str(nil, 1, v))) }

func resourceOf(service string) []byte {
	return msg(nil, 1, msg(nil, 1, kvStr("service.name", service)))
}

var (
	tid1 = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sid1 = []byte{1, 1, 1, 1, 1, 1, 1, 1}
	sid2 = []byte{2, 2, 2, 2, 2, 2, 2, 2}
)

// spanOf is a CLIENT span with the given extra fields.
func spanOf(extra ...[]byte) []byte {
	return cat(msg(nil, 1, tid1), msg(nil, 2, sid1), str(nil, 5, "op"), varint(nil, 6, 3),
		fixed64(nil, 7, 1e9), fixed64(nil, 8, 2e9), cat(extra...))
}

func scopeOf(spans ...[]byte) []byte {
	var b []byte
	for _, s := range spans {
		b = msg(b, 2, s)
	}
	return b
}

// withSpan is a request of service "a" with one CLIENT span carrying the
// extra fields.
func withSpan(extra ...[]byte) []byte {
	return request(cat(resourceOf("a"), msg(nil, 2, scopeOf(spanOf(extra...)))))
}

// attr is a span attribute field with an encoded AnyValue.
func attr(key string, value []byte) []byte {
	return msg(nil, 9, cat(str(nil, 1, key), msg(nil, 2, value)))
}

// resourceAttr is a resource field holding one attribute.
func resourceAttr(key string, value []byte) []byte {
	return msg(nil, 1, msg(nil, 1, cat(str(nil, 1, key), msg(nil, 2, value))))
}

// wireCase is a request with what both decoders must make of it.
type wireCase struct {
	name   string
	in     []byte
	accept bool
}

// wireCases are requests pdata's encoder never writes but its decoder
// accepts (or refuses), one quirk each.
func wireCases() []wireCase {
	double := protowire.AppendFixed64(tag(nil, 4, protowire.Fixed64Type), math.Float64bits(2.5))
	scope := msg(nil, 2, scopeOf(spanOf()))
	group := func(inner ...[]byte) []byte {
		return cat(tag(nil, 104, protowire.StartGroupType), cat(inner...), tag(nil, 104, protowire.EndGroupType))
	}
	return []wireCase{
		{"empty request", nil, true},
		{"resource without spans", request(resourceOf("lonely")), true},
		{"one span", withSpan(), true},
		{"resource after scope_spans", request(cat(scope, resourceOf("late"))), true},
		{"resource fields merge", request(cat(resourceAttr("host", str(nil, 1, "h")), scope, resourceOf("second"), resourceOf("third"))), true},
		{"empty service.name", request(cat(resourceOf(""), scope)), true},
		{"int service.name", request(cat(resourceAttr("service.name", varint(nil, 3, 42)), scope)), true},
		{"double service.name", request(cat(resourceAttr("service.name", double), scope)), true},
		{"service.name without value", request(cat(msg(nil, 1, msg(nil, 1, str(nil, 1, "service.name"))), scope)), true},
		{"value fields merge, last wins", request(cat(msg(nil, 1, msg(nil, 1, cat(str(nil, 1, "service.name"),
			msg(nil, 2, str(nil, 1, "first")), msg(nil, 2, varint(nil, 2, 1))))), scope)), true},
		{"deprecated instrumentation_library_spans", request(cat(resourceOf("old"), msg(nil, 1000, scopeOf(spanOf())))), true},
		{"deprecated ignored beside scope_spans", request(cat(resourceOf("old"),
			msg(nil, 1000, scopeOf(spanOf(varint(nil, 6, 2)))), scope)), true},
		{"split repeated scope_spans", request(cat(scope, resourceOf("a"), msg(nil, 2, scopeOf(spanOf(msg(nil, 2, sid2)))))), true},
		{"db attribute int", withSpan(attr("db.system", varint(nil, 3, 7))), true},
		{"db attribute double", withSpan(attr("db.system", double)), true},
		{"db attribute empty value", withSpan(attr("db.system", nil), attr("peer.service", str(nil, 1, "p"))), true},
		{"db attribute bytes", withSpan(attr("db.system", str(nil, 7, "\x00\xff"))), true},
		{"db attribute array", withSpan(attr("db.system", msg(nil, 5, msg(nil, 1, str(nil, 1, "x"))))), true},
		{"db attribute kvlist", withSpan(attr("db.system", msg(nil, 6, msg(nil, 1, kvStr("k", "v"))))), true},
		{"duplicate attribute: first wins", withSpan(attr("peer.service", str(nil, 1, "one")), attr("peer.service", str(nil, 1, "two"))), true},
		{"name repeated: last wins", withSpan(str(nil, 5, "second")), true},
		{"kind CLIENT again after peer attributes of an INTERNAL span", withSpan(varint(nil, 6, 1),
			attr("db.system", str(nil, 1, "pg")), attr("peer.service", str(nil, 1, "p")), varint(nil, 6, 3)), true},
		{"parent cleared after a SERVER span's caller", withSpan(msg(nil, 4, sid2), varint(nil, 6, 2),
			attr("peer.service", str(nil, 1, "c")), attr("k", str(nil, 1, "v")), msg(nil, 4, nil)), true},
		{"parent set after a root SERVER span's caller", withSpan(varint(nil, 6, 2),
			attr("peer.service", str(nil, 1, "c")), msg(nil, 4, sid2)), true},
		{"status merged", withSpan(msg(nil, 15, varint(nil, 3, 2)), msg(nil, 15, str(nil, 2, "m"))), true},
		{"status code truncated to int32", withSpan(msg(nil, 15, varint(nil, 3, 1<<32|2))), true},
		{"kind truncated", withSpan(varint(nil, 6, 256+2)), true},
		{"end before start", withSpan(fixed64(nil, 8, 5)), true},
		{"times past int64", withSpan(fixed64(nil, 7, math.MaxUint64)), true},
		{"zero ids rejected", request(cat(resourceOf("a"), msg(nil, 2, scopeOf(spanOf(msg(nil, 1, nil)),
			spanOf(msg(nil, 2, nil), msg(nil, 13, msg(nil, 1, tid1))))))), true},
		{"links with zero ids", withSpan(msg(nil, 13, nil), msg(nil, 13, cat(msg(nil, 1, tid1), msg(nil, 2, sid2)))), true},
		{"unknown fields of every type", request(cat(varint(nil, 99, 1), resourceOf("a"), fixed64(nil, 98, 1), msg(nil, 2, scopeOf(spanOf(
			varint(nil, 100, 1), fixed64(nil, 101, 2), str(nil, 102, "x"),
			protowire.AppendFixed32(tag(nil, 103, protowire.Fixed32Type), 3), group(group()), varint(nil, 100, 1)))))), true},
		{"invalid UTF-8 strings", request(cat(resourceOf("\xff\xfe"), msg(nil, 2, scopeOf(spanOf(str(nil, 5, "\xc3"),
			attr("peer.service", str(nil, 1, "\x80"))))))), true},
		{"field number past 2^29", request(cat(resourceOf("a"), varint(nil, 1<<29-1, 0),
			protowire.AppendVarint(protowire.AppendVarint(nil, 1<<29<<3), 0))), true},
		{"field number truncated to a known one",
			withSpan(protowire.AppendBytes(protowire.AppendVarint(nil, (1<<32|5)<<3|2), []byte("aliased name"))), true},
		{"ten-byte varint with high bits", withSpan(append(tag(nil, 6, protowire.VarintType),
			0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f)), true},
		{"group with a field: pdata reads on", withSpan(tag(nil, 104, protowire.StartGroupType), str(nil, 105, "x"),
			str(nil, 5, "inside group")), true},

		{"truncated", request(resourceOf("a"))[:5], false},
		{"trace_id of 15 bytes", withSpan(msg(nil, 1, tid1[:15])), false},
		{"parent_span_id of 9 bytes", withSpan(msg(nil, 4, append(slices.Clone(sid1), 9))), false},
		{"link span_id of 7 bytes", withSpan(msg(nil, 13, msg(nil, 2, sid1[:7]))), false},
		{"kind as bytes", withSpan(str(nil, 6, "x")), false},
		{"wrong wire type deep in an event", withSpan(msg(nil, 11, varint(nil, 1, 1))), false},
		{"bad nested attribute value", withSpan(attr("k", msg(nil, 5, msg(nil, 1, varint(nil, 4, 1))))), false},
		{"bad entity ref", request(cat(msg(nil, 1, msg(nil, 3, varint(nil, 1, 1))), scope)), false},
		{"bad scope", request(cat(resourceOf("a"), msg(nil, 2, msg(nil, 1, varint(nil, 3, 1))))), false},
		{"bad deprecated scope spans beside scope_spans", request(cat(resourceOf("a"), scope,
			msg(nil, 1000, scopeOf(spanOf(msg(nil, 1, tid1[:3])))))), false},
		{"field number zero", request(cat(resourceOf("a"), []byte{0x00, 0x01})), false},
		{"wire type 7", request(cat(resourceOf("a"), []byte{0x0f})), false},
		{"stray end group", request(cat(resourceOf("a"), tag(nil, 7, protowire.EndGroupType))), false},
		{"group with a field, then its end", withSpan(group(str(nil, 105, "x"))), false},
		{"empty group ending the message", withSpan(group()), false}, // pdata's ConsumeUnknown wants a byte past the end tag
		{"eleven-byte varint", withSpan(append(tag(nil, 6, protowire.VarintType),
			0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)), false},
	}
}

func TestWireEqualsPdataCases(t *testing.T) {
	for _, tt := range wireCases() {
		t.Run(tt.name, func(t *testing.T) {
			if got := assertSame(t, tt.in); got != tt.accept {
				t.Errorf("accepted = %v, want %v", got, tt.accept)
			}
		})
	}
}

// The error names where decoding failed.
func TestWireErrorNamesTheField(t *testing.T) {
	in := request(cat(resourceOf("a"), msg(nil, 2, scopeOf(spanOf(), spanOf(msg(nil, 1, tid1[:5]))))))
	err := Decode(in, &Records{})
	const want = "decode protobuf ExportTraceServiceRequest: resource_spans[0].scope_spans[0].spans[1]: trace_id has 5 bytes, want 16"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	var we *wireError
	if !errors.As(err, &we) || !consumer.IsMalformed(err) {
		t.Fatalf("error %T is not a malformed *wireError", err)
	}
	in = request(cat(resourceOf("a"), msg(nil, 2, scopeOf(spanOf(msg(nil, 9, msg(nil, 2, varint(nil, 1, 1))))))))
	err = Decode(in, &Records{})
	if err == nil || !strings.Contains(err.Error(), "spans[0].attributes[0].value.string_value: wrong wire type 0") {
		t.Fatalf("error %v does not name the attribute value", err)
	}
}

// genTraces builds a valid request from in: services, kinds, ids (zero
// ones included), parents, links, statuses, peer and database attributes
// of several types, names.
func genTraces(in []byte) ptrace.Traces {
	r := fuzzBytes(in)
	td := ptrace.NewTraces()
	keys := []string{"db.system.name", "db.system", "db.namespace", "db.name", "peer.service", "service.peer.name",
		"server.address", "network.peer.address", "http.route", "service.name"}
	names := []string{"", "GET /x", "ünïcödé", "\xff", "a", "SELECT"}
	for range 1 + r.n(3) {
		rs := td.ResourceSpans().AppendEmpty()
		attrs := rs.Resource().Attributes()
		switch r.n(7) {
		case 0:
		case 1:
			attrs.PutStr("service.name", "svc"+string(rune('a'+r.n(4))))
		case 2:
			attrs.PutInt("service.name", int64(r.n(3)))
		case 3:
			attrs.PutStr("service.name", "")
		case 4:
			attrs.PutBool("service.name", r.n(2) == 1)
		case 5:
			attrs.PutDouble("service.name", 1.5)
		case 6:
			attrs.PutStr("host.name", "h")
			attrs.PutStr("service.name", "svc-late")
		}
		for range r.n(3) {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("scope")
			if r.n(4) == 0 {
				ss.Scope().Attributes().PutInt("x", 1)
			}
			for range r.n(6) {
				sp := ss.Spans().AppendEmpty()
				if t := r.n(5); t > 0 {
					sp.SetTraceID(pcommon.TraceID{15: byte(t)})
				}
				if s := r.n(9); s > 0 {
					sp.SetSpanID(pcommon.SpanID{7: byte(s)})
				}
				if pp := r.n(6); pp > 0 {
					sp.SetParentSpanID(pcommon.SpanID{7: byte(pp)})
				}
				sp.SetKind(ptrace.SpanKind(r.n(6)))
				sp.SetName(names[r.n(len(names))])
				sp.SetStartTimestamp(pcommon.Timestamp(uint64(r.n(4)) * 1e9))
				sp.SetEndTimestamp(pcommon.Timestamp(uint64(r.n(4)) * 1e9))
				if r.n(8) == 0 {
					sp.SetEndTimestamp(math.MaxUint64)
				}
				sp.Status().SetCode(ptrace.StatusCode(r.n(3)))
				for range r.n(4) {
					k := keys[r.n(len(keys))]
					switch r.n(5) {
					case 0:
						sp.Attributes().PutStr(k, "")
					case 1, 2:
						sp.Attributes().PutStr(k, k+"-value"+string(rune('0'+r.n(3))))
					case 3:
						sp.Attributes().PutInt(k, int64(r.n(200))-100)
					case 4:
						sp.Attributes().PutBool(k, true)
					}
				}
				for range r.n(3) {
					l := sp.Links().AppendEmpty()
					if t := r.n(5); t > 0 {
						l.SetTraceID(pcommon.TraceID{15: byte(t)})
					}
					if s := r.n(9); s > 0 {
						l.SetSpanID(pcommon.SpanID{7: byte(s)})
					}
					if r.n(3) == 0 {
						l.Attributes().PutStr("k", "v")
					}
				}
				if r.n(4) == 0 {
					ev := sp.Events().AppendEmpty()
					ev.SetName("exception")
					ev.Attributes().PutStr("exception.message", "boom")
				}
			}
		}
	}
	return td
}

// fuzzBytes hands out small numbers from the fuzz input, then zeros.
type fuzzBytesT struct {
	in []byte
}

func fuzzBytes(in []byte) *fuzzBytesT { return &fuzzBytesT{in: in} }

// n returns a number in [0, k).
func (r *fuzzBytesT) n(k int) int {
	if len(r.in) == 0 {
		return 0
	}
	v := r.in[0]
	r.in = r.in[1:]
	return int(v) % k
}

// reshape rewrites a pdata-marshaled request in ways pdata never writes
// but must accept; bits of mode choose them.
func reshape(req []byte, mode byte) []byte {
	return mapField(req, 1, func(rs []byte) []byte {
		rs = mapField(rs, 2, func(ss []byte) []byte {
			return mapField(ss, 2, func(sp []byte) []byte {
				fs := fields(sp)
				if mode&2 != 0 {
					slices.Reverse(fs) // singular fields appear once: same span; repeated ones reorder
				}
				if mode&4 != 0 {
					// A group must not end the message: pdata refuses that.
					fs = append(fs, cat(tag(nil, 104, protowire.StartGroupType), tag(nil, 104, protowire.EndGroupType)),
						varint(nil, 100, 1), fixed64(nil, 101, 2), str(nil, 102, "x"))
				}
				if mode&16 != 0 {
					fs = append([][]byte{str(nil, 5, "overwritten"), msg(nil, 15, varint(nil, 3, 2))}, fs...)
				}
				return cat(fs...)
			})
		})
		fs := fields(rs)
		if mode&1 != 0 { // resource last
			slices.SortStableFunc(fs, func(a, b []byte) int {
				return boolInt(fieldNum(a) == 1) - boolInt(fieldNum(b) == 1)
			})
		}
		if mode&8 != 0 { // scope_spans as the deprecated field
			for i, f := range fs {
				if fieldNum(f) == 2 {
					_, _, n := protowire.ConsumeTag(f)
					v, _ := protowire.ConsumeBytes(f[n:])
					fs[i] = msg(nil, 1000, v)
				}
			}
		}
		return cat(fs...)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fields splits a valid message into its encoded fields.
func fields(m []byte) [][]byte {
	var out [][]byte
	for len(m) > 0 {
		_, _, n := protowire.ConsumeField(m)
		if n < 0 {
			return append(out, m)
		}
		out = append(out, m[:n])
		m = m[n:]
	}
	return out
}

func fieldNum(f []byte) protowire.Number {
	num, _, _ := protowire.ConsumeTag(f)
	return num
}

// mapField replaces the payload of every field num of m with f(payload).
func mapField(m []byte, num protowire.Number, f func([]byte) []byte) []byte {
	var out []byte
	for _, fl := range fields(m) {
		n, typ, tn := protowire.ConsumeTag(fl)
		if n != num || typ != protowire.BytesType {
			out = append(out, fl...)
			continue
		}
		v, _ := protowire.ConsumeBytes(fl[tn:])
		out = msg(out, num, f(v))
	}
	return out
}

// FuzzWireEqualsPdata builds a valid request from the input, marshals it
// with pdata, optionally reshapes it (resource last, fields reversed,
// unknown fields, deprecated scope field, repeated singular fields), and
// checks that Decode and FromTraces give identical records.
func FuzzWireEqualsPdata(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, byte(0))
	f.Add([]byte("client spans with db and peer attributes of every type"), byte(31))
	f.Fuzz(func(t *testing.T, in []byte, mode byte) {
		if len(in) > 600 {
			in = in[:600]
		}
		buf, err := ptraceotlp.NewExportRequestFromTraces(genTraces(in)).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		if !assertSame(t, reshape(buf, mode)) {
			t.Fatalf("a valid request was refused (mode %d)", mode)
		}
	})
}

// FuzzWireRawBytes feeds arbitrary bytes to both decoders: pdata accepts
// them if and only if Decode does, with identical records.
func FuzzWireRawBytes(f *testing.F) {
	for _, in := range [][]byte{nil, request(cat(resourceOf("a"), msg(nil, 2, scopeOf(spanOf(), spanOf(msg(nil, 2, sid2)))))),
		request(cat(msg(nil, 2, scopeOf(spanOf(msg(nil, 13, msg(nil, 1, tid1))))), resourceOf("b"))),
		// Values at and past the nesting bound (the one deliberate difference from pdata).
		withSpan(attr("deep", deepValue(otlpwire.MaxValueDepth, true, leafString))),
		withSpan(attr("deep", deepValue(otlpwire.MaxValueDepth+1, false, leafString)))} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		assertSame(t, in)
	})
}

// TestDecodeReservesSpans checks that Decode sizes Records.Spans once for
// a large request's spans: appending them one by one grew the slice in ~40
// steps, leaving about five times its final size behind as garbage (28 MB
// for a 2 MiB request of minimal spans). Into empty Records, a request of
// 10,000 spans (540 KB) in 10 resources allocates the spans' array once and
// the resources' slice in its few steps; a body of empty spans (each only
// counted) reserves at most one Span per minSpanBytes of body.
func TestDecodeReservesSpans(t *testing.T) {
	var rss [][]byte
	for range 10 {
		spans := make([][]byte, 1000)
		for i := range spans {
			spans[i] = spanOf()
		}
		rss = append(rss, cat(resourceOf("a"), msg(nil, 2, scopeOf(spans...))))
	}
	req := request(rss...)
	var r Records
	allocs := testing.AllocsPerRun(1, func() {
		r = Records{}
		if err := Decode(req, &r); err != nil {
			t.Fatal(err)
		}
	})
	if len(r.Spans) != 10_000 || cap(r.Spans) > 11_000 {
		t.Errorf("%d spans in a slice of capacity %d, want 10000 in at most 11000", len(r.Spans), cap(r.Spans))
	}
	if allocs != 6 && !raceEnabled { // the spans once; the resources at 1, 2, 4, 8 and 16
		t.Errorf("Decode allocated %v times, want 6", allocs)
	}

	empty := make([][]byte, 300_000)
	for i := range empty {
		empty[i] = nil // a span of no fields: 2 bytes, refused for its zero ids
	}
	req = request(msg(nil, 2, scopeOf(empty...)))
	r = Records{}
	if err := Decode(req, &r); err != nil {
		t.Fatal(err)
	}
	if bound := len(req)/minSpanBytes + 64; len(r.Spans) != 0 || r.Rejected != 300_000 || cap(r.Spans) > bound {
		t.Errorf("empty spans: %d kept, %d rejected, capacity %d; want 0, 300000, at most %d",
			len(r.Spans), r.Rejected, cap(r.Spans), bound)
	}
}

// TestResetKeepsSmallArrays checks that Reset keeps the arrays of a request
// of up to KeptSpans spans for the next one, and drops larger ones: a
// pooled Records must not hold a large request's arrays while idle.
func TestResetKeepsSmallArrays(t *testing.T) {
	for _, n := range []int{KeptSpans, KeptSpans + 1} {
		r := Records{Spans: make([]Span, n), Links: make([]Key, n)}
		r.Reset()
		kept := n <= KeptSpans
		if got := cap(r.Spans) == n && cap(r.Links) == n; got != kept || len(r.Spans) != 0 || len(r.Links) != 0 {
			t.Errorf("%d spans and links: after Reset len %d/%d, cap %d/%d; want empty, kept %v",
				n, len(r.Spans), len(r.Links), cap(r.Spans), cap(r.Links), kept)
		}
	}
}

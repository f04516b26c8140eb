package tracedecode

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"
)

// The decoder reads the fields encoders write in their usual form (one-byte
// tags and lengths: decoder.span's inline cases, shortKeyValue,
// otlpwire.ShortBytes and Bytes' two-byte length) on short paths. These
// tests re-encode requests so that no short path applies and check that
// the general paths make the same records, and the same errors, of them.

// shape names the fields of a message whose payloads longForm re-encodes
// too, with the shape of each.
type shape map[protowire.Number]shape

var (
	kvShape      = shape{2: {}} // value: an AnyValue, whose own fields get long tags
	spanShape    = shape{9: kvShape, 13: {4: kvShape}, 15: {}}
	requestShape = shape{1: {1: {1: kvShape}, 2: {2: spanShape}, 1000: {2: spanShape}}}
)

// padded appends v as a varint one byte longer than it needs (a last byte
// of zero), which protobuf decoders read as v.
func padded(b []byte, v uint64) []byte {
	b = protowire.AppendVarint(b, v)
	b[len(b)-1] |= 0x80
	return append(b, 0)
}

// longForm re-encodes m, a message of shape sh, with every tag and length
// one byte longer than needed, recursing into the fields sh names. ok is
// false when m does not parse as protobuf (the rest is then copied as it
// is).
func longForm(m []byte, sh shape) (out []byte, ok bool) {
	ok = true
	for len(m) > 0 {
		num, typ, n := protowire.ConsumeTag(m)
		if n < 0 {
			return append(out, m...), false
		}
		v := protowire.ConsumeFieldValue(num, typ, m[n:])
		if v < 0 {
			return append(out, m...), false
		}
		out = padded(out, protowire.EncodeTag(num, typ))
		if typ != protowire.BytesType {
			out = append(out, m[n:n+v]...)
			m = m[n+v:]
			continue
		}
		payload, _ := protowire.ConsumeBytes(m[n:])
		if sub, known := sh[num]; known {
			var pok bool
			payload, pok = longForm(payload, sub)
			ok = ok && pok
		}
		out = padded(out, uint64(len(payload)))
		out = append(out, payload...)
		m = m[n+v:]
	}
	return out, ok
}

// assertShortEqualsLong decodes buf and its long form with Decode and
// DecodeIndexOnly, by naming, and fails unless each pair agrees: the
// same error text, or the same records.
func assertShortEqualsLong(t testing.TB, buf []byte, naming *Naming) {
	t.Helper()
	long, ok := longForm(buf, requestShape)
	if !ok {
		return
	}
	var full Records // Decode's, which DecodeIndexOnly's must match but for peers and links
	for _, dec := range []struct {
		name   string
		decode func([]byte, *Records) error
	}{{"Decode", Decode}, {"DecodeIndexOnly", DecodeIndexOnly}} {
		short, general := Records{Naming: naming}, Records{Naming: naming}
		serr, gerr := dec.decode(buf, &short), dec.decode(long, &general)
		if dec.name == "Decode" {
			full = short
		} else if serr == nil {
			spans := slices.Clone(full.Spans)
			for i := range spans {
				spans[i].PeerKind, spans[i].Peer, spans[i].LinkLo, spans[i].LinkHi = NoPeer, "", 0, 0
			}
			if !slices.Equal(short.Spans, spans) {
				t.Fatalf("DecodeIndexOnly's spans differ from Decode's\ngot  %+v\nwant %+v", short.Spans, spans)
			}
		}
		if fmt.Sprint(serr) != fmt.Sprint(gerr) {
			t.Fatalf("%s: short form error %v, long form error %v\ninput %q", dec.name, serr, gerr, buf)
		}
		if short.Received != general.Received || short.Rejected != general.Rejected || short.Sanitised != general.Sanitised ||
			!slices.Equal(short.Resources, general.Resources) || !slices.Equal(short.Spans, general.Spans) ||
			!slices.Equal(short.Links, general.Links) {
			t.Fatalf("%s: records differ\nshort form %+v\nlong form  %+v\ninput %q", dec.name, short, general, buf)
		}
	}
}

// namings are those the short paths are checked with: the defaults, and
// a span multiplier (read by DecodeIndexOnly too) on a key that genTraces
// writes.
func namings() []*Naming {
	return []*Naming{nil, NewDefaultNaming().WithSpanMultiplier("http.route")}
}

func TestShortPathsEqualLongPaths(t *testing.T) {
	t.Run("wire cases", func(t *testing.T) {
		for _, tt := range wireCases() {
			for _, n := range namings() {
				assertShortEqualsLong(t, tt.in, n)
			}
		}
	})
	t.Run("generated", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for range 500 {
			in := make([]byte, r.IntN(400))
			for i := range in {
				in[i] = byte(r.Uint32())
			}
			buf, err := ptraceotlp.NewExportRequestFromTraces(genTraces(in)).MarshalProto()
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range namings() {
				assertShortEqualsLong(t, buf, n)
			}
			// pdata reads the long form as the same request.
			long, _ := longForm(buf, requestShape)
			if !assertSame(t, long) {
				t.Fatalf("the long form of a valid request was refused")
			}
		}
	})
	// Short forms the decoder must not take for what they are not: each
	// is refused, or read the general way, as its long form is.
	kv := func(fields ...[]byte) []byte { return withSpan(msg(nil, fSpanAttributes, cat(fields...))) }
	for name, in := range map[string][]byte{
		"key twice":                   kv(str(nil, 1, "a"), str(nil, 1, "peer.service")),
		"value twice":                 kv(msg(nil, 2, str(nil, 1, "a")), msg(nil, 2, str(nil, 1, "b"))),
		"value first":                 kv(msg(nil, 2, str(nil, 1, "p")), str(nil, 1, "peer.service")),
		"int value ten bytes":         kv(str(nil, 1, "k"), msg(nil, 2, append(tag(nil, 3, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))),
		"int value eleven bytes":      kv(str(nil, 1, "k"), msg(nil, 2, append(tag(nil, 3, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))),
		"int value truncated":         kv(str(nil, 1, "k"), msg(nil, 2, append(tag(nil, 3, protowire.VarintType), 0xff))),
		"string value too long":       kv(str(nil, 1, "k"), msg(nil, 2, []byte{0x0a, 0x05, 'a'})),
		"string value then more":      kv(str(nil, 1, "k"), msg(nil, 2, cat(str(nil, 1, "a"), varint(nil, 3, 1)))),
		"bool value":                  kv(str(nil, 1, "db.system"), msg(nil, 2, varint(nil, 2, 1))),
		"value of wrong wire type":    kv(str(nil, 1, "k"), varint(nil, 2, 1)),
		"attribute past the span":     withSpan([]byte{tagAttributes, 0x7f, 0x0a}),
		"trace_id cut short":          withSpan([]byte{tagTraceID, 16, 1, 2, 3}),
		"span_id of 7 bytes":          withSpan(msg(nil, 2, make([]byte, 7))),
		"empty parent_span_id":        withSpan(msg(nil, 4, nil)),
		"name past the span":          withSpan([]byte{tagName, 0x10, 'a'}),
		"kind of two bytes":           withSpan(append(tag(nil, 6, protowire.VarintType), 0x82, 0x01)),
		"kind cut short":              append(withSpan(), tagKind),
		"start cut short":             withSpan([]byte{tagStart, 1, 2, 3}),
		"status code of two bytes":    withSpan(msg(nil, 15, append(tag(nil, 3, protowire.VarintType), 0x82, 0x01))),
		"status message":              withSpan(msg(nil, 15, str(nil, 2, "m"))),
		"status code as bytes":        withSpan(msg(nil, 15, str(nil, 3, "x"))),
		"status code ERROR":           withSpan(msg(nil, 15, varint(nil, 3, 2))),
		"status empty, after ERROR":   withSpan(msg(nil, 15, varint(nil, 3, 2)), msg(nil, 15, nil)),
		"span of a two-byte length":   withSpan(str(nil, 5, string(make([]byte, 300)))),
		"span of a three-byte length": withSpan(str(nil, 5, string(make([]byte, 20000)))),
	} {
		t.Run(name, func(t *testing.T) {
			assertSame(t, in)
			for _, n := range namings() {
				assertShortEqualsLong(t, in, n)
			}
		})
	}
}

// FuzzShortPaths checks the short paths against the general ones on
// valid requests built from the input (genTraces) and on the input
// itself.
func FuzzShortPaths(f *testing.F) {
	f.Add([]byte("client spans with db and peer attributes of every type"))
	f.Add(withSpan(attr("db.system", varint(nil, 3, 7)), msg(nil, 15, varint(nil, 3, 2))))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 600 {
			in = in[:600]
		}
		buf, err := ptraceotlp.NewExportRequestFromTraces(genTraces(in)).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range namings() {
			assertShortEqualsLong(t, buf, n)
			assertShortEqualsLong(t, in, n)
		}
	})
}

// peerSlot's first test, on the key's length, passes every slot's key.
func TestPeerSlotKeys(t *testing.T) {
	for i, k := range slotKeys[:slotMultiplier] {
		if got := peerSlot(k); got != i {
			t.Errorf("peerSlot(%q) = %d, want %d", k, got, i)
		}
	}
	for _, k := range []string{"", "db", "http.route", "db.operation.name", "peer.service.x", "http.response.status_code"} {
		if got := peerSlot(k); got != -1 {
			t.Errorf("peerSlot(%q) = %d, want -1", k, got)
		}
	}
}

// The fields every span has are read first in a row (decoder.prefix),
// forward as the protobuf libraries write them or backward as pdata does:
// each order, and each way off it, makes the records pdata makes and the
// long form makes.
func TestSpanFieldOrders(t *testing.T) {
	f := map[string][]byte{
		"trace":  msg(nil, 1, tid1),
		"span":   msg(nil, 2, sid1),
		"state":  str(nil, 3, "k=v"),
		"parent": msg(nil, 4, sid2),
		"name":   str(nil, 5, "op"),
		"kind":   varint(nil, 6, 3),
		"start":  fixed64(nil, 7, 1e9),
		"end":    fixed64(nil, 8, 2e9),
		"db":     attr("db.system", str(nil, 1, "mysql")),
		"peer":   attr("peer.service", str(nil, 1, "billing")),
		"other":  attr("http.method", str(nil, 1, "GET")),
		"int":    attr("db.system", varint(nil, 3, 7)),
		"error":  msg(nil, 15, varint(nil, 3, 2)),
		"empty":  msg(nil, 15, nil),
		"bad":    {tagAttributes, 0x7f, 0x0a},
	}
	span := func(names ...string) []byte {
		var b []byte
		for _, n := range names {
			b = append(b, f[n]...)
		}
		return request(cat(resourceOf("a"), msg(nil, 2, scopeOf(b))))
	}
	for name, fields := range map[string][]string{
		"forward":                 {"trace", "span", "parent", "name", "kind", "start", "end", "db", "peer", "other", "error"},
		"forward, root":           {"trace", "span", "name", "kind", "start", "end", "other"},
		"forward, trace_state":    {"trace", "span", "state", "parent", "name", "kind", "start", "end", "db"},
		"forward, no span_id":     {"trace", "parent", "name", "kind", "start", "end"},
		"forward, end first":      {"trace", "span", "parent", "name", "kind", "end", "start"},
		"backward":                {"empty", "other", "peer", "db", "end", "start", "kind", "name", "parent", "span", "trace"},
		"backward, error":         {"error", "db", "end", "start", "kind", "name", "span", "trace"},
		"backward, no status":     {"int", "other", "end", "start", "kind", "name", "parent", "span", "trace"},
		"backward, no attributes": {"empty", "end", "start", "kind", "name", "parent", "span", "trace"},
		"backward, trace_state":   {"empty", "db", "end", "start", "kind", "name", "parent", "state", "span", "trace"},
		"backward, then forward":  {"empty", "end", "start", "kind", "name", "parent", "span", "trace", "trace", "span"},
		"backward, no kind":       {"empty", "peer", "end", "start", "name", "parent", "span", "trace"},
		"backward, bad attribute": {"empty", "db", "bad"},
		"backward, status twice":  {"error", "empty", "db", "end", "start", "kind", "name", "span", "trace"},
		"mixed":                   {"name", "trace", "kind", "span", "end", "db", "start", "parent"},
	} {
		t.Run(name, func(t *testing.T) {
			in := span(fields...)
			assertSame(t, in)
			for _, n := range namings() {
				assertShortEqualsLong(t, in, n)
			}
		})
	}
}

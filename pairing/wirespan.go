package pairing

import (
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// Span, Span.Link and Status fields (opentelemetry-proto
// trace/v1/trace.proto), and the names errors give them.
const (
	fSpanTraceID      = 1
	fSpanSpanID       = 2
	fSpanTraceState   = 3
	fSpanParentSpanID = 4
	fSpanName         = 5
	fSpanKind         = 6
	fSpanStart        = 7
	fSpanEnd          = 8
	fSpanAttributes   = 9
	fSpanDroppedAttrs = 10
	fSpanEvents       = 11
	fSpanDroppedEvts  = 12
	fSpanLinks        = 13
	fSpanDroppedLinks = 14
	fSpanStatus       = 15
	fSpanFlags        = 16

	fLinkTraceID = 1
	fLinkSpanID  = 2

	fStatusCode     = 3
	statusCodeError = 2 // Status.code STATUS_CODE_ERROR
)

// spanFields checks the Span fields decodeProto does not read.
var spanFields = []rule{
	fSpanTraceID:      {"trace_id", otlpwire.BytesType, subNone},
	fSpanSpanID:       {"span_id", otlpwire.BytesType, subNone},
	fSpanTraceState:   {"trace_state", otlpwire.BytesType, subNone},
	fSpanParentSpanID: {"parent_span_id", otlpwire.BytesType, subNone},
	fSpanName:         {"name", otlpwire.BytesType, subNone},
	fSpanKind:         {"kind", otlpwire.VarintType, subNone},
	fSpanStart:        {"start_time_unix_nano", otlpwire.Fixed64Type, subNone},
	fSpanEnd:          {"end_time_unix_nano", otlpwire.Fixed64Type, subNone},
	fSpanAttributes:   {"attributes", otlpwire.BytesType, subKeyValue},
	fSpanDroppedAttrs: {"dropped_attributes_count", otlpwire.VarintType, subNone},
	fSpanEvents:       {"events", otlpwire.BytesType, subEvent},
	fSpanDroppedEvts:  {"dropped_events_count", otlpwire.VarintType, subNone},
	fSpanLinks:        {"links", otlpwire.BytesType, subNone},
	fSpanDroppedLinks: {"dropped_links_count", otlpwire.VarintType, subNone},
	fSpanStatus:       {"status", otlpwire.BytesType, subNone},
	fSpanFlags:        {"flags", otlpwire.Fixed32Type, subNone},
}

// peerAttrs are the first of a span's attributes that peerOf reads,
// indexed by attrIndex: each a whole KeyValue, read once the span's kind is
// known.
type peerAttrs struct {
	have  [8]bool
	kv    [8][]byte
	str   [8]string // the value when isStr: keyValue found a plain string
	isStr [8]bool
}

// span reads one Span into the batch (when record) as decode would. As in
// pdata, the last occurrence of a singular field wins.
func (d *wireDecoder) span(buf []byte, record bool) *wireError {
	var s span
	var start, end uint64
	var code int32
	var peers peerAttrs
	b := d.b
	linkLo := len(b.links)
	nattr, nevent, nlink := 0, 0, 0
	for i := 0; i < len(buf); {
		// Most fields are length-delimited with one-byte tags and lengths:
		// ShortBytes reads those inline.
		num, lo, hi, short := otlpwire.ShortBytes(buf, i)
		typ := otlpwire.BytesType
		if !short {
			if num, typ, lo, hi = otlpwire.Field(buf, i); hi < 0 {
				return codeError(nameOf(spanFields, num), hi)
			}
		}
		switch num {
		case fSpanTraceID, fSpanSpanID, fSpanParentSpanID, fSpanName, fSpanAttributes, fSpanLinks, fSpanStatus:
			if typ != otlpwire.BytesType {
				return fieldError(spanFields[num].name, typ, wrongWireType)
			}
		case fSpanKind:
			if typ != otlpwire.VarintType {
				return fieldError("kind", typ, wrongWireType)
			}
		case fSpanStart, fSpanEnd:
			if typ != otlpwire.Fixed64Type {
				return fieldError(spanFields[num].name, typ, wrongWireType)
			}
		}
		switch num {
		case fSpanTraceID:
			if err := readID(s.key.trace[:], buf[lo:hi], "trace_id"); err != nil {
				return err
			}
		case fSpanSpanID:
			if err := readID(s.key.span[:], buf[lo:hi], "span_id"); err != nil {
				return err
			}
		case fSpanParentSpanID:
			if err := readID(s.parent[:], buf[lo:hi], "parent_span_id"); err != nil {
				return err
			}
		case fSpanName:
			s.name = alias(buf[lo:hi])
		case fSpanKind:
			var v uint64
			if v, hi = otlpwire.Varint(buf, lo); hi < 0 {
				return codeError("kind", hi)
			}
			s.kind = uint8(v) // pdata: SpanKind(int32(v)); decode: uint8 of that
		case fSpanStart:
			if start, hi = otlpwire.Fixed64(buf, lo); hi < 0 {
				return codeError("start_time_unix_nano", hi)
			}
		case fSpanEnd:
			if end, hi = otlpwire.Fixed64(buf, lo); hi < 0 {
				return codeError("end_time_unix_nano", hi)
			}
		case fSpanAttributes:
			key, str, isStr, err := keyValue(buf[lo:hi], 0)
			if err != nil {
				return err.in("attributes", nattr)
			}
			if k := attrIndex(key); k >= 0 && !peers.have[k] {
				peers.have[k], peers.kv[k], peers.str[k], peers.isStr[k] = true, buf[lo:hi], str, isStr
			}
			nattr++
		case fSpanLinks:
			to, err := linkTo(buf[lo:hi])
			if err != nil {
				return err.in("links", nlink)
			}
			if record {
				b.links = append(b.links, link{to: to, valid: to.valid()})
			}
			nlink++
		case fSpanStatus:
			var err *wireError
			if code, err = status(buf[lo:hi], code); err != nil {
				return err.in("status", -1)
			}
		default: // checked only: events, dropped counts, flags, trace_state, unknown fields
			var err *wireError
			if hi, err = checkField(buf, spanFields, num, typ, lo, hi, nevent, 0); err != nil {
				return err
			}
			if num == fSpanEvents {
				nevent++
			}
		}
		i = hi
	}
	if !record {
		return nil
	}
	d.received++
	if !s.key.valid() {
		d.rejected++
		b.links = b.links[:linkLo]
		return nil
	}
	s.start, s.end = clampTime(start), clampTime(end)
	if s.end < s.start {
		s.end = s.start
		d.sanitised++
	}
	s.failed = code == statusCodeError
	var peer string
	if s.kind == kindClient {
		var found [8]string
		for k, ok := range peers.have {
			if ok && peers.isStr[k] {
				found[k] = peers.str[k]
			} else if ok {
				found[k] = valueString(peers.kv[k])
			}
		}
		var ok bool
		if peer, s.peerKind, ok = pickPeer(&found, &peers.have); ok {
			s.hasPeer = true
		}
	}
	s.linkLo, s.linkHi = uint32(linkLo), uint32(len(b.links))
	b.spans = append(b.spans, s)
	b.names = append(b.names, peer) // the peer's name until decodeProto resolves it
	return nil
}

// linkFields checks the Span.Link fields linkTo does not read.
var linkFields = []rule{
	fLinkTraceID: {"trace_id", otlpwire.BytesType, subNone},
	fLinkSpanID:  {"span_id", otlpwire.BytesType, subNone},
	3:            {"trace_state", otlpwire.BytesType, subNone},
	4:            {"attributes", otlpwire.BytesType, subKeyValue},
	5:            {"dropped_attributes_count", otlpwire.VarintType, subNone},
	6:            {"flags", otlpwire.Fixed32Type, subNone},
}

// linkTo reads a Span.Link and returns its target.
func linkTo(buf []byte) (spanKey, *wireError) {
	var to spanKey
	nattr := 0
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 {
			return to, codeError(nameOf(linkFields, num), hi)
		}
		if (num == fLinkTraceID || num == fLinkSpanID) && typ != otlpwire.BytesType {
			return to, fieldError(linkFields[num].name, typ, wrongWireType)
		}
		switch num {
		case fLinkTraceID:
			if err := readID(to.trace[:], buf[lo:hi], "trace_id"); err != nil {
				return to, err
			}
		case fLinkSpanID:
			if err := readID(to.span[:], buf[lo:hi], "span_id"); err != nil {
				return to, err
			}
		default:
			var err *wireError
			if hi, err = checkField(buf, linkFields, num, typ, lo, hi, nattr, 0); err != nil {
				return to, err
			}
			if num == 4 {
				nattr++
			}
		}
		i = hi
	}
	return to, nil
}

// statusFields checks the Status fields status does not read.
var statusFields = []rule{
	2:           {"message", otlpwire.BytesType, subNone},
	fStatusCode: {"code", otlpwire.VarintType, subNone},
}

// status reads a Status and returns its code: the last one, starting from
// code (pdata merges repeated status fields).
func status(buf []byte, code int32) (int32, *wireError) {
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 {
			return code, codeError(nameOf(statusFields, num), hi)
		}
		if num == fStatusCode && typ == otlpwire.VarintType {
			var v uint64
			if v, i = otlpwire.Varint(buf, lo); i < 0 {
				return code, codeError("code", i)
			}
			code = int32(v) // pdata: StatusCode(v), an int32
			continue
		}
		var err *wireError
		if i, err = checkField(buf, statusFields, num, typ, lo, hi, -1, 0); err != nil {
			return code, err
		}
	}
	return code, nil
}

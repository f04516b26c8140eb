package tracedecode

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"

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

	fLinkTraceID    = 1
	fLinkSpanID     = 2
	fLinkTraceState = 3
	fLinkAttributes = 4
	fLinkDropped    = 5
	fLinkFlags      = 6

	fStatusMessage = 2
	fStatusCode    = 3
)

// spanFields names the Span fields and checks those span does not read.
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

// readSpanFields has bit n set for each Span field n that span reads
// (the others are only checked): their wire type is checked first.
const readSpanFields = 1<<fSpanTraceID | 1<<fSpanSpanID | 1<<fSpanTraceState | 1<<fSpanParentSpanID | 1<<fSpanName | 1<<fSpanKind |
	1<<fSpanStart | 1<<fSpanEnd | 1<<fSpanAttributes | 1<<fSpanLinks | 1<<fSpanStatus

// peerAttrs are the first of a span's peer attributes (one per
// peerSlot): each a whole KeyValue, whose value is read only where it is
// used (value: pick's, for a CLIENT or root span; weight).
type peerAttrs struct {
	have  [peerSlots]bool
	kv    [peerSlots][]byte
	str   [peerSlots]string // the value when isStr: keyValue found a plain string
	isStr [peerSlots]bool
}

// spanReader is the state of reading one Span: one reader method per
// field it reads. As in pdata, the last occurrence of a singular field
// wins.
type spanReader struct {
	s                    Span
	start, end           uint64
	code                 int32
	peers                peerAttrs
	traceState           string // the trace_state field, aliasing the request (weight)
	nattr, nevent, nlink int    // occurrences so far, for error paths
	record               bool   // the span goes to the records
	links                bool   // its links go to the records (record, not DecodeIndexOnly)
	peersRead            bool   // peer attributes are kept (not DecodeIndexOnly)
	keyLengths           uint64 // the key lengths below 64 keep may keep (mayKeep)
	naming               *Naming
	r                    *Records
}

// span reads one Span into the records (when record) as FromTraces would.
func (d *decoder) span(buf []byte, record bool) *wireError {
	// Reset what a span reads, not the whole reader: its peer attributes'
	// values (about 0.4 KB) are read only where have is set.
	sr := &d.sr
	sr.s, sr.start, sr.end, sr.code = Span{}, 0, 0, 0
	sr.peers.have = [peerSlots]bool{}
	sr.traceState, sr.nattr, sr.nevent, sr.nlink = "", 0, 0, 0
	sr.record, sr.links = record, record && !d.indexOnly // (peersRead, naming and r are the decoder's: decode)
	linkLo := len(d.r.Links)
	i, err := sr.prefix(buf)
	if err != nil {
		return err
	}
	for i < len(buf) {
		// The fields every span has, in the form encoders write them (a
		// one-byte tag of the right wire type, a one-byte length or value,
		// an id of its length, within buf), are read here: no tag to
		// decode, no wire type to look up, no call. Anything else goes the
		// general way below, which reads the same bytes to the same effect.
		if i+1 < len(buf) {
			n := int(buf[i+1])
			switch buf[i] {
			case tagTraceID:
				if n == 16 && i+18 <= len(buf) {
					sr.s.Key.Trace = [16]byte(buf[i+2 : i+18])
					i += 18
					continue
				}
			case tagSpanID:
				if n == 8 && i+10 <= len(buf) {
					sr.s.Key.Span = [8]byte(buf[i+2 : i+10])
					i += 10
					continue
				}
			case tagParentID:
				if n == 8 && i+10 <= len(buf) {
					sr.s.Parent = [8]byte(buf[i+2 : i+10])
					i += 10
					continue
				}
			case tagName:
				if n < 0x80 && i+2+n <= len(buf) {
					sr.s.Name = alias(buf[i+2 : i+2+n])
					i += 2 + n
					continue
				}
			case tagKind:
				if n < 0x80 {
					sr.s.Kind = uint8(n)
					i += 2
					continue
				}
			case tagStart:
				if i+9 <= len(buf) {
					sr.start = binary.LittleEndian.Uint64(buf[i+1:])
					i += 9
					continue
				}
			case tagEnd:
				if i+9 <= len(buf) {
					sr.end = binary.LittleEndian.Uint64(buf[i+1:])
					i += 9
					continue
				}
			case tagAttributes:
				if n < 0x80 && i+2+n <= len(buf) {
					kv := buf[i+2 : i+2+n]
					if key, str, isStr, ok := shortKeyValue(kv); ok {
						if sr.nattr++; sr.mayKeep(key) {
							sr.keep(kv, key, str, isStr)
						}
					} else if err := sr.attribute(kv); err != nil {
						return err
					}
					i += 2 + n
					continue
				}
			case tagStatus:
				switch {
				case n == 0: // pdata writes an empty status for every span: the code stays
					i += 2
					continue
				case n == 2 && i+4 <= len(buf) && buf[i+2] == fStatusCode<<3 && buf[i+3] < 0x80: // a lone code
					sr.code = int32(buf[i+3])
					i += 4
					continue
				}
			}
		}
		// Most other fields are length-delimited with one-byte tags and
		// lengths: ShortBytes reads those inline.
		num, lo, hi, short := otlpwire.ShortBytes(buf, i)
		typ := otlpwire.BytesType
		if !short {
			if num, typ, lo, hi = otlpwire.Field(buf, i); hi < 0 {
				return codeError(nameOf(spanFields, num), hi)
			}
		}
		if num > 0 && num < 32 && readSpanFields>>num&1 != 0 && typ != spanFields[num].typ {
			return fieldError(spanFields[num].name, typ, wrongWireType)
		}
		var err *wireError
		if i, err = sr.field(buf, num, typ, lo, hi); err != nil {
			return err
		}
	}
	if !record {
		return nil
	}
	if !d.indexOnly && wantsPeer(&sr.s) && sr.s.Key.Valid() {
		sr.peers.pick(sr.naming, &sr.s)
	}
	if sr.peers.have[slotMultiplier] || sr.traceState != "" {
		sr.s.Weight = sr.peers.weight(sr.traceState)
	}
	sr.s.Failed = sr.code == statusCodeError
	d.r.accept(&sr.s, sr.start, sr.end, linkLo)
	return nil
}

// prefix reads the fields every span has, in either order encoders
// write them, in a row of tests that the branch predictor gets right
// where the loop's switch on each field's tag misses: forward (trace_id,
// span_id, parent_span_id if any, name, kind, start and end times: the
// protobuf libraries) or backward (status, attributes, end and start
// times, kind, name, parent_span_id if any, span_id, trace_id: pdata, so
// the Collector and its kafkaexporter). Each field is read only in the
// form span's loop reads inline, to the same effect; prefix stops at the
// first field that is not the next expected and returns its position, for
// the loop to read the rest.
func (sr *spanReader) prefix(buf []byte) (int, *wireError) {
	if len(buf) < 2 {
		return 0, nil
	}
	if buf[0] == tagTraceID {
		return sr.forward(buf), nil
	}
	i := 0
	if buf[0] == tagStatus {
		switch n := buf[1]; {
		case n == 0:
			i = 2
		case n == 2 && len(buf) >= 4 && buf[2] == fStatusCode<<3 && buf[3] < 0x80:
			sr.code = int32(buf[3])
			i = 4
		default:
			return 0, nil
		}
	}
	for i+1 < len(buf) && buf[i] == tagAttributes {
		n := int(buf[i+1])
		if n >= 0x80 || i+2+n > len(buf) {
			return i, nil
		}
		kv := buf[i+2 : i+2+n]
		if key, str, isStr, ok := shortKeyValue(kv); ok {
			if sr.nattr++; sr.mayKeep(key) {
				sr.keep(kv, key, str, isStr)
			}
		} else if err := sr.attribute(kv); err != nil {
			return i, err
		}
		i += 2 + n
	}
	if i+9 > len(buf) || buf[i] != tagEnd {
		return i, nil
	}
	sr.end = binary.LittleEndian.Uint64(buf[i+1:])
	i += 9
	if i+9 > len(buf) || buf[i] != tagStart {
		return i, nil
	}
	sr.start = binary.LittleEndian.Uint64(buf[i+1:])
	i += 9
	if i+1 >= len(buf) || buf[i] != tagKind || buf[i+1] >= 0x80 {
		return i, nil
	}
	sr.s.Kind = buf[i+1]
	i += 2
	if i+1 >= len(buf) || buf[i] != tagName || buf[i+1] >= 0x80 || i+2+int(buf[i+1]) > len(buf) {
		return i, nil
	}
	sr.s.Name = alias(buf[i+2 : i+2+int(buf[i+1])])
	i += 2 + int(buf[i+1])
	if i+10 <= len(buf) && buf[i] == tagParentID && buf[i+1] == 8 {
		sr.s.Parent = [8]byte(buf[i+2 : i+10])
		i += 10
	}
	if i+10 > len(buf) || buf[i] != tagSpanID || buf[i+1] != 8 {
		return i, nil
	}
	sr.s.Key.Span = [8]byte(buf[i+2 : i+10])
	i += 10
	if i+18 > len(buf) || buf[i] != tagTraceID || buf[i+1] != 16 {
		return i, nil
	}
	sr.s.Key.Trace = [16]byte(buf[i+2 : i+18])
	return i + 18, nil
}

// forward is prefix for a span that starts with its trace_id.
func (sr *spanReader) forward(buf []byte) int {
	if len(buf) < 18 || buf[1] != 16 {
		return 0
	}
	sr.s.Key.Trace = [16]byte(buf[2:18])
	i := 18
	if i+10 > len(buf) || buf[i] != tagSpanID || buf[i+1] != 8 {
		return i
	}
	sr.s.Key.Span = [8]byte(buf[i+2 : i+10])
	i += 10
	if i+10 <= len(buf) && buf[i] == tagParentID && buf[i+1] == 8 {
		sr.s.Parent = [8]byte(buf[i+2 : i+10])
		i += 10
	}
	if i+1 >= len(buf) || buf[i] != tagName || buf[i+1] >= 0x80 || i+2+int(buf[i+1]) > len(buf) {
		return i
	}
	sr.s.Name = alias(buf[i+2 : i+2+int(buf[i+1])])
	i += 2 + int(buf[i+1])
	if i+1 >= len(buf) || buf[i] != tagKind || buf[i+1] >= 0x80 {
		return i
	}
	sr.s.Kind = buf[i+1]
	i += 2
	if i+9 > len(buf) || buf[i] != tagStart {
		return i
	}
	sr.start = binary.LittleEndian.Uint64(buf[i+1:])
	i += 9
	if i+9 > len(buf) || buf[i] != tagEnd {
		return i
	}
	sr.end = binary.LittleEndian.Uint64(buf[i+1:])
	return i + 9
}

// The one-byte tags of the fields span reads inline: field number and
// wire type as every encoder writes them.
const (
	tagTraceID    = fSpanTraceID<<3 | 2
	tagSpanID     = fSpanSpanID<<3 | 2
	tagParentID   = fSpanParentSpanID<<3 | 2
	tagName       = fSpanName<<3 | 2
	tagKind       = fSpanKind << 3 // wire type 0, varint
	tagStart      = fSpanStart<<3 | 1
	tagEnd        = fSpanEnd<<3 | 1
	tagAttributes = fSpanAttributes<<3 | 2
	tagStatus     = fSpanStatus<<3 | 2
)

// field reads or checks one field of a type already checked, and returns
// the position after it.
func (sr *spanReader) field(buf []byte, num int32, typ protowire.Type, lo, hi int) (int, *wireError) {
	var err *wireError
	switch num {
	case fSpanTraceID:
		err = readID(sr.s.Key.Trace[:], buf[lo:hi], "trace_id")
	case fSpanSpanID:
		err = readID(sr.s.Key.Span[:], buf[lo:hi], "span_id")
	case fSpanParentSpanID:
		err = readID(sr.s.Parent[:], buf[lo:hi], "parent_span_id")
	case fSpanName:
		sr.s.Name = alias(buf[lo:hi])
	case fSpanTraceState:
		sr.traceState = alias(buf[lo:hi])
	case fSpanKind:
		hi, err = sr.kind(buf, lo)
	case fSpanStart:
		hi, err = readFixed64(buf, lo, &sr.start, "start_time_unix_nano")
	case fSpanEnd:
		hi, err = readFixed64(buf, lo, &sr.end, "end_time_unix_nano")
	case fSpanAttributes:
		err = sr.attribute(buf[lo:hi])
	case fSpanLinks:
		err = sr.link(buf[lo:hi])
	case fSpanStatus:
		if sr.code, err = status(buf[lo:hi], sr.code); err != nil {
			err = err.in("status", -1)
		}
	default: // checked only: events, dropped counts, flags, trace_state, unknown fields
		if hi, err = checkField(buf, spanFields, num, typ, lo, hi, sr.nevent, 0); err == nil && num == fSpanEvents {
			sr.nevent++
		}
	}
	return hi, err
}

// kind reads Span.kind at buf[lo:].
func (sr *spanReader) kind(buf []byte, lo int) (int, *wireError) {
	v, hi := otlpwire.Varint(buf, lo)
	if hi < 0 {
		return hi, codeError("kind", hi)
	}
	sr.s.Kind = uint8(v) // pdata: SpanKind(int32(v)); FromTraces: uint8 of that
	return hi, nil
}

// readFixed64 reads a fixed64 field at buf[lo:] into dst.
func readFixed64(buf []byte, lo int, dst *uint64, field string) (int, *wireError) {
	v, hi := otlpwire.Fixed64(buf, lo)
	if hi < 0 {
		return hi, codeError(field, hi)
	}
	*dst = v
	return hi, nil
}

// attribute checks one span attribute (a KeyValue) and keeps it if it is
// the first of a peer attribute.
func (sr *spanReader) attribute(kv []byte) *wireError {
	key, str, isStr, err := keyValue(kv, 0)
	if err != nil {
		return err.in("attributes", sr.nattr)
	}
	if sr.nattr++; sr.mayKeep(key) {
		sr.keep(kv, key, str, isStr)
	}
	return nil
}

// mayKeep reports whether a span attribute of key may be one keep keeps,
// by its length alone (keyLengths): most attributes fail it inline, with
// no call.
func (sr *spanReader) mayKeep(key string) bool {
	return len(key) >= 64 || sr.keyLengths>>len(key)&1 != 0
}

// keyLengths is spanReader.keyLengths for a decode that reads peers (or
// only the weight) with naming n: bit l set for each length l < 64 of a key
// keep may keep; keys of 64 bytes or more are always looked at.
func keyLengths(n *Naming, peers bool) uint64 {
	var m uint64
	if peers {
		m = slotKeyLengths
	}
	if l := len(n.multiplier); l > 0 && l < 64 {
		m |= 1 << l
	}
	return m
}

// keep keeps a span attribute that keyValue (or shortKeyValue) accepted
// if it is the first of a peer attribute; DecodeIndexOnly keeps only the
// span multiplier's, all weight reads.
func (sr *spanReader) keep(kv []byte, key, str string, isStr bool) {
	if k := sr.naming.slot(key); k >= 0 && (sr.peersRead || k == slotMultiplier) && !sr.peers.have[k] {
		sr.peers.have[k], sr.peers.kv[k], sr.peers.str[k], sr.peers.isStr[k] = true, kv, str, isStr
	}
}

// link reads one Span.Link, recorded when the span is.
func (sr *spanReader) link(buf []byte) *wireError {
	to, err := linkTo(buf)
	if err != nil {
		return err.in("links", sr.nlink)
	}
	if sr.links {
		sr.r.Links = append(sr.r.Links, to)
	}
	sr.nlink++
	return nil
}

// linkFields checks the Span.Link fields linkTo does not read.
var linkFields = []rule{
	fLinkTraceID:    {"trace_id", otlpwire.BytesType, subNone},
	fLinkSpanID:     {"span_id", otlpwire.BytesType, subNone},
	fLinkTraceState: {"trace_state", otlpwire.BytesType, subNone},
	fLinkAttributes: {"attributes", otlpwire.BytesType, subKeyValue},
	fLinkDropped:    {"dropped_attributes_count", otlpwire.VarintType, subNone},
	fLinkFlags:      {"flags", otlpwire.Fixed32Type, subNone},
}

// linkTo reads a Span.Link and returns its target.
func linkTo(buf []byte) (Key, *wireError) {
	var to Key
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
			if err := readID(to.Trace[:], buf[lo:hi], "trace_id"); err != nil {
				return to, err
			}
		case fLinkSpanID:
			if err := readID(to.Span[:], buf[lo:hi], "span_id"); err != nil {
				return to, err
			}
		default:
			var err *wireError
			if hi, err = checkField(buf, linkFields, num, typ, lo, hi, nattr, 0); err != nil {
				return to, err
			}
			if num == fLinkAttributes {
				nattr++
			}
		}
		i = hi
	}
	return to, nil
}

// statusFields checks the Status fields status does not read.
var statusFields = []rule{
	fStatusMessage: {"message", otlpwire.BytesType, subNone},
	fStatusCode:    {"code", otlpwire.VarintType, subNone},
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

package main

import (
	"encoding/binary"
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP field numbers walked by rekey and countSpans.
const (
	fieldResourceSpans = 1 // ExportTraceServiceRequest.resource_spans
	fieldScopeSpans    = 2 // ResourceSpans.scope_spans
	fieldSpans         = 2 // ScopeSpans.spans
	fieldTraceID       = 1 // Span.trace_id, Span.Link.trace_id
	fieldLinks         = 13
)

// walk calls fn with the bytes of every field num of msg, which alias msg.
func walk(msg []byte, num protowire.Number, fn func([]byte) error) error {
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return protowire.ParseError(l)
		}
		msg = msg[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return protowire.ParseError(l)
			}
			if err := fn(v); err != nil {
				return err
			}
			msg = msg[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, msg)
		if l < 0 {
			return protowire.ParseError(l)
		}
		msg = msg[l:]
	}
	return nil
}

// spans calls fn with every span of an ExportTraceServiceRequest.
func spans(req []byte, fn func(span []byte) error) error {
	return walk(req, fieldResourceSpans, func(rs []byte) error {
		return walk(rs, fieldScopeSpans, func(ss []byte) error {
			return walk(ss, fieldSpans, fn)
		})
	})
}

// countSpans is the number of spans in req.
func countSpans(req []byte) (int, error) {
	n := 0
	err := spans(req, func([]byte) error { n++; return nil })
	return n, err
}

// rekey XORs, in place, the first 8 bytes of every 16-byte, not all-zero
// trace id of req's spans and links with key. Lengths do not change, so
// the request stays valid; relations between spans (parents, links) keep.
func rekey(req []byte, key uint64) error {
	if key == 0 {
		return nil
	}
	xor := func(id []byte) error {
		if len(id) != 16 || allZero(id) {
			return nil
		}
		binary.BigEndian.PutUint64(id, binary.BigEndian.Uint64(id)^key)
		if allZero(id) { // would turn valid into invalid: undo
			binary.BigEndian.PutUint64(id, binary.BigEndian.Uint64(id)^key)
			return errors.New("rekey: an id would become zero")
		}
		return nil
	}
	return spans(req, func(span []byte) error {
		if err := walk(span, fieldTraceID, xor); err != nil {
			return err
		}
		return walk(span, fieldLinks, func(link []byte) error { return walk(link, fieldTraceID, xor) })
	})
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

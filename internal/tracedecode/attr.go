package tracedecode

import (
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// Attributes and the messages Decode checks without reading: pdata
// refuses a request when any of them is malformed, so they are walked, at
// the cost of a few tags each.

// keyValue checks a KeyValue and returns its key (the last key field, as
// in pdata), aliasing buf. When the value is a lone string field (the
// common case) it returns that string too, with isStr; else valueString
// finds what pdata makes of the value. level is that of the value holding
// the KeyValue in a kvlist_value, 0 for an attribute. A KeyValue stands for
// a value one level deeper even without a value field (pdata gives it an
// empty one), so at the last level it is refused as too deep.
func keyValue(buf []byte, level int) (key, str string, isStr bool, err *wireError) {
	if level >= otlpwire.MaxValueDepth {
		return "", "", false, tooDeep()
	}
	if key, str, isStr, ok := shortKeyValue(buf); ok {
		return key, str, isStr, nil
	}
	values := 0
	for i := 0; i < len(buf); {
		num, lo, hi, short := otlpwire.ShortBytes(buf, i)
		typ := otlpwire.BytesType
		if !short {
			if num, typ, lo, hi = otlpwire.Field(buf, i); hi < 0 {
				return "", "", false, codeError(nameOf(keyValueFields, num), hi)
			}
		}
		switch {
		case num == 1 && typ == otlpwire.BytesType:
			key = alias(buf[lo:hi])
		case num == 2 && typ == otlpwire.BytesType:
			values++
			// A short string alone needs no walk.
			if hi-lo >= 2 && buf[lo] == 0x0a && buf[lo+1] < 0x80 && int(buf[lo+1]) == hi-lo-2 {
				str, isStr = alias(buf[lo+2:hi]), true
			} else {
				isStr = false
				if err := anyValue(buf[lo:hi], level+1); err != nil {
					return "", "", false, err.inValue(level, "value", -1)
				}
			}
		default:
			if hi, err = checkField(buf, keyValueFields, num, typ, lo, hi, -1, level); err != nil {
				return "", "", false, err
			}
		}
		i = hi
	}
	return key, str, isStr && values == 1, nil
}

// shortKeyValue is keyValue's fast path, for a KeyValue as encoders write
// one: a key and a value holding a lone string, int or bool, in either
// order (pdata writes the value first), each field with a one-byte tag
// and length. ok is false for anything else, which keyValue then reads
// the general way (to the same result when it is well-formed:
// TestShortPathsEqualLongPaths).
func shortKeyValue(kv []byte) (key, str string, isStr, ok bool) {
	if len(kv) < 4 || kv[1] >= 0x80 {
		return "", "", false, false
	}
	m := 2 + int(kv[1]) // the second field
	if m+2 > len(kv) || kv[m+1] >= 0x80 || m+2+int(kv[m+1]) != len(kv) {
		return "", "", false, false
	}
	var v []byte
	switch {
	case kv[0] == 0x12 && kv[m] == 0x0a:
		key, v = alias(kv[m+2:]), kv[2:m]
	case kv[0] == 0x0a && kv[m] == 0x12:
		key, v = alias(kv[2:m]), kv[m+2:]
	default:
		return "", "", false, false
	}
	if len(v) < 2 {
		return "", "", false, false
	}
	switch v[0] {
	case 0x0a: // string_value
		if v[1] < 0x80 && int(v[1]) == len(v)-2 {
			return key, alias(v[2:]), true, true
		}
	case 0x10, 0x18: // bool_value, int_value
		if _, j := otlpwire.Varint(v, 1); j == len(v) {
			return key, "", false, true
		}
	}
	return "", "", false, false
}

// anyValue checks an AnyValue of the given nesting level (an attribute's
// value is level 1): past otlpwire.MaxValueDepth it refuses, so that the
// walk's recursion is bounded.
func anyValue(buf []byte, level int) *wireError {
	if level > otlpwire.MaxValueDepth {
		return tooDeep()
	}
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 {
			return codeError(nameOf(anyValueFields, num), hi)
		}
		var err *wireError
		if i, err = checkField(buf, anyValueFields, num, typ, lo, hi, -1, level); err != nil {
			return err
		}
	}
	return nil
}

// rule says how checkField reads one known field of a message.
type rule struct {
	name string
	typ  protowire.Type
	sub  subMessage // for a length-delimited field: the message it holds
}

type subMessage uint8

const (
	subNone subMessage = iota
	subKeyValue
	subAnyValue
	subArray
	subKVList
	subEntityRef
	subScope
	subEvent
)

// The fields pdata reads of the messages Decode checks (pdata
// v1.70.0 internal/generated_proto_*.go), indexed by field number; the
// Span, Link and Status tables are in span.go.
var (
	resourceFields = []rule{
		fResourceAttributes: {"attributes", otlpwire.BytesType, subKeyValue},
		2:                   {"dropped_attributes_count", otlpwire.VarintType, subNone},
		3:                   {"entity_refs", otlpwire.BytesType, subEntityRef},
	}
	scopeSpansFields = []rule{
		otlpwire.ScopeSpansScope:     {"scope", otlpwire.BytesType, subScope},
		otlpwire.ScopeSpansSpans:     {"spans", otlpwire.BytesType, subNone},
		otlpwire.ScopeSpansSchemaURL: {"schema_url", otlpwire.BytesType, subNone},
	}
	keyValueFields = []rule{
		1: {"key", otlpwire.BytesType, subNone},
		2: {"value", otlpwire.BytesType, subAnyValue},
		3: {"key_strindex", otlpwire.VarintType, subNone},
	}
	anyValueFields = []rule{
		1: {"string_value", otlpwire.BytesType, subNone},
		2: {"bool_value", otlpwire.VarintType, subNone},
		3: {"int_value", otlpwire.VarintType, subNone},
		4: {"double_value", otlpwire.Fixed64Type, subNone},
		5: {"array_value", otlpwire.BytesType, subArray},
		6: {"kvlist_value", otlpwire.BytesType, subKVList},
		7: {"bytes_value", otlpwire.BytesType, subNone},
		8: {"string_value_strindex", otlpwire.VarintType, subNone},
	}
	arrayFields  = []rule{1: {"values", otlpwire.BytesType, subAnyValue}}
	kvListFields = []rule{1: {"values", otlpwire.BytesType, subKeyValue}}
	scopeFields  = []rule{
		1: {"name", otlpwire.BytesType, subNone},
		2: {"version", otlpwire.BytesType, subNone},
		3: {"attributes", otlpwire.BytesType, subKeyValue},
		4: {"dropped_attributes_count", otlpwire.VarintType, subNone},
	}
	eventFields = []rule{
		1: {"time_unix_nano", otlpwire.Fixed64Type, subNone},
		2: {"name", otlpwire.BytesType, subNone},
		3: {"attributes", otlpwire.BytesType, subKeyValue},
		4: {"dropped_attributes_count", otlpwire.VarintType, subNone},
	}
	entityRefFields = []rule{
		1: {"schema_url", otlpwire.BytesType, subNone},
		2: {"type", otlpwire.BytesType, subNone},
		3: {"id_keys", otlpwire.BytesType, subNone},
		4: {"description_keys", otlpwire.BytesType, subNone},
	}
)

// nameOf names field num of a message, "" if unknown.
func nameOf(rules []rule, num int32) string {
	if num > 0 && int(num) < len(rules) {
		return rules[num].name
	}
	return ""
}

// checkField checks one field, read by otlpwire.Field, of a message whose
// known fields are rules (others are skipped as pdata skips them), and
// returns the position after it. n numbers the field's occurrence in
// error paths (-1: no number). level is the nesting level of the value
// the message is part of (0: none; see anyValue).
func checkField(buf []byte, rules []rule, num int32, typ protowire.Type, lo, hi, n, level int) (int, *wireError) {
	if num <= 0 || int(num) >= len(rules) || rules[num].name == "" {
		i := skip(buf, typ, lo, hi)
		if i < 0 {
			return i, codeError("", i)
		}
		return i, nil
	}
	r := &rules[num]
	if typ != r.typ {
		return wrongWireType, fieldError(r.name, typ, wrongWireType)
	}
	if typ != otlpwire.BytesType {
		i := scalar(buf, lo, typ)
		if i < 0 {
			return i, codeError(r.name, i)
		}
		return i, nil
	}
	if r.sub != subNone {
		if err := checkSub(buf[lo:hi], r.sub, level); err != nil {
			return wrongWireType, err.inValue(level, r.name, n)
		}
	}
	return hi, nil
}

// check checks a whole message whose known fields are rules, part of a
// value of the given level (0: none).
func check(buf []byte, rules []rule, level int) *wireError {
	var seen [8]int // occurrences of fields, by number mod 8, for error paths (no message here has more)
	for i := 0; i < len(buf); {
		num, typ, lo, hi := otlpwire.Field(buf, i)
		if hi < 0 {
			return codeError(nameOf(rules, num), hi)
		}
		var err *wireError
		if i, err = checkField(buf, rules, num, typ, lo, hi, seen[num&7], level); err != nil {
			return err
		}
		seen[num&7]++
	}
	return nil
}

// checkSub checks a message of kind m held by a field of a message that is
// part of a value of the given level (0: none). An AnyValue held directly
// (an array_value's element) is one level deeper; a KeyValue's own value
// is too (keyValue).
func checkSub(buf []byte, m subMessage, level int) *wireError {
	switch m {
	case subKeyValue:
		_, _, _, err := keyValue(buf, level)
		return err
	case subAnyValue:
		return anyValue(buf, level+1)
	case subArray:
		return check(buf, arrayFields, level)
	case subKVList:
		return check(buf, kvListFields, level)
	case subEntityRef:
		return check(buf, entityRefFields, level)
	case subScope:
		return check(buf, scopeFields, level)
	case subEvent:
		return check(buf, eventFields, level)
	}
	return nil
}

// scalar passes over a varint or fixed-size value at buf[i:].
func scalar(buf []byte, i int, typ protowire.Type) int {
	switch typ {
	case otlpwire.VarintType:
		_, i = otlpwire.Varint(buf, i)
	case otlpwire.Fixed64Type:
		_, i = otlpwire.Fixed64(buf, i)
	case otlpwire.Fixed32Type:
		_, i = otlpwire.Fixed32(buf, i)
	}
	return i
}

// The kinds of value valueString tells apart.
const (
	valueEmpty = iota
	valueStr
	valueBool
	valueInt
	valueOther
)

// valueString is pcommon.Value.AsString of the value of kv, a KeyValue
// that keyValue accepted. pdata merges repeated value fields into one
// AnyValue whose last oneof field wins. Strings alias kv; the other common
// types are formatted here as pdata does, and the rare rest (double, bytes,
// array, map) by pdata itself.
func valueString(kv []byte) string {
	kind, str, n := valueEmpty, "", uint64(0)
	for i := 0; i < len(kv); {
		num, typ, j := otlpwire.Tag(kv, i)
		if num != 2 || typ != otlpwire.BytesType {
			i = otlpwire.Skip(kv, j, typ)
			continue
		}
		lo, hi := otlpwire.Bytes(kv, j)
		v := kv[lo:hi]
		for k := 0; k < len(v); {
			f, ft, m := otlpwire.Tag(v, k)
			switch f {
			case 1:
				a, b := otlpwire.Bytes(v, m)
				kind, str, k = valueStr, alias(v[a:b]), b
			case 2:
				kind = valueBool
				n, k = otlpwire.Varint(v, m)
			case 3:
				kind = valueInt
				n, k = otlpwire.Varint(v, m)
			case 4, 5, 6, 7, 8:
				kind, k = valueOther, otlpwire.Skip(v, m, ft)
			default:
				k = otlpwire.Skip(v, m, ft)
			}
		}
		i = hi
	}
	switch kind {
	case valueStr:
		return str
	case valueBool:
		return strconv.FormatBool(n != 0)
	case valueInt:
		return strconv.FormatInt(int64(n), 10)
	case valueOther:
		return pdataValueString(kv)
	}
	return ""
}

// pdataValueString has pdata decode kv as the only resource attribute of
// a request and returns the value's AsString.
func pdataValueString(kv []byte) string {
	var rs, res, req []byte
	res = protowire.AppendTag(res, fResourceAttributes, protowire.BytesType)
	res = protowire.AppendBytes(res, kv)
	rs = protowire.AppendTag(rs, otlpwire.ResourceSpansResource, protowire.BytesType)
	rs = protowire.AppendBytes(rs, res)
	req = protowire.AppendTag(req, otlpwire.RequestResourceSpans, protowire.BytesType)
	req = protowire.AppendBytes(req, rs)
	r := ptraceotlp.NewExportRequest()
	if err := r.UnmarshalProto(req); err != nil {
		return "" // cannot happen: kv was checked
	}
	for _, v := range r.Traces().ResourceSpans().At(0).Resource().Attributes().All() {
		return v.AsString()
	}
	return ""
}

// wrongWireType is the negative position for a known field of the wrong
// wire type, beside otlpwire's Codes.
const wrongWireType = -1 << 16

// wireError says where in the request decoding failed, and why.
type wireError struct {
	path  string // e.g. resource_spans[0].scope_spans[2].spans[7].kind
	msg   string
	cause error // a sentinel callers branch on, or nil
}

func (e *wireError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

func (e *wireError) Unwrap() error { return e.cause }

// tooDeep refuses a value nested past otlpwire.MaxValueDepth.
func tooDeep() *wireError {
	return &wireError{msg: fmt.Sprintf("%v: more than %d levels", consumer.ErrTooDeep, otlpwire.MaxValueDepth),
		cause: consumer.ErrTooDeep}
}

// inValue is in for a failure inside a value of the given level: the
// path of a value nested too deep stops at the attribute's value (level
// 0), rather than spelling out every level.
func (e *wireError) inValue(level int, field string, i int) *wireError {
	if level > 0 && e.cause == consumer.ErrTooDeep {
		return e
	}
	return e.in(field, i)
}

// in prefixes the path with the field (element i of it, if i ≥ 0) that
// held the failing message.
func (e *wireError) in(field string, i int) *wireError {
	if i >= 0 {
		field += "[" + strconv.Itoa(i) + "]"
	}
	if e.path == "" {
		e.path = field
	} else {
		e.path = field + "." + e.path
	}
	return e
}

func codeError(field string, code int) *wireError { return fieldError(field, 0, code) }

// fieldError reports a failure reading field: code is an otlpwire.Code or
// wrongWireType (the field came with wire type typ).
func fieldError(field string, typ protowire.Type, code int) *wireError {
	if code == wrongWireType {
		return &wireError{path: field, msg: fmt.Sprintf("wrong wire type %d", typ)}
	}
	return &wireError{path: field, msg: otlpwire.Code(code).Error()}
}

// readID copies an id field into dst, which has the id's length; an empty
// field is the all-zero id (pdata's rule), any other length an error.
func readID(dst, src []byte, field string) *wireError {
	switch len(src) {
	case len(dst):
		copy(dst, src)
	case 0:
		clear(dst)
	default:
		return &wireError{msg: fmt.Sprintf("%s has %d bytes, want %d", field, len(src), len(dst))}
	}
	return nil
}

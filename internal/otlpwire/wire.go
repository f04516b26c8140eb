package otlpwire

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"
)

// Wire types, as protowire names them.
const (
	VarintType  = protowire.VarintType
	Fixed64Type = protowire.Fixed64Type
	BytesType   = protowire.BytesType
	StartGroup  = protowire.StartGroupType
	EndGroup    = protowire.EndGroupType
	Fixed32Type = protowire.Fixed32Type
)

// Code is why reading failed; positions below zero are codes.
type Code int

// The codes, all negative.
const (
	ErrEOF         Code = -1 - iota // truncated: a field runs past the end
	ErrOverflow                     // a varint of more than ten bytes
	ErrFieldNumber                  // field number zero or negative
	ErrWireType                     // wire type 6 or 7
	ErrEndGroup                     // an end-group tag with no group open
)

func (c Code) Error() string {
	switch c {
	case ErrEOF:
		return "unexpected end of data"
	case ErrOverflow:
		return "varint overflows 64 bits"
	case ErrFieldNumber:
		return "invalid field number"
	case ErrWireType:
		return "invalid wire type"
	case ErrEndGroup:
		return "unexpected end-group tag"
	}
	return "malformed protobuf"
}

// Varint reads the varint at b[i:] and returns it and the position after
// it, or a negative Code.
func Varint(b []byte, i int) (uint64, int) {
	if i >= 0 && i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return varintSlow(b, i)
}

func varintSlow(b []byte, i int) (uint64, int) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, int(ErrOverflow)
		}
		if i < 0 || i >= len(b) {
			return 0, int(ErrEOF)
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i
		}
	}
}

// Tag reads the field tag at b[i:]: the field number, the wire type and the
// position after it, or a negative Code.
func Tag(b []byte, i int) (int32, protowire.Type, int) {
	if i >= 0 && i < len(b) && b[i] < 0x80 && b[i] >= 8 {
		return int32(b[i] >> 3), protowire.Type(b[i] & 7), i + 1
	}
	return tagSlow(b, i)
}

func tagSlow(b []byte, i int) (int32, protowire.Type, int) {
	v, j := Varint(b, i)
	if j < 0 {
		return 0, 0, j
	}
	num := int32(v >> 3) // truncated, as pdata does
	if num <= 0 {
		return 0, 0, int(ErrFieldNumber)
	}
	return num, protowire.Type(v & 7), j
}

// Bytes reads the length-delimited payload at b[i:] and returns its bounds
// b[lo:hi], hi being the position after it; hi is a negative Code on
// failure.
func Bytes(b []byte, i int) (lo, hi int) {
	var n uint64
	if i >= 0 && i < len(b) && b[i] < 0x80 {
		n, i = uint64(b[i]), i+1
	} else if i >= 0 && i+1 < len(b) && b[i+1] < 0x80 { // two bytes: a span, a scope's spans
		n, i = uint64(b[i]&0x7f)|uint64(b[i+1])<<7, i+2
	} else if n, i = varintSlow(b, i); i < 0 {
		return 0, i
	}
	if n > uint64(len(b)-i) {
		return 0, int(ErrEOF)
	}
	return i, i + int(n)
}

// Fixed64 reads the little-endian 8 bytes at b[i:].
func Fixed64(b []byte, i int) (uint64, int) {
	if i < 0 || len(b)-i < 8 {
		return 0, int(ErrEOF)
	}
	return binary.LittleEndian.Uint64(b[i:]), i + 8
}

// Fixed32 reads the little-endian 4 bytes at b[i:].
func Fixed32(b []byte, i int) (uint32, int) {
	if i < 0 || len(b)-i < 4 {
		return 0, int(ErrEOF)
	}
	return binary.LittleEndian.Uint32(b[i:]), i + 4
}

// Skip passes over the value, of wire type typ, of a field whose tag ended
// at b[i:], and returns the position after it or a negative Code. It
// mirrors pdata's ConsumeUnknown exactly, including how it skips groups: a
// group's nested start and end tags are matched, but the first nested field
// of any other type ends the skip there, and what follows is read as fields
// of the enclosing message.
func Skip(b []byte, i int, typ protowire.Type) int {
	depth := 0
	for i >= 0 && i < len(b) {
		switch typ {
		case VarintType:
			_, i = Varint(b, i)
			return i
		case Fixed64Type:
			_, i = Fixed64(b, i)
			return i
		case BytesType:
			_, i = Bytes(b, i)
			return i
		case Fixed32Type:
			_, i = Fixed32(b, i)
			return i
		case StartGroup:
			depth++
		case EndGroup:
			if depth == 0 {
				return int(ErrEndGroup)
			}
			depth--
		default:
			return int(ErrWireType)
		}
		if depth == 0 {
			return i
		}
		_, typ, i = Tag(b, i)
	}
	if i < 0 {
		return i
	}
	return int(ErrEOF)
}

// Field reads the field at b[i:]: its number and wire type and, for a
// length-delimited field, the bounds of its payload b[lo:hi]; for the
// other wire types lo = hi = the position after the tag, where the value
// starts. hi < 0 is a Code.
func Field(b []byte, i int) (num int32, typ protowire.Type, lo, hi int) {
	if num, typ, lo = Tag(b, i); lo < 0 {
		return 0, 0, 0, lo
	}
	if typ != BytesType {
		return num, typ, lo, lo
	}
	lo, hi = Bytes(b, lo)
	return num, typ, lo, hi
}

// ShortBytes is the common case of Field, small enough to be inlined: a
// length-delimited field with a one-byte tag and a one-byte length, within
// b. ok is false for anything else (call Field then).
func ShortBytes(b []byte, i int) (num int32, lo, hi int, ok bool) {
	if i >= 0 && i+1 < len(b) {
		t, n := b[i], b[i+1]
		hi = i + 2 + int(n)
		if t&0x87 == 2 && t >= 8 && n < 0x80 && hi <= len(b) {
			return int32(t >> 3), i + 2, hi, true
		}
	}
	return 0, 0, 0, false
}

package kafka

import (
	"encoding/hex"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// LinkVersion is the first byte of every link record this code writes.
// A reader refuses other versions; fields it does not know within its
// version are skipped (protobuf wire rules), so optional fields can be
// added without a new version.
const LinkVersion = 1

// MaxLinkRecordBytes bounds a link record: a larger one is refused by
// DecodeLink (names are cut by the writer long before this).
const MaxLinkRecordBytes = 4096

// Link is one span link routed to the owner of its target's trace: what
// the owner needs to resolve it against its index and count the edge and
// the link result, with names (not node ids, which are local).
type Link struct {
	TargetTrace [16]byte // the linked-to span
	TargetSpan  [8]byte
	FromTrace   [16]byte // the linking span
	FromSpan    [8]byte
	Service     string // the linking span's service
	SpanName    string // the linking span's name, for diagnostics
	Kind        uint8  // the linking span's OTLP kind (5 = CONSUMER makes a messaging_system edge with a PRODUCER target)
	Failed      bool   // the linking span's status is ERROR
	Start       int64  // the linking span's start, unix ns (delay = Start − target's end)
	// Source: the spans-topic record the link came from, and the link's
	// index in it. The owner drops a record at or below the last source
	// position it saw for that source partition (a producer that restarts
	// from its last commit writes some links again).
	SourcePartition int32
	SourceOffset    int64
	SourceIndex     int32
}

// Field numbers of the link record (protobuf wire format after the
// version byte).
const (
	fTargetTrace = 1
	fTargetSpan  = 2
	fFromTrace   = 3
	fFromSpan    = 4
	fService     = 5
	fSpanName    = 6
	fKind        = 7
	fFailed      = 8
	fStart       = 9
	fSrcPart     = 10
	fSrcOffset   = 11
	fSrcIndex    = 12
)

// AppendKey appends the record key to b: the target's trace id in
// lowercase hex (keyLen bytes), as the kafkaexporter keys the spans
// topic, so that the same partitioner puts the link on its target trace's
// partition number.
func (l *Link) AppendKey(b []byte) []byte { return hex.AppendEncode(b, l.TargetTrace[:]) }

// Key returns the record key (AppendKey).
func (l *Link) Key() []byte { return l.AppendKey(make([]byte, 0, keyLen)) }

// AppendBinary appends the encoded record to b.
func (l *Link) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, LinkVersion)
	b = protowire.AppendTag(b, fTargetTrace, protowire.BytesType)
	b = protowire.AppendBytes(b, l.TargetTrace[:])
	b = protowire.AppendTag(b, fTargetSpan, protowire.BytesType)
	b = protowire.AppendBytes(b, l.TargetSpan[:])
	b = protowire.AppendTag(b, fFromTrace, protowire.BytesType)
	b = protowire.AppendBytes(b, l.FromTrace[:])
	b = protowire.AppendTag(b, fFromSpan, protowire.BytesType)
	b = protowire.AppendBytes(b, l.FromSpan[:])
	b = protowire.AppendTag(b, fService, protowire.BytesType)
	b = protowire.AppendString(b, l.Service)
	if l.SpanName != "" {
		b = protowire.AppendTag(b, fSpanName, protowire.BytesType)
		b = protowire.AppendString(b, l.SpanName)
	}
	b = protowire.AppendTag(b, fKind, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(l.Kind))
	if l.Failed {
		b = protowire.AppendTag(b, fFailed, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	b = protowire.AppendTag(b, fStart, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(l.Start))
	b = protowire.AppendTag(b, fSrcPart, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(uint32(l.SourcePartition)))
	b = protowire.AppendTag(b, fSrcOffset, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(l.SourceOffset))
	b = protowire.AppendTag(b, fSrcIndex, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(uint32(l.SourceIndex)))
	if len(b) > MaxLinkRecordBytes {
		return b, fmt.Errorf("link record of %d bytes exceeds %d", len(b), MaxLinkRecordBytes)
	}
	return b, nil
}

// ErrBadLink is in the chain of every DecodeLink error.
var ErrBadLink = errors.New("malformed link record")

// DecodeLink decodes a record written by AppendBinary into l. Strings are
// copied: l does not alias b.
func DecodeLink(b []byte, l *Link) error {
	*l = Link{}
	if len(b) > MaxLinkRecordBytes {
		return fmt.Errorf("%w: %d bytes", ErrBadLink, len(b))
	}
	if len(b) == 0 || b[0] != LinkVersion {
		return fmt.Errorf("%w: not version %d", ErrBadLink, LinkVersion)
	}
	b = b[1:]
	var seen uint16
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrBadLink, protowire.ParseError(n))
		}
		b = b[n:]
		if num < 16 {
			seen |= 1 << num
		}
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			typ = -1
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrBadLink, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := l.set(num, typ, v, bs); err != nil {
			return err
		}
	}
	const required = 1<<fTargetTrace | 1<<fTargetSpan | 1<<fFromTrace | 1<<fFromSpan | 1<<fService | 1<<fStart |
		1<<fSrcPart | 1<<fSrcOffset
	if seen&required != required {
		return fmt.Errorf("%w: missing fields", ErrBadLink)
	}
	return nil
}

func (l *Link) set(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
	wt, known := wireType(num)
	if !known {
		return nil // a later field of this version: skipped
	}
	if typ != wt {
		return fmt.Errorf("%w: field %d has wire type %d", ErrBadLink, num, typ)
	}
	id := func(dst []byte) error {
		if len(bs) != len(dst) {
			return fmt.Errorf("%w: field %d is %d bytes, want %d", ErrBadLink, num, len(bs), len(dst))
		}
		copy(dst, bs)
		return nil
	}
	switch num {
	case fTargetTrace:
		return id(l.TargetTrace[:])
	case fTargetSpan:
		return id(l.TargetSpan[:])
	case fFromTrace:
		return id(l.FromTrace[:])
	case fFromSpan:
		return id(l.FromSpan[:])
	case fService:
		l.Service = string(bs)
	case fSpanName:
		l.SpanName = string(bs)
	case fKind:
		if v > 7 {
			return fmt.Errorf("%w: kind %d", ErrBadLink, v)
		}
		l.Kind = uint8(v)
	case fFailed:
		l.Failed = v != 0
	case fStart:
		l.Start = int64(v)
	case fSrcPart:
		if v > 1<<31-1 {
			return fmt.Errorf("%w: source partition %d", ErrBadLink, v)
		}
		l.SourcePartition = int32(v)
	case fSrcOffset:
		if v > 1<<63-1 {
			return fmt.Errorf("%w: source offset %d", ErrBadLink, v)
		}
		l.SourceOffset = int64(v)
	case fSrcIndex:
		if v > 1<<31-1 {
			return fmt.Errorf("%w: source index %d", ErrBadLink, v)
		}
		l.SourceIndex = int32(v)
	}
	return nil
}

// wireType returns the wire type of a known field.
func wireType(num protowire.Number) (protowire.Type, bool) {
	switch num {
	case fTargetTrace, fTargetSpan, fFromTrace, fFromSpan, fService, fSpanName:
		return protowire.BytesType, true
	case fKind, fFailed, fSrcPart, fSrcOffset, fSrcIndex:
		return protowire.VarintType, true
	case fStart:
		return protowire.Fixed64Type, true
	}
	return 0, false
}

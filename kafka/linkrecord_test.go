package kafka

import (
	"errors"
	"testing"
)

func testLink() Link {
	return Link{
		TargetTrace: [16]byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c},
		TargetSpan:  [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		FromTrace:   [16]byte{15: 9},
		FromSpan:    [8]byte{7: 1},
		Service:     "billing-consumer", SpanName: "process invoice", Kind: 5, Failed: true,
		Start: 1_764_547_200_123_456_789, SourcePartition: 11, SourceOffset: 123_456_789, SourceIndex: 2,
	}
}

func TestLinkRoundTrip(t *testing.T) {
	l := testLink()
	b, err := l.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	// 1 version byte, 4 ids of 16/8 bytes with a 2-byte header (57), the
	// service (18) and span name (17), kind and failed (4), start (9), the
	// source position (9): 114 bytes, under issue 14's 200 B per link record.
	if len(b) != 114 {
		t.Errorf("record is %d bytes, want 114", len(b))
	}
	var got Link
	if err := DecodeLink(b, &got); err != nil {
		t.Fatal(err)
	}
	if got != l {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, l)
	}
	if k := string(l.Key()); k != "5b8efff798038103d269b633813fc60c" {
		t.Errorf("key %q", k)
	}
	// The key partitions like the kafkaexporter's record of the target trace.
	if p := SaramaCompat.Partition(l.Key(), 12); p != 5 {
		t.Errorf("partition %d, want 5", p)
	}
}

func TestDecodeLinkRefuses(t *testing.T) {
	l := testLink()
	good, _ := l.AppendBinary(nil)
	tests := map[string][]byte{
		"empty":         nil,
		"other version": append([]byte{2}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"short id":      {1, 0x0a, 2, 1, 2},
		"missing":       {1},
		"too big":       append(append([]byte{}, good...), make([]byte, MaxLinkRecordBytes)...),
		"wrong type":    {1, 0x08, 1},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			var got Link
			if err := DecodeLink(b, &got); !errors.Is(err, ErrBadLink) {
				t.Fatalf("err = %v, want ErrBadLink", err)
			}
		})
	}
	// An unknown field of this version is skipped.
	withExtra := append(append([]byte{}, good...), 0xa8, 0x01, 7) // field 21, varint 7
	var got Link
	if err := DecodeLink(withExtra, &got); err != nil || got != l {
		t.Fatalf("unknown field: %v, %+v", err, got)
	}
}

func FuzzDecodeLink(f *testing.F) {
	l := testLink()
	good, _ := l.AppendBinary(nil)
	f.Add(good)
	f.Add([]byte{1})
	f.Add([]byte{1, 0x0a, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Link
		if DecodeLink(b, &got) != nil {
			return
		}
		// Whatever decodes re-encodes to a record that decodes the same.
		again, err := got.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var back Link
		if err := DecodeLink(again, &back); err != nil || back != got {
			t.Fatalf("re-decode: %v\n%+v\n%+v", err, back, got)
		}
	})
}

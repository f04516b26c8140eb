package kafka

import (
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestPoolClasses(t *testing.T) {
	for _, c := range []struct{ n, up, down int }{
		{1, 0, 0}, {2, 1, 1}, {3, 2, 1}, {1024, 10, 10}, {1025, 11, 10}, {2047, 11, 10}, {2048, 11, 11},
	} {
		if got := classUp(c.n); got != c.up {
			t.Errorf("classUp(%d) = %d, want %d", c.n, got, c.up)
		}
		if got := classDown(c.n); got != c.down {
			t.Errorf("classDown(%d) = %d, want %d", c.n, got, c.down)
		}
	}
}

// TestPoolSizes: a slice from the pool is empty and holds what it is
// asked for (a snappy batch's decoded length, else decompressGuess times
// the compressed size), whatever was put back before; past the largest
// class the codec allocates (no room given), record slices are sized
// exactly.
func TestPoolSizes(t *testing.T) {
	var p fetchPool
	// Slices of odd capacities put back land in the class below.
	p.PutDecompressBytes(make([]byte, 5000))
	p.PutDecompressBytes(make([]byte, 0, 3000))
	p.PutRecords(make([]kgo.Record, 3, 5))

	plain := make([]byte, 3000)
	for i := range plain {
		plain[i] = byte(i % 7)
	}
	snappy := s2.EncodeSnappy(nil, plain)
	for _, c := range []struct {
		name     string
		src      []byte
		codec    kgo.CompressionCodecType
		min, max int
	}{
		{"snappy", snappy, kgo.CodecSnappy, 3000, 5000},
		{"zstd", make([]byte, 1000), kgo.CodecZstd, 4000, 5000},
		{"tiny", make([]byte, 10), kgo.CodecLz4, 40, 1 << minByteClass},
		{"huge", make([]byte, 5<<20), kgo.CodecGzip, 0, 0},
		{"snappy claiming 4 GiB", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, kgo.CodecSnappy, 0, 0},
	} {
		b := p.GetDecompressBytes(c.src, c.codec)
		if len(b) != 0 || cap(b) < c.min || cap(b) > c.max {
			t.Errorf("%s: len %d cap %d, want 0 and [%d, %d]", c.name, len(b), cap(b), c.min, c.max)
		}
	}
	for _, n := range []int{1, 3, 4, 1000, 1 << maxRecClass, 1<<maxRecClass + 1} {
		rs := p.GetRecords(n)
		if len(rs) != 0 || cap(rs) < n || cap(rs) > max(2*n-1, 1) {
			t.Errorf("GetRecords(%d): len %d cap %d", n, len(rs), cap(rs))
		}
	}
}

package kafka

import (
	"math/bits"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchPool reuses the memory of fetched batches (kgo.WithPools): the
// buffer a compressed batch is decompressed into and the slice of its
// records. Without it each batch allocates both, about half of what a
// member allocates per span, and the Go collector runs that much more
// often. deliver recycles each record once handled (kgo.Record.Recycle);
// a batch's memory goes back when its last record is recycled. A record
// never recycled (a partition revoked with records buffered) leaves its
// batch's memory to the collector.
//
// Slices are kept by size class (powers of two), a class's slices all
// at least that large; sync.Pool lets the collector take them back when
// idle.
type fetchPool struct {
	bytes [maxByteClass + 1]sync.Pool // *[]byte, cap >= 1<<class
	recs  [maxRecClass + 1]sync.Pool  // *[]kgo.Record, cap >= 1<<class
}

const (
	minByteClass = 10 // 1 KiB: smaller batches take the smallest class
	maxByteClass = 24 // 16 MiB: larger buffers are left to the collector
	maxRecClass  = 14 // 16,384 records
	// decompressGuess is the ratio assumed when the codec's output size is
	// not known up front (gzip, lz4, zstd): a short guess is grown by kgo
	// and the grown slice is what comes back to the pool.
	decompressGuess = 4
)

var (
	_ kgo.PoolDecompressBytes = (*fetchPool)(nil)
	_ kgo.PoolRecords         = (*fetchPool)(nil)
)

// classUp is the smallest class whose slices hold n; classDown the
// largest class a slice of capacity n belongs to.
func classUp(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

func classDown(n int) int { return bits.Len(uint(n)) - 1 }

// GetDecompressBytes implements kgo.PoolDecompressBytes: a snappy batch
// says its decoded length; other codecs get decompressGuess times the
// compressed size. Past the largest class it returns no room.
func (p *fetchPool) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	need := len(compressed) * decompressGuess
	if codec == kgo.CodecSnappy {
		if n, err := s2.DecodedLen(compressed); err == nil {
			need = n
		}
	}
	c := max(classUp(need), minByteClass)
	if c > maxByteClass {
		// The codec allocates it, once kgo has checked a claimed size
		// against its bound (a corrupt header may claim gigabytes).
		return nil
	}
	if b, ok := p.bytes[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// PutDecompressBytes implements kgo.PoolDecompressBytes (kgo has zeroed
// the slice).
func (p *fetchPool) PutDecompressBytes(b []byte) {
	c := classDown(cap(b))
	if c < minByteClass || c > maxByteClass {
		return
	}
	b = b[:0]
	p.bytes[c].Put(&b)
}

// GetRecords implements kgo.PoolRecords.
func (p *fetchPool) GetRecords(n int) []kgo.Record {
	c := classUp(n)
	if c > maxRecClass {
		return make([]kgo.Record, 0, n)
	}
	if rs, ok := p.recs[c].Get().(*[]kgo.Record); ok {
		return (*rs)[:0]
	}
	return make([]kgo.Record, 0, 1<<c)
}

// PutRecords implements kgo.PoolRecords (each record was zeroed by its
// Recycle).
func (p *fetchPool) PutRecords(rs []kgo.Record) {
	c := classDown(cap(rs))
	if c < 0 || c > maxRecClass {
		return
	}
	rs = rs[:0]
	p.recs[c].Put(&rs)
}

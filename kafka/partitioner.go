package kafka

import (
	"fmt"
	"hash/fnv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitioner names how a key picks a partition. It must be the one the
// writer of the spans topic uses (the Collector's kafkaexporter:
// SaramaCompat), because the links topic is written with it too and the
// join needs the same trace id on the same partition number of both topics.
type Partitioner string

// The partitioners --kafka-partitioner accepts.
const (
	// SaramaCompat is Sarama's hash partitioner, the Collector's
	// kafkaexporter default: FNV-1a 32-bit of the key, read as an int32,
	// modulo the partition count, negated when negative (Sarama negates
	// instead of masking the sign bit as Kafka does).
	SaramaCompat Partitioner = "sarama_compat"
	// Murmur2 is the Java client's default (and franz-go's): murmur2 of
	// the key with the sign bit masked, modulo the partition count.
	Murmur2 Partitioner = "murmur2"
)

// Partitioners lists every known partitioner, the default first.
var Partitioners = []Partitioner{SaramaCompat, Murmur2}

// ParsePartitioner returns the partitioner called s.
func ParsePartitioner(s string) (Partitioner, error) {
	for _, p := range Partitioners {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown partitioner %q (want sarama_compat or murmur2)", s)
}

// Partition returns the partition of key among n partitions (n > 0).
// It is a pure function, safe for concurrent use.
func (p Partitioner) Partition(key []byte, n int32) int32 {
	switch p {
	case Murmur2:
		return int32(murmur2(key)&0x7fffffff) % n
	default: // SaramaCompat
		v := int32(fnv32a(key)) % n
		if v < 0 {
			v = -v
		}
		return v
	}
}

// kgo returns a franz-go partitioner that places keyed records as p does.
func (p Partitioner) kgo() kgo.Partitioner {
	return kgo.StickyKeyPartitioner(func(key []byte, n int) int { return int(p.Partition(key, int32(n))) })
}

func fnv32a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

// murmur2 is the 32-bit MurmurHash2 of b with the Java client's seed, as
// org.apache.kafka.common.utils.Utils.murmur2 computes it.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

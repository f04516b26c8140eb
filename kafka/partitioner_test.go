package kafka

import (
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The Java client's own test vectors (Kafka's UtilsTest.testMurmur2),
// as signed ints.
func TestMurmur2JavaVectors(t *testing.T) {
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(murmur2([]byte(key))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
}

// Hard-coded vectors: hex trace ids as the kafkaexporter keys them, and
// keys whose FNV-1a hash is negative as an int32 (Sarama negates the
// remainder; Kafka masks the sign bit instead, so the two differ there).
func TestPartitionVectors(t *testing.T) {
	tests := []struct {
		key  string
		n    int32
		fnv  uint32
		want map[Partitioner]int32
	}{
		{"", 12, 0x811c9dc5, map[Partitioner]int32{SaramaCompat: 3, Murmur2: 9}},
		{"a", 12, 0xe40c292c, map[Partitioner]int32{SaramaCompat: 0, Murmur2: 4}},
		{"foobar", 12, 0xbf9cf968, map[Partitioner]int32{SaramaCompat: 0, Murmur2: 6}},
		// int32(fnv) = -1886809625: Sarama negates the remainder (5);
		// masking the sign bit as Kafka does would give 7.
		{"5b8efff798038103d269b633813fc60c", 12, 0x8f8991e7, map[Partitioner]int32{SaramaCompat: 5, Murmur2: 4}},
		{"0af7651916cd43dd8448eb211c80319c", 12, 0xc3efcb05, map[Partitioner]int32{SaramaCompat: 7, Murmur2: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := fnv32a([]byte(tc.key)); got != tc.fnv {
				t.Fatalf("fnv32a = %#x, want %#x", got, tc.fnv)
			}
			for p, want := range tc.want {
				if got := p.Partition([]byte(tc.key), tc.n); got != want {
					t.Errorf("%s: partition %d, want %d", p, got, want)
				}
			}
			for _, p := range Partitioners {
				if got, ref := p.Partition([]byte(tc.key), tc.n), reference(p, []byte(tc.key), int(tc.n)); got != ref {
					t.Errorf("%s: partition %d, franz-go says %d", p, got, ref)
				}
			}
		})
	}
}

// reference is franz-go's own placement: the Collector's exporter uses
// kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a)); the Java
// client's default is what kgo.StickyKeyPartitioner(nil) does.
func reference(p Partitioner, key []byte, n int) int32 {
	var kp kgo.Partitioner
	switch p {
	case SaramaCompat:
		kp = kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(func(b []byte) uint32 {
			h := fnv.New32a()
			h.Write(b)
			return h.Sum32()
		}))
	case Murmur2:
		kp = kgo.StickyKeyPartitioner(nil)
	}
	return int32(kp.ForTopic("t").Partition(&kgo.Record{Key: key}, n))
}

// Over many random keys (hex trace ids and arbitrary bytes) and partition
// counts, both partitioners place every key exactly where franz-go does,
// and the negative-hash branch of Sarama's rule is exercised.
func TestPartitionMatchesFranzGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	negative := 0
	for i := range 20000 {
		var key []byte
		if i%2 == 0 {
			var id [16]byte
			for j := range id {
				id[j] = byte(rng.UintN(256))
			}
			key = []byte(hex.EncodeToString(id[:]))
		} else {
			key = make([]byte, rng.IntN(40))
			for j := range key {
				key[j] = byte(rng.UintN(256))
			}
		}
		if int32(fnv32a(key)) < 0 {
			negative++
		}
		n := int32(1 + rng.IntN(300))
		for _, p := range Partitioners {
			got := p.Partition(key, n)
			if ref := reference(p, key, int(n)); got != ref {
				t.Fatalf("%s(%x, %d) = %d, franz-go says %d", p, key, n, got, ref)
			}
			if got < 0 || got >= n {
				t.Fatalf("%s(%x, %d) = %d out of range", p, key, n, got)
			}
		}
	}
	if negative < 5000 {
		t.Fatalf("only %d keys with a negative int32 hash: the Sarama negation is not exercised", negative)
	}
}

func TestParsePartitioner(t *testing.T) {
	for _, s := range []string{"sarama_compat", "murmur2"} {
		if p, err := ParsePartitioner(s); err != nil || string(p) != s {
			t.Errorf("ParsePartitioner(%q) = %q, %v", s, p, err)
		}
	}
	if _, err := ParsePartitioner("fnv"); err == nil {
		t.Error("ParsePartitioner(fnv): no error")
	}
}

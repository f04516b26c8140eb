package kafka_test

import (
	"fmt"

	"github.com/servicegraph/servicegraph/kafka"
)

// The partition of a trace's record, as the Collector's kafkaexporter
// places it (its default partitioner) and as the Java client would.
func ExamplePartitioner_Partition() {
	key := []byte("5b8efff798038103d269b633813fc60c") // hex trace id, the record key
	for _, p := range kafka.Partitioners {
		fmt.Println(p, p.Partition(key, 12))
	}
	// Output:
	// sarama_compat 5
	// murmur2 4
}

// A link record round trip: the key is the target's trace id, so it goes
// to the partition number of the target's trace.
func ExampleDecodeLink() {
	l := kafka.Link{TargetTrace: [16]byte{0x5b, 0x8e}, TargetSpan: [8]byte{1}, FromTrace: [16]byte{9}, FromSpan: [8]byte{2},
		Service: "billing", Kind: 5, SourcePartition: 3, SourceOffset: 42}
	b, _ := l.AppendBinary(nil)
	var got kafka.Link
	err := kafka.DecodeLink(b, &got)
	fmt.Println(len(b), err, got.Service, got.SourcePartition, got.SourceOffset, string(got.Key()))
	// Output:
	// 83 <nil> billing 3 42 5b8e0000000000000000000000000000
}

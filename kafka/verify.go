package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Sample is one record's key and the partition it was found in.
type Sample struct {
	Key       []byte
	Partition int32
}

// VerifyPartitioning checks that every sampled record of topic (n
// partitions) sits where p puts its key. On a mismatch the error names
// --kafka-partitioner and the partitioner the records were written with
// when another one places them all; records without a key mean the
// writer does not key by trace id (the kafkaexporter's
// partition_traces_by_id is off).
func VerifyPartitioning(topic string, n int32, p Partitioner, samples []Sample) error {
	if n <= 0 {
		return fmt.Errorf("topic %q: %d partitions", topic, n)
	}
	unkeyed, bad := 0, 0
	var first Sample
	for _, s := range samples {
		switch {
		case s.Key == nil:
			unkeyed++
		case p.Partition(s.Key, n) != s.Partition:
			if bad == 0 {
				first = s
			}
			bad++
		}
	}
	if unkeyed > 0 {
		return fmt.Errorf("topic %q: %d of %d sampled records have no key: the writer must key records by trace id "+
			"(the Collector's kafkaexporter: partition_traces_by_id: true)", topic, unkeyed, len(samples))
	}
	if bad == 0 {
		return nil
	}
	for _, other := range Partitioners {
		if other == p {
			continue
		}
		ok := true
		for _, s := range samples {
			if other.Partition(s.Key, n) != s.Partition {
				ok = false
				break
			}
		}
		if ok {
			return fmt.Errorf("topic %q: %d of %d sampled records are not where --kafka-partitioner %s puts them "+
				"(key %q in partition %d, expected %d); they were written with %s: use --kafka-partitioner %s",
				topic, bad, len(samples), p, first.Key, first.Partition, p.Partition(first.Key, n), other, other)
		}
	}
	return fmt.Errorf("topic %q: %d of %d sampled records are not where --kafka-partitioner %s puts them "+
		"(key %q in partition %d, expected %d), nor where any of %s does: the writer partitions by something else "+
		"than the trace id key", topic, bad, len(samples), p, first.Key, first.Partition, p.Partition(first.Key, n),
		partitionerList())
}

func partitionerList() string {
	s := make([]string, len(Partitioners))
	for i, p := range Partitioners {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// CheckPartitionCounts refuses a links topic whose partition count is not
// the spans topic's: the join needs partition p of both on one member.
func CheckPartitionCounts(spans string, nSpans int32, links string, nLinks int32) error {
	if nSpans != nLinks {
		return fmt.Errorf("topic %q has %d partitions but links topic %q has %d: they must be equal "+
			"(recreate %q with %d partitions, or point --kafka-links-topic at one that has)",
			spans, nSpans, links, nLinks, links, nSpans)
	}
	return nil
}

// PartitionCount returns the number of partitions of topic.
func PartitionCount(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list topic %q: %w", topic, err)
	}
	d, ok := td[topic]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		return 0, fmt.Errorf("topic %q: %w", topic, ErrNoTopic)
	case d.Err != nil:
		return 0, fmt.Errorf("topic %q: %w", topic, d.Err)
	}
	return int32(len(d.Partitions)), nil
}

// ErrNoTopic is in the chain of PartitionCount's error when the topic
// does not exist.
var ErrNoTopic = errors.New("topic not found")

// SampleTopic reads up to perPartition of the most recent records of
// every partition of topic (n partitions) and returns their keys, with a
// bound of wait on the whole read. It uses its own client (no group), so
// it moves no committed offset.
func SampleTopic(ctx context.Context, opts []kgo.Opt, topic string, n int32, perPartition int, wait time.Duration) ([]Sample, error) {
	adm, cl, err := newAdmin(opts)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %q: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	want := map[int32]int64{} // partition → end offset still to reach
	for p := range n {
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		if s.Err != nil || e.Err != nil || e.Offset <= s.Offset {
			continue
		}
		from[p] = kgo.NewOffset().At(max(s.Offset, e.Offset-int64(perPartition)))
		want[p] = e.Offset
	}
	if len(from) == 0 {
		return nil, nil
	}
	rd, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return nil, fmt.Errorf("sample %q: %w", topic, err)
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var out []Sample
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("sample %q: %d partitions not read within %s: %w", topic, len(want), wait, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, Sample{Key: r.Key, Partition: r.Partition})
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out, nil
}

func newAdmin(opts []kgo.Opt) (*kadm.Client, *kgo.Client, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka client: %w", err)
	}
	return kadm.NewClient(cl), cl, nil
}

package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Start samples the spans topic and refuses records the configured
// partitioner does not place, naming the flag and the right value.
func TestStartRefusesWrongPartitioner(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	// Written by a client with the Java default (murmur2); 8 of the 60
	// keys happen to land where sarama_compat would put them too.
	produceTraces(t, collectorProducer(t, addrs, nil), 0, 60)
	cfg := testConfig(addrs)
	c, err := New(cfg, Settings{}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	want := `topic "otlp_spans": 52 of 60 sampled records are not where --kafka-partitioner sarama_compat puts them`
	if err == nil || !strings.Contains(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), "they were written with murmur2: use --kafka-partitioner murmur2") {
		t.Fatalf("Start: %v", err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// With the right flag it starts.
	cfg.Partitioner = string(Murmur2)
	startMember(t, cfg, "m", false)
}

// A links topic whose partition count differs from the spans topic's is
// refused.
func TestStartRefusesUnequalPartitionCounts(t *testing.T) {
	cl := newCluster(t)
	if err := cl.CreateTopic("otlp_spans_links", 3, nil); err != nil {
		t.Fatal(err)
	}
	c, err := New(testConfig(cl.ListenAddrs()), Settings{}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	want := `topic "otlp_spans" has 6 partitions but links topic "otlp_spans_links" has 3: they must be equal`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Start: %v", err)
	}
}

// Link records are handed exactly once: one at or below the last source
// position seen for its source partition (a restarted producer's
// re-sends) is dropped and counted; other source partitions are apart.
func TestLinkDuplicatesDropped(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	cfg := testConfig(addrs)
	c, r := startMember(t, cfg, "m", false)
	waitFor(t, "every partition owned", 10*time.Second, func() bool { return len(c.Owned()) == testParts })
	w, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("otlp_spans_links"),
		kgo.RecordPartitioner(SaramaCompat.kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	target := [16]byte{1, 2, 3}
	// (source partition, offset, index) in the order a producer that
	// restarted from an older commit writes them.
	seq := [][3]int64{{0, 10, 0}, {0, 10, 1}, {0, 11, 0}, {1, 5, 0}, {0, 10, 1}, {0, 11, 0}, {0, 12, 0}, {1, 5, 0}, {1, 6, 0}}
	for _, s := range seq {
		l := Link{TargetTrace: target, TargetSpan: [8]byte{1}, FromTrace: [16]byte{9}, FromSpan: [8]byte{2}, Service: "s",
			SourcePartition: int32(s[0]), SourceOffset: s[1], SourceIndex: int32(s[2])}
		b, _ := l.AppendBinary(nil)
		if err := w.ProduceSync(context.Background(), &kgo.Record{Key: l.Key(), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.ProduceSync(context.Background(), &kgo.Record{Key: []byte("x"), Value: []byte{9, 9}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every link record read", 10*time.Second, func() bool { return c.Stats().LinkRecords == uint64(len(seq)+1) })
	_, links := r.snapshot()
	var got [][3]int64
	for _, d := range links {
		got = append(got, [3]int64{int64(d.l.SourcePartition), d.l.SourceOffset, int64(d.l.SourceIndex)})
	}
	want := [][3]int64{{0, 10, 0}, {0, 10, 1}, {0, 11, 0}, {1, 5, 0}, {0, 12, 0}, {1, 6, 0}}
	if len(got) != len(want) {
		t.Fatalf("handed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("handed %v, want %v", got, want)
		}
	}
	if s := c.Stats(); s.DuplicateLinks != 3 || s.MalformedLinks != 1 {
		t.Errorf("duplicates %d (want 3), malformed %d (want 1)", s.DuplicateLinks, s.MalformedLinks)
	}
}

// The links topic is sampled too: link records written with another
// partitioner (an earlier run with another --kafka-partitioner) are refused.
func TestStartRefusesLinksTopicOfOtherPartitioner(t *testing.T) {
	cl := newCluster(t)
	addrs := cl.ListenAddrs()
	produceTraces(t, collectorProducer(t, addrs, saramaFNV()), 0, 20)
	w, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("otlp_spans_links"),
		kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(Murmur2.kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := cl.CreateTopic("otlp_spans_links", testParts, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		l := Link{TargetTrace: [16]byte{byte(i), 1}, Service: "s"}
		b, _ := l.AppendBinary(nil)
		if err := w.ProduceSync(context.Background(), &kgo.Record{Key: l.Key(), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(testConfig(addrs), Settings{}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), `topic "otlp_spans_links": `) ||
		!strings.HasSuffix(err.Error(), "use --kafka-partitioner murmur2") {
		t.Fatalf("Start: %v", err)
	}
}

// A missing spans topic is refused by name, before anything is created.
func TestStartRefusesMissingTopic(t *testing.T) {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c, err := New(testConfig(cl.ListenAddrs()), Settings{}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if err == nil || err.Error() != `topic "otlp_spans": topic not found` || !errors.Is(err, ErrNoTopic) {
		t.Fatalf("Start: %v", err)
	}
}

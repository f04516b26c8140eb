package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// The kafka flags and YAML keys: off without brokers (nothing else is
// checked then), a comma-separated broker list, every problem named by
// its flag or line, and the replay covering the pair wait.
func TestKafkaConfig(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		return parseConfig(flag.NewFlagSet("servicegraph serve", flag.ContinueOnError), args, io.Discard, newDefaultConfig)
	}
	c, err := parse("--kafka-partitioner", "fnv")
	if err != nil || c.Kafka.Enabled() {
		t.Fatalf("without brokers: %v, enabled %v", err, c.Kafka.Enabled())
	}
	c, err = parse("--kafka-brokers", "k1:9092, k2:9092,")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) || c.Kafka.Topic != "otlp_spans" || c.Kafka.Group != "servicegraph" ||
		c.Kafka.Partitioner != "sarama_compat" || c.Kafka.Replay != time.Minute || c.Kafka.CommitInterval != time.Second {
		t.Errorf("defaults: %+v", c.Kafka)
	}
	_, err = parse("--kafka-brokers", "k1:9092", "--kafka-partitioner", "fnv", "--kafka-replay", "5s", "--pair-wait", "10s",
		"--kafka-links-topic", "otlp_spans", "--kafka-commit-interval", "0s")
	for _, want := range []string{
		`--kafka-partitioner (kafka.partitioner): unknown partitioner "fnv" (want sarama_compat or murmur2)`,
		"--kafka-replay (kafka.replay): must be at least pairing.pair_wait (10s), got 5s",
		"--kafka-links-topic (kafka.links_topic): must differ from the spans topic",
		"--kafka-commit-interval (kafka.commit_interval): 0s not in (0, 1m]",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "sg.yaml")
	yaml := "kafka:\n  brokers: [k1:9092, k2:9092]\n  topic: spans\n  group: g\n  partitioner: murmur2\n  replay: 90s\n  advertise: sg-0.sg:8080\n  topic2: x\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = parse("--config", path)
	if err == nil || !strings.Contains(err.Error(), "line 8: kafka.topic2: unknown key") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := os.WriteFile(path, []byte(strings.TrimSuffix(yaml, "  topic2: x\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = parse("--config", path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) || c.Kafka.Topic != "spans" || c.Kafka.Group != "g" ||
		c.Kafka.Partitioner != "murmur2" || c.Kafka.Replay != 90*time.Second || c.Kafka.Advertise != "sg-0.sg:8080" {
		t.Errorf("yaml: %+v", c.Kafka)
	}
}

// The Kubernetes example's arguments are a valid configuration in Kafka
// mode.
func TestKubernetesExample(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/servicegraph.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	in := false
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "args:":
			in = true
		case in && strings.HasPrefix(line, "- "):
			arg, _, _ := strings.Cut(strings.TrimPrefix(line, "- "), " #")
			args = append(args, strings.ReplaceAll(strings.TrimSpace(arg), "$(POD_NAME)", "servicegraph-0"))
		case in:
			in = false
		}
	}
	if len(args) < 2 || args[0] != "serve" {
		t.Fatalf("args %q", args)
	}
	c, err := parseConfig(flag.NewFlagSet("servicegraph serve", flag.ContinueOnError), args[1:], io.Discard, newDefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Kafka.Enabled() || len(c.Kafka.Brokers) != 3 || c.Kafka.Advertise != "servicegraph-0.servicegraph:8080" ||
		c.API.Addr != "0.0.0.0:8080" {
		t.Errorf("config %+v", c.Kafka)
	}
}

// held shows what records counted once a commit covers them, in their
// order, and forgets what the records of partitions gone counted: their
// next owner handles those again and counts them.
func TestHeldUntilCommitted(t *testing.T) {
	var h held
	ob := func(n uint32) []graph.Observation { return []graph.Observation{{Weight: n}} }
	tl := func(n uint64) []graph.LinkTally { return []graph.LinkTally{{N: n}} }
	h.add(heldFrom{partition: 0}, ob(1), nil)
	h.add(heldFrom{partition: 1, links: true}, nil, tl(2))
	h.add(heldFrom{partition: 2}, ob(3), tl(3))
	h.add(heldFrom{partition: 0}, nil, nil) // counted nothing: nothing held
	mark := h.mark()
	h.add(heldFrom{partition: 1}, ob(4), tl(4))
	h.add(heldFrom{partition: 0, links: true}, ob(5), nil)
	if got := h.records(); got != 5 {
		t.Fatalf("%d records held, want 5", got)
	}
	// Partition 2 went elsewhere before its commit.
	if n := h.drop(func(f heldFrom) bool { return f.partition == 2 }); n != 1 {
		t.Errorf("dropped %d records, want 1", n)
	}
	var obs []uint32
	var tallies []uint64
	show := func(o []graph.Observation, ts []graph.LinkTally) {
		for _, x := range o {
			obs = append(obs, x.Weight)
		}
		for _, x := range ts {
			tallies = append(tallies, x.N)
		}
	}
	h.release(mark, show)
	if !slices.Equal(obs, []uint32{1}) || !slices.Equal(tallies, []uint64{2}) {
		t.Errorf("released obs %v tallies %v, want [1] [2]", obs, tallies)
	}
	h.release(mark, show) // again: nothing new
	if len(obs) != 1 || len(tallies) != 1 {
		t.Errorf("released again: obs %v tallies %v", obs, tallies)
	}
	h.release(h.mark(), show)
	if !slices.Equal(obs, []uint32{1, 4, 5}) || !slices.Equal(tallies, []uint64{2, 4}) {
		t.Errorf("released obs %v tallies %v, want [1 4 5] [2 4]", obs, tallies)
	}
	h.add(heldFrom{partition: 3}, ob(6), tl(6))
	if n := h.drop(nil); n != 1 || h.records() != 0 || len(h.obs) != 0 || len(h.tallies) != 0 {
		t.Errorf("drop(nil) dropped %d, left %d records, %d obs, %d tallies", n, h.records(), len(h.obs), len(h.tallies))
	}
}

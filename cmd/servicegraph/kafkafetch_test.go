package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fetch batching keys (YAML only, as kafka.rebalance_timeout): the
// defaults, values from the file, and a bad value named by its line.
func TestKafkaFetchConfig(t *testing.T) {
	parse := func(yaml string) (Config, error) {
		path := filepath.Join(t.TempDir(), "sg.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return parseConfig(flag.NewFlagSet("servicegraph serve", flag.ContinueOnError), []string{"--config", path}, io.Discard, newDefaultConfig)
	}
	c, err := parse("kafka:\n  brokers: [k1:9092]\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.FetchMinBytes != 1<<20 || c.Kafka.FetchMaxWait != 200*time.Millisecond {
		t.Errorf("defaults: fetch_min_bytes %d, fetch_max_wait %s", c.Kafka.FetchMinBytes, c.Kafka.FetchMaxWait)
	}
	c, err = parse("kafka:\n  brokers: [k1:9092]\n  fetch_min_bytes: 65536\n  fetch_max_wait: 250ms\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.FetchMinBytes != 65536 || c.Kafka.FetchMaxWait != 250*time.Millisecond {
		t.Errorf("yaml: fetch_min_bytes %d, fetch_max_wait %s", c.Kafka.FetchMinBytes, c.Kafka.FetchMaxWait)
	}
	_, err = parse("kafka:\n  brokers: [k1:9092]\n  fetch_min_bytes: 0\n  fetch_max_wait: 5ms\n")
	for _, want := range []string{"line 3: kafka.fetch_min_bytes: 0 not in [1, 52428800]",
		"line 4: kafka.fetch_max_wait: 5ms not in [10ms, 1m]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
}

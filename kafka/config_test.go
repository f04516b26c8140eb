package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestConfigValidate(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.Brokers = []string{"127.0.0.1:9092"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults with a broker: %v", err)
	}
	if got := cfg.links(); got != "otlp_spans_links" {
		t.Errorf("links topic %q", got)
	}
	bad := Config{LinksTopic: "", Partitioner: "fnv", Replay: -time.Second, SamplePerPartition: -1}
	err := bad.Validate()
	for _, want := range []string{"brokers: none given", "topic: empty", "group: empty",
		`partitioner: unknown partitioner "fnv"`, "replay: -1s is negative",
		"commit_interval: 0s not in (0, 1m]", "sample_per_partition: -1 is negative",
		"verify_timeout: 0s must be positive", "max_poll_records: 0 must be positive",
		"rebalance_timeout: 0s not in [1s, 30m]", "fetch_min_bytes: 0 not in [1, 52428800]",
		"fetch_max_wait: 0s not in [10ms, 1m]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant it to report %q", err, want)
		}
	}
	big := NewDefaultConfig()
	big.Brokers, big.FetchMinBytes, big.FetchMaxWait = []string{"b:1"}, 50<<20+1, 9*time.Millisecond
	err = big.Validate()
	for _, want := range []string{"fetch_min_bytes: 52428801 not in [1, 52428800]", "fetch_max_wait: 9ms not in [10ms, 1m]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant it to report %q", err, want)
		}
	}
	same := NewDefaultConfig()
	same.Brokers, same.LinksTopic = []string{"b:1"}, same.Topic
	if err := same.Validate(); err == nil || !strings.Contains(err.Error(), "must differ") {
		t.Errorf("links topic = spans topic: %v", err)
	}
	if _, err := New(bad, Settings{}, &recorder{}); err == nil {
		t.Error("New accepted an invalid config")
	}
}

// Shutdown without Start, twice, and Route before Start are harmless;
// a second Start is refused; Start → Shutdown → Start works.
func TestLifecycle(t *testing.T) {
	cl := newCluster(t)
	c, err := New(testConfig(cl.ListenAddrs()), Settings{}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Route(ctx, &Link{}); err == nil {
		t.Error("Route before Start: no error")
	}
	for range 2 {
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx); err == nil {
			t.Error("second Start: no error")
		}
		waitFor(t, "partitions owned", 10*time.Second, func() bool { return len(c.Owned()) == testParts })
		if err := c.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(c.Owned()); n != 0 {
			t.Errorf("%d partitions owned after Shutdown", n)
		}
	}
}

// The fetch batching settings reach the group client: the defaults (1 MiB
// or 200 ms) and values of the config's.
func TestFetchBatching(t *testing.T) {
	cl := newCluster(t)
	for _, tc := range []struct {
		name     string
		minBytes int32
		maxWait  time.Duration
	}{
		{name: "defaults", minBytes: 1 << 20, maxWait: 200 * time.Millisecond},
		{name: "set", minBytes: 4096, maxWait: 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(cl.ListenAddrs())
			if tc.name != "defaults" {
				cfg.FetchMinBytes, cfg.FetchMaxWait = tc.minBytes, tc.maxWait
			}
			c, err := New(cfg, Settings{}, &recorder{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := c.Shutdown(ctx); err != nil {
					t.Error(err)
				}
			}()
			kc := c.cl.Load()
			if got := kc.OptValue(kgo.FetchMinBytes); got != tc.minBytes {
				t.Errorf("FetchMinBytes %v, want %d", got, tc.minBytes)
			}
			if got := kc.OptValue(kgo.FetchMaxWait); got != tc.maxWait {
				t.Errorf("FetchMaxWait %v, want %s", got, tc.maxWait)
			}
		})
	}
}

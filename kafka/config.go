package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures the Kafka transport (serve --kafka-*).
type Config struct {
	Brokers     []string `yaml:"brokers"`     // seed brokers, host:port
	Topic       string   `yaml:"topic"`       // spans topic the Collector's kafkaexporter writes
	LinksTopic  string   `yaml:"links_topic"` // default Topic + "_links"
	Group       string   `yaml:"group"`       // consumer group shared by every instance
	Partitioner string   `yaml:"partitioner"` // sarama_compat (default) or murmur2
	// Replay is how far back a newly assigned partition is read in
	// index-only mode (records before the committed offset). It should
	// be at least the pair wait.
	Replay time.Duration `yaml:"replay"`
	// CommitInterval is the longest time between two commits (≤ 1 s is
	// what issue 14 asks: at most this much is counted twice after a crash).
	CommitInterval time.Duration `yaml:"commit_interval"`
	// SamplePerPartition is how many of the latest records of each
	// partition are checked against the partitioner at start (0: none).
	SamplePerPartition int `yaml:"sample_per_partition"`
	// VerifyTimeout bounds the start checks (topics, sampling).
	VerifyTimeout time.Duration `yaml:"verify_timeout"`
	// MaxPollRecords bounds the records handled between two chances to
	// commit or rebalance.
	MaxPollRecords int `yaml:"max_poll_records"`
	// SessionTimeout is how long the group waits for a silent member
	// (a crashed instance) before giving its partitions to the others;
	// HeartbeatInterval how often a member says it is alive.
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// RebalanceTimeout is how long the members of a rebalance have to
	// join again (each commits what it handled first), and how long a
	// member waits for the answer to its join before it asks again: a
	// join the coordinator never answers (kfake, when the member's
	// session ends while its join waits) stalls the member that long
	// plus franz-go's request overhead (10 s).
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// FetchMinBytes and FetchMaxWait batch the fetches of both topics: a
	// broker answers a member's fetch once FetchMinBytes wait in its
	// partitions, or after FetchMaxWait when fewer do. Each fetch costs
	// about the same whatever it carries, so a member of N fetching as
	// soon as one byte waits (1, franz-go's default) makes N times as
	// many fetches per span as one instance would; batched, a record
	// (and a routed link) waits at most FetchMaxWait more. A member's
	// share of the stream seldom fills FetchMinBytes within the wait, so
	// each member fetches every FetchMaxWait whatever N: the wait sets
	// the cluster's fetches (and wakeups) per second, N / FetchMaxWait.
	FetchMinBytes int32         `yaml:"fetch_min_bytes"`
	FetchMaxWait  time.Duration `yaml:"fetch_max_wait"`
}

// maxFetchMinBytes is franz-go's default FetchMaxBytes (50 MiB): a fetch
// never waits for more than it may carry.
const maxFetchMinBytes = 50 << 20

// NewDefaultConfig returns the defaults: topic otlp_spans, group
// servicegraph, sarama_compat, 60 s replay, 1 s commits, fetches of
// 1 MiB or 200 ms.
func NewDefaultConfig() Config {
	return Config{Topic: "otlp_spans", Group: "servicegraph", Partitioner: string(SaramaCompat),
		Replay: 60 * time.Second, CommitInterval: time.Second, SamplePerPartition: 20,
		VerifyTimeout: 10 * time.Second, MaxPollRecords: 1000,
		SessionTimeout: 45 * time.Second, HeartbeatInterval: 3 * time.Second, RebalanceTimeout: time.Minute,
		FetchMinBytes: 1 << 20, FetchMaxWait: 200 * time.Millisecond}
}

// Validate reports every problem at once, each message starting with
// the YAML key it is about (the service names it kafka.<key>).
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: none given"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("topic: empty"))
	}
	if c.LinksTopic == c.Topic && c.Topic != "" {
		errs = append(errs, errors.New("links_topic: must differ from the spans topic"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("group: empty"))
	}
	if _, err := ParsePartitioner(c.Partitioner); err != nil {
		errs = append(errs, fmt.Errorf("partitioner: %w", err))
	}
	if c.Replay < 0 {
		errs = append(errs, fmt.Errorf("replay: %s is negative", c.Replay))
	}
	if c.CommitInterval <= 0 || c.CommitInterval > time.Minute {
		errs = append(errs, fmt.Errorf("commit_interval: %s not in (0, 1m]", c.CommitInterval))
	}
	if c.SamplePerPartition < 0 {
		errs = append(errs, fmt.Errorf("sample_per_partition: %d is negative", c.SamplePerPartition))
	}
	if c.VerifyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("verify_timeout: %s must be positive", c.VerifyTimeout))
	}
	if c.MaxPollRecords <= 0 {
		errs = append(errs, fmt.Errorf("max_poll_records: %d must be positive", c.MaxPollRecords))
	}
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval >= c.SessionTimeout {
		errs = append(errs, fmt.Errorf("heartbeat_interval: %s must be positive and below session_timeout (%s)", c.HeartbeatInterval, c.SessionTimeout))
	}
	if c.RebalanceTimeout < time.Second || c.RebalanceTimeout > 30*time.Minute {
		errs = append(errs, fmt.Errorf("rebalance_timeout: %s not in [1s, 30m]", c.RebalanceTimeout))
	}
	if c.FetchMinBytes < 1 || c.FetchMinBytes > maxFetchMinBytes {
		errs = append(errs, fmt.Errorf("fetch_min_bytes: %d not in [1, %d]", c.FetchMinBytes, maxFetchMinBytes))
	}
	if c.FetchMaxWait < 10*time.Millisecond || c.FetchMaxWait > time.Minute {
		errs = append(errs, fmt.Errorf("fetch_max_wait: %s not in [10ms, 1m]", c.FetchMaxWait))
	}
	return errors.Join(errs...)
}

// links returns the links topic, defaulted.
func (c *Config) links() string {
	if c.LinksTopic == "" {
		return c.Topic + "_links"
	}
	return c.LinksTopic
}

// Settings are what the code supplies; nil means the default.
type Settings struct {
	Logger *slog.Logger
	Now    func() time.Time
	// ClientOpts are extra franz-go options (TLS, SASL, tests' short
	// heartbeats); they come after the transport's own.
	ClientOpts []kgo.Opt
	// ClientID identifies this member in the group (Members): the
	// service sets its advertised API address. Empty: franz-go's default.
	ClientID string
}

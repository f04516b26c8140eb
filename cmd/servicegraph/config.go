package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/kafka"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/receiver"
	"github.com/servicegraph/servicegraph/render"
)

// Config is the whole service's configuration: the YAML file's shape.
type Config struct {
	Receiver receiver.Config `yaml:"receiver"`
	API      api.Config      `yaml:"api"`
	Pairing  pairing.Config  `yaml:"pairing"`
	Graph    graph.Config    `yaml:"graph"`
	Render   render.Config   `yaml:"render"`
	Metrics  metrics.Config  `yaml:"metrics"`
	State    StateConfig     `yaml:"state"`
	Log      LogConfig       `yaml:"log"`
	// Kafka is the multi-instance mode (kafka.go): off unless brokers
	// are given.
	Kafka KafkaConfig `yaml:"kafka"`
	// FirstSeen shares edges' first-seen times between the instances of
	// the Kafka mode (kafka.FirstSeen); used with --kafka-brokers only.
	FirstSeen kafka.FirstSeenConfig `yaml:"first_seen"`
}

// StateConfig says where and how often the graph is saved.
type StateConfig struct {
	Dir          string        `yaml:"dir"`           // empty: no persistence
	SaveInterval time.Duration `yaml:"save_interval"` // periodic save
	// ReadyOnSaveFailure keeps /-/ready at 200 (with a warning) while
	// saves fail; false makes it 503.
	ReadyOnSaveFailure bool `yaml:"ready_on_save_failure"`
}

// LogConfig sets up the logger.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

func newDefaultConfig() Config {
	return Config{
		Receiver: receiver.NewDefaultConfig(),
		API:      api.NewDefaultConfig(),
		Pairing:  pairing.NewDefaultConfig(),
		Graph:    graph.NewDefaultConfig(),
		Render:   render.NewDefaultConfig(),
		Metrics:  metrics.NewDefaultConfig(),
		State:    StateConfig{Dir: "./data", SaveInterval: time.Minute, ReadyOnSaveFailure: true},
		Log:      LogConfig{Level: "info", Format: "text"},
		Kafka:    KafkaConfig{Config: kafka.NewDefaultConfig()},

		FirstSeen: kafka.NewDefaultFirstSeenConfig(),
	}
}

// Validate reports every problem of every component at once.
func (c Config) Validate() error {
	if ps := c.problems(nil, nil); len(ps) > 0 {
		return &configError{problems: ps}
	}
	return nil
}

// problems validates every component, naming each problem by its YAML key
// (and its line in lines, or its flag in flags, when it was set there).
func (c Config) problems(lines map[string]int, flags map[string]string) []problem {
	leaves := map[string]bool{}
	leafKeys(reflect.ValueOf(c), "", leaves)
	var ps []problem
	for _, v := range []struct {
		name string
		err  error
	}{
		{"receiver", c.Receiver.Validate()}, {"api", c.API.Validate()}, {"pairing", c.Pairing.Validate()},
		{"graph", c.Graph.Validate()}, {"render", c.Render.Validate()}, {"metrics", c.Metrics.Validate()},
		{"state", c.State.validate()}, {"log", c.Log.validate()}, {"kafka", c.Kafka.validate(c.Pairing.PairWait)},
		{"first_seen", c.FirstSeen.Validate()},
	} {
		ps = append(ps, keyedProblems(v.name, v.err, leaves, lines, flags)...)
	}
	if c.Graph.MaxNodes > pairing.MaxNodes {
		ps = append(ps, keyedProblems("graph", fmt.Errorf("max_nodes must be at most %d (span index layout), got %d", pairing.MaxNodes, c.Graph.MaxNodes),
			leaves, lines, flags)...)
	}
	sortProblems(ps)
	return ps
}

func (c StateConfig) validate() error {
	if c.SaveInterval < time.Second {
		return fmt.Errorf("save_interval must be at least 1s, got %s", c.SaveInterval)
	}
	return nil
}

func (c LogConfig) validate() error {
	var errs []error
	switch c.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("level must be debug, info, warn or error, got %q", c.Level))
	}
	if c.Format != "text" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("format must be text or json, got %q", c.Format))
	}
	return errors.Join(errs...)
}

// loadYAML decodes a config file over cfg. Unknown keys and values of the
// wrong type are problems, returned with the lines of the keys set.
func loadYAML(path string, cfg *Config) (map[string]int, []problem, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	lines, probs := decodeYAML(b, cfg)
	return lines, probs, nil
}

// option is one command-line flag and the config fields it sets.
type option struct {
	name, key, usage string
	fields           func(c *Config) []any // pointers to the fields it sets
}

// options lists every flag; each mirrors the YAML key in key.
var options = []option{
	{"otlp-grpc-addr", "receiver.grpc_addr", "OTLP/gRPC listen address; empty disables", func(c *Config) []any { return []any{&c.Receiver.GRPCAddr} }},
	{"otlp-http-addr", "receiver.http_addr", "OTLP/HTTP listen address; empty disables", func(c *Config) []any { return []any{&c.Receiver.HTTPAddr} }},
	{"max-request-bytes", "receiver.max_request_bytes", "largest OTLP request, also after decompression", func(c *Config) []any { return []any{&c.Receiver.MaxRequestBytes} }},
	{"max-concurrent-requests", "receiver.max_concurrent_requests", "OTLP requests in progress at once; more are refused with a retryable error", func(c *Config) []any { return []any{&c.Receiver.MaxConcurrentRequests} }},
	{"max-inflight-bytes", "receiver.max_inflight_bytes", "memory all OTLP requests in flight may hold (a request reserves up to 16x its protobuf size); more are refused with a retryable error", func(c *Config) []any { return []any{&c.Receiver.MaxInflightBytes} }},
	{"otlp-read-timeout", "receiver.read_timeout", "longest wait for an OTLP request's body (HTTP) or message (gRPC) after its headers; slower requests are refused (HTTP 503) or cancelled (gRPC)", func(c *Config) []any { return []any{&c.Receiver.ReadTimeout} }},
	{"otlp-max-streams-per-connection", "receiver.max_streams_per_connection", "OTLP/gRPC calls one connection may have open at once (clients queue the rest)", func(c *Config) []any { return []any{&c.Receiver.MaxStreamsPerConnection} }},
	{"otlp-max-connections", "receiver.max_connections", "connections each OTLP listener holds open; more are closed at once (both caps + 256 must fit the open-file limit)", func(c *Config) []any { return []any{&c.Receiver.MaxConnections} }},
	{"otlp-idle-timeout", "receiver.idle_timeout", "OTLP connections without requests for this long are closed (gRPC: GOAWAY)", func(c *Config) []any { return []any{&c.Receiver.IdleTimeout} }},
	{"http-addr", "api.addr", "HTTP API, /metrics and built-in page listen address", func(c *Config) []any { return []any{&c.API.Addr} }},
	{"tls-cert-file", "receiver.tls.cert_file, api.tls.cert_file", "TLS certificate (PEM) for every listener", func(c *Config) []any { return []any{&c.Receiver.TLS.CertFile, &c.API.TLS.CertFile} }},
	{"tls-key-file", "receiver.tls.key_file, api.tls.key_file", "TLS private key (PEM) for every listener", func(c *Config) []any { return []any{&c.Receiver.TLS.KeyFile, &c.API.TLS.KeyFile} }},
	{"tls-client-ca-file", "receiver.tls.client_ca_file, api.tls.client_ca_file", "CA bundle (PEM); when set, clients must present a certificate it signed (mTLS)", func(c *Config) []any {
		return []any{&c.Receiver.TLS.ClientCAFile, &c.API.TLS.ClientCAFile}
	}},
	{"api-health-without-client-cert", "api.tls.health_without_client_cert", "with mTLS, serve /-/healthy and /-/ready to clients without a certificate (every other API path answers them 403)", func(c *Config) []any {
		return []any{&c.API.TLS.HealthWithoutClientCert}
	}},
	{"ingest-token-file", "receiver.auth.bearer_token_file", "file of bearer tokens (one a line) OTLP senders must present", func(c *Config) []any { return []any{&c.Receiver.Auth.BearerTokenFile} }},
	{"api-max-connections", "api.max_connections", "connections the API listener holds open at most; more are closed at once (counted)", func(c *Config) []any { return []any{&c.API.MaxConnections} }},
	{"api-max-concurrent-queries", "api.max_concurrent_queries", "graph queries (Grafana rows, Jaeger dependencies, renders) computed at once (default: half the CPUs); more wait, up to the request timeout, then get 503", func(c *Config) []any { return []any{&c.API.MaxConcurrentQueries} }},
	{"read-max-staleness", "api.read_max_staleness", "how old a cached answer of /metrics and the graph rows routes may be when served again (readers share one encoding per period); 0 disables the cache", func(c *Config) []any { return []any{&c.API.ReadMaxStaleness} }},
	{"read-cache-bytes", "api.read_cache_bytes", "memory bound of the read cache; least recently served answers go first, larger answers are streamed", func(c *Config) []any { return []any{&c.API.ReadCacheBytes} }},
	{"read-budget", "api.read_budget", "serving time the reads of /metrics and the graph rows routes may take per second, summed over reads in progress (250ms, the default: a quarter of a core); past it they pause between 64 KiB pieces, a read at most a third of the request timeout, a Prometheus scrape at most a third of its scrape timeout; 0: no budget", func(c *Config) []any { return []any{&c.API.ReadBudget} }},
	{"trace-url-template", "api.trace_url_template", "link sample traces to a trace viewer: a http(s) URL holding {trace_id} (and optionally {span_id}), e.g. http://localhost:16686/trace/{trace_id} (Jaeger); the Node Graph API, the page and /api/links/unresolved then carry the URLs (empty: trace ids only)", func(c *Config) []any { return []any{&c.API.TraceURLTemplate} }},
	{"api-token-file", "api.auth.bearer_token_file", "file of bearer tokens (one a line) API clients must present", func(c *Config) []any { return []any{&c.API.Auth.BearerTokenFile} }},
	{"peers", "api.cluster.peers", "API base URLs of every instance of a scale-out (http://host:port, comma-separated; this instance may be listed); the graph endpoints then answer for all of them, merged", func(c *Config) []any { return []any{&c.API.Cluster.Peers} }},
	{"peer-timeout", "api.cluster.peer_timeout", "how long a fanned-out request waits for the peers; one that has not answered is left out and the answer marked partial", func(c *Config) []any { return []any{&c.API.Cluster.PeerTimeout} }},
	{"peer-ca-file", "api.cluster.peer_ca_file", "CA bundle (PEM) that verifies https peers; default: the system's roots", func(c *Config) []any { return []any{&c.API.Cluster.PeerCAFile} }},
	{"peer-cert-file", "api.cluster.peer_cert_file", "client certificate (PEM, client-auth usage) presented to peers that require mutual TLS; with --peer-key-file", func(c *Config) []any { return []any{&c.API.Cluster.PeerCertFile} }},
	{"peer-key-file", "api.cluster.peer_key_file", "private key (PEM) of --peer-cert-file", func(c *Config) []any { return []any{&c.API.Cluster.PeerKeyFile} }},
	{"peer-max-bytes", "api.cluster.max_peer_bytes", "largest answer read from one peer (its graph of the window); a larger one is left out (partial)", func(c *Config) []any { return []any{&c.API.Cluster.MaxPeerBytes} }},
	{"pair-wait", "pairing.pair_wait", "how long an unpaired client/server/producer/consumer span waits", func(c *Config) []any { return []any{&c.Pairing.PairWait} }},
	{"link-wait", "pairing.link_wait", "how long a link waits for its target span to arrive", func(c *Config) []any { return []any{&c.Pairing.LinkWait} }},
	{"max-index-spans", "pairing.max_index_spans", "span index entries (~47 B each); oldest evicted past it", func(c *Config) []any { return []any{&c.Pairing.MaxIndexSpans} }},
	{"preallocate-index", "pairing.preallocate", "allocate the span index at its full size at start (~47 B x --max-index-spans), so that its growth is paid once", func(c *Config) []any { return []any{&c.Pairing.Preallocate} }},
	{"max-pending-spans", "pairing.max_pending_spans", "spans waiting for a parent, and client spans waiting for a server, each", func(c *Config) []any { return []any{&c.Pairing.MaxPendingSpans} }},
	{"max-pending-links", "pairing.max_pending_links", "links waiting for their target", func(c *Config) []any { return []any{&c.Pairing.MaxPendingLinks} }},
	{"shards", "pairing.shards", "pairing shards (parallelism)", func(c *Config) []any { return []any{&c.Pairing.Shards} }},
	{"database-name-attributes", "pairing.database_name_attributes", "span attributes naming a database node, first non-empty wins (comma-separated)", func(c *Config) []any { return []any{&c.Pairing.DatabaseNameAttributes} }},
	{"peer-attributes", "pairing.peer_attributes", "span attributes naming the uninstrumented peer of a CLIENT span that never meets its server, first non-empty wins", func(c *Config) []any { return []any{&c.Pairing.PeerAttributes} }},
	{"span-multiplier-key", "pairing.span_multiplier_key", "span attribute holding how many spans a sampled span stands for (Tempo's span_multiplier_key); counts and histograms are weighted by it, else by the tracestate's ot=th: threshold", func(c *Config) []any { return []any{&c.Pairing.SpanMultiplierKey} }},
	{"caller-attributes", "pairing.caller_attributes", "span attributes naming the caller of a root SERVER or CONSUMER span (else user); empty: none", func(c *Config) []any { return []any{&c.Pairing.CallerAttributes} }},
	{"broker-nodes", "pairing.broker_nodes", "draw a messaging pair producer -> topic -> consumer, the topic a node named by messaging.destination.name (else the direct producer -> consumer edge)", func(c *Config) []any { return []any{&c.Pairing.BrokerNodes} }},
	{"max-nodes", "graph.max_nodes", "distinct node names; more fold into __overflow__", func(c *Config) []any { return []any{&c.Graph.MaxNodes} }},
	{"max-edges", "graph.max_edges", "distinct edges; occurrences of new edges past it are dropped", func(c *Config) []any { return []any{&c.Graph.MaxEdges} }},
	{"max-name-bytes", "graph.max_name_bytes", "longest node name kept; longer ones are cut", func(c *Config) []any { return []any{&c.Graph.MaxNameBytes} }},
	{"dimensions", "graph.dimensions", "span or resource attributes (resource first, as Tempo) whose values label the edge series client_<attr> and server_<attr> (dots to underscores; e.g. service.namespace)", func(c *Config) []any { return []any{&c.Graph.Dimensions} }},
	{"max-dimension-values", "graph.max_dimension_values", "distinct values kept per dimension, and sub-series per edge; more fold into __overflow__ (counted)", func(c *Config) []any { return []any{&c.Graph.MaxDimensionValues} }},
	{"max-dimension-series", "graph.max_dimension_series", "sub-series by dimension values of all edges together (~1.3 KB each); past it new combinations fold into their edge's __overflow__ one (counted)", func(c *Config) []any { return []any{&c.Graph.MaxDimensionSeries} }},
	{"series-idle-timeout", "metrics.series_idle_timeout", "stop exporting the series of an edge not seen for this long (0: never); they come back, counters continuing, with its next occurrence; the API and history keep it", func(c *Config) []any { return []any{&c.Metrics.SeriesIdleTimeout} }},
	{"latency-buckets", "graph.latency_buckets", "upper bounds, in seconds, of every duration and delay histogram's classic buckets (comma-separated, increasing, positive, at most 255)", func(c *Config) []any { return []any{&c.Graph.LatencyBuckets} }},
	{"native-histograms", "graph.native_histograms", "keep a native (exponential) histogram of every duration and delay beside the classic buckets, served to scrapes that ask for protobuf (Prometheus with native histograms on)", func(c *Config) []any { return []any{&c.Graph.NativeHistograms} }},
	{"native-max-buckets", "graph.native_max_buckets", "buckets a native histogram holds at most; past it its resolution halves", func(c *Config) []any { return []any{&c.Graph.NativeMaxBuckets} }},
	{"history-bucket", "graph.bucket_width", "history resolution", func(c *Config) []any { return []any{&c.Graph.BucketWidth} }},
	{"history-retention", "graph.retention", "how long history is kept", func(c *Config) []any { return []any{&c.Graph.Retention} }},
	{"max-history-bytes", "graph.max_history_bytes", "memory cap of all edges' history; past it the oldest buckets go first", func(c *Config) []any { return []any{&c.Graph.MaxHistoryBytes} }},
	{"virtual-node-label", "metrics.virtual_node_label", "add the label virtual_node (client|server) to edge series from or to a virtual node (Tempo's enable_virtual_node_label)", func(c *Config) []any { return []any{&c.Metrics.VirtualNodeLabel} }},
	{"exemplars", "metrics.exemplars", "serve scrapes that ask for OpenMetrics (Prometheus does) with a recent traced occurrence of each edge (trace and span ids) as exemplars of its request counter and histograms (through client_golang's registry; off: every scrape gets the streamed text 0.0.4)", func(c *Config) []any { return []any{&c.Metrics.Exemplars} }},
	{"max-concurrent-scrapes", "metrics.max_concurrent_scrapes", "scrapes of /metrics served at once; more get 503 with Retry-After", func(c *Config) []any { return []any{&c.Metrics.MaxConcurrentScrapes} }},
	{"render-timeout", "render.timeout", "deadline of one drawing", func(c *Config) []any { return []any{&c.Render.Timeout} }},
	{"render-max-nodes", "render.max_nodes", "largest graph drawn, in nodes", func(c *Config) []any { return []any{&c.Render.MaxNodes} }},
	{"render-max-edges", "render.max_edges", "largest graph drawn, in edges", func(c *Config) []any { return []any{&c.Render.MaxEdges} }},
	{"render-max-png-pixels", "render.max_png_pixels", "largest zoomed PNG (/graph.png?scale=), in pixels; a larger one is zoomed less, never below scale 1", func(c *Config) []any { return []any{&c.Render.MaxPNGPixels} }},
	{"data-dir", "state.dir", "directory for the saved graph; empty disables saving", func(c *Config) []any { return []any{&c.State.Dir} }},
	{"save-interval", "state.save_interval", "how often the graph is saved", func(c *Config) []any { return []any{&c.State.SaveInterval} }},
	{"ready-on-save-failure", "state.ready_on_save_failure", "while saves of the graph fail, /-/ready stays 200 with a warning (true) or answers 503 (false)", func(c *Config) []any {
		return []any{&c.State.ReadyOnSaveFailure}
	}},
	{"kafka-brokers", "kafka.brokers", "Kafka seed brokers (host:port, comma-separated); set, the service joins the consumer group and reads the spans topic (multi-instance mode); the OTLP listeners stay on", func(c *Config) []any { return []any{&c.Kafka.Brokers} }},
	{"kafka-topic", "kafka.topic", "topic the Collector's kafkaexporter writes (partition_traces_by_id: true, encoding: otlp_proto)", func(c *Config) []any { return []any{&c.Kafka.Topic} }},
	{"kafka-group", "kafka.group", "consumer group every instance joins", func(c *Config) []any { return []any{&c.Kafka.Group} }},
	{"kafka-links-topic", "kafka.links_topic", "topic links are routed through to the owner of their target (default <kafka-topic>_links; created with the spans topic's partition count if missing)", func(c *Config) []any { return []any{&c.Kafka.LinksTopic} }},
	{"kafka-partitioner", "kafka.partitioner", "how the spans topic's writer places a key: sarama_compat (the kafkaexporter's default) or murmur2; checked on sampled records at start", func(c *Config) []any { return []any{&c.Kafka.Partitioner} }},
	{"kafka-replay", "kafka.replay", "how far back a newly assigned partition is read, index-only, before its committed offset (at least --pair-wait)", func(c *Config) []any { return []any{&c.Kafka.Replay} }},
	{"kafka-commit-interval", "kafka.commit_interval", "longest time between two offset commits: after a crash at most this much is counted twice", func(c *Config) []any { return []any{&c.Kafka.CommitInterval} }},
	{"kafka-session-timeout", "kafka.session_timeout", "how long the group waits for a silent (crashed) instance before its partitions go to the others", func(c *Config) []any { return []any{&c.Kafka.SessionTimeout} }},
	{"kafka-edges-topic", "first_seen.topic", "compacted topic the instances share their edges' earliest first-seen times through (created if missing), so that an instance taking over an old edge does not report it new", func(c *Config) []any { return []any{&c.FirstSeen.Topic} }},
	{"kafka-first-seen-interval", "first_seen.interval", "how often this instance publishes first-seen times earlier than the shared topic's", func(c *Config) []any { return []any{&c.FirstSeen.Interval} }},
	{"kafka-advertise", "kafka.advertise", "this instance's API address as the other members reach it (host:port), published as its group client id; default: the hostname and the --http-addr port", func(c *Config) []any { return []any{&c.Kafka.Advertise} }},
	{"log-level", "log.level", "debug, info, warn or error", func(c *Config) []any { return []any{&c.Log.Level} }},
	{"log-format", "log.format", "text or json", func(c *Config) []any { return []any{&c.Log.Format} }},
}

// fieldsValue is a flag.Value that sets one or more config fields.
type fieldsValue struct{ ptrs []any }

func (v fieldsValue) String() string {
	if len(v.ptrs) == 0 {
		return ""
	}
	switch p := v.ptrs[0].(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *time.Duration:
		return p.String()
	case *bool:
		return strconv.FormatBool(*p)
	case *[]string:
		return strings.Join(*p, ",")
	case *[]float64:
		items := make([]string, len(*p))
		for i, f := range *p {
			items[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		return strings.Join(items, ",")
	}
	return ""
}

// IsBoolFlag lets a bool option be given as a bare --flag.
func (v fieldsValue) IsBoolFlag() bool {
	_, ok := v.ptrs[0].(*bool)
	return ok
}

// typeName names the value's type for --help.
func (v fieldsValue) typeName() string {
	switch v.ptrs[0].(type) {
	case *int, *int64:
		return "int"
	case *time.Duration:
		return "duration"
	case *bool:
		return "bool"
	case *[]string, *[]float64:
		return "list"
	}
	return "string"
}

func (v fieldsValue) Set(s string) error {
	for _, ptr := range v.ptrs {
		switch p := ptr.(type) {
		case *string:
			*p = s
		case *int:
			n, err := strconv.Atoi(s)
			if err != nil {
				return errors.New("not an integer")
			}
			*p = n
		case *int64:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return errors.New("not an integer")
			}
			*p = n
		case *time.Duration:
			d, err := time.ParseDuration(s)
			if err != nil {
				return errors.New("not a duration (e.g. 10s, 5m)")
			}
			*p = d
		case *bool:
			b, err := strconv.ParseBool(s)
			if err != nil {
				return errors.New("not true or false")
			}
			*p = b
		case *[]string:
			// A comma-separated list; blanks around items and empty
			// items are dropped, so "a, b," is [a b] and "" is none.
			var items []string
			for item := range strings.SplitSeq(s, ",") {
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
			*p = items
		case *[]float64:
			// Comma-separated numbers; the component checks their order.
			var nums []float64
			for item := range strings.SplitSeq(s, ",") {
				item = strings.TrimSpace(item)
				f, err := strconv.ParseFloat(item, 64)
				if err != nil {
					return fmt.Errorf("%q is not a number (want a comma-separated list such as 0.1,0.25,0.5,1)", item)
				}
				nums = append(nums, f)
			}
			*p = nums
		default:
			return fmt.Errorf("unsupported field type %T", ptr)
		}
	}
	return nil
}

// bind defines every option on fs, bound to cfg's fields.
func bind(fs *flag.FlagSet, cfg *Config) {
	for _, o := range options {
		v := fieldsValue{o.fields(cfg)}
		article := "a"
		if strings.ContainsAny(v.typeName()[:1], "aeiou") {
			article = "an"
		}
		fs.Var(v, o.name, fmt.Sprintf("%s (yaml: %s, %s `%s`)", o.usage, o.key, article, v.typeName()))
	}
}

// parseConfig builds the configuration from defaults(), then the YAML
// file named by --config, then the flags given, which win. Every problem,
// of the file and of the values, is reported at once, as a usage error.
func parseConfig(fs *flag.FlagSet, args []string, stdout io.Writer, defaults func() Config) (Config, error) {
	cmd := strings.TrimPrefix(fs.Name(), "servicegraph ")
	cfg := defaults()
	path := fs.String("config", "", "YAML configuration file; flags override it")
	bind(fs, &cfg)
	if err := parseFlags(fs, args, stdout); err != nil {
		return cfg, err
	}
	flags := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		for _, o := range options {
			if o.name == f.Name {
				for _, key := range strings.Split(o.key, ", ") {
					flags[key] = "--" + o.name
				}
			}
		}
	})
	var lines map[string]int
	var probs []problem
	if *path != "" {
		final := defaults()
		var err error
		if lines, probs, err = loadYAML(*path, &final); err != nil {
			return cfg, errUsage(cmd, err)
		}
		given := flag.NewFlagSet("", flag.ContinueOnError)
		bind(given, &final)
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "config" && err == nil {
				err = given.Set(f.Name, f.Value.String())
			}
		})
		if err != nil {
			return cfg, errUsage(cmd, err)
		}
		cfg = final
	}
	probs = append(probs, cfg.problems(lines, flags)...)
	if len(probs) > 0 {
		sortProblems(probs)
		return cfg, errUsage(cmd, &configError{path: *path, problems: probs})
	}
	return cfg, nil
}

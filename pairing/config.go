package pairing

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/servicegraph/servicegraph/internal/tracedecode"
)

// Config holds every wait and every bound on in-flight state.
type Config struct {
	// PairWait is how long a span waits for its parent, and a CLIENT span
	// that names a database or peer waits for a server side, before it
	// expires (counted) or becomes a database/virtual_node edge.
	PairWait time.Duration `yaml:"pair_wait"`
	// LinkWait is how long a span link waits for its target span to arrive
	// before it is counted unresolved.
	LinkWait time.Duration `yaml:"link_wait"`
	// MaxIndexSpans caps the span index: the most recent spans, by
	// (trace id, span id), that parents and link targets are found in.
	// About 46 bytes each; the oldest is evicted (counted) at the cap.
	MaxIndexSpans int `yaml:"max_index_spans"`
	// Preallocate allocates the span index at its full size at start
	// (about 46 bytes × MaxIndexSpans), so that its growth is paid once
	// there rather than while the first MaxIndexSpans spans arrive.
	Preallocate bool `yaml:"preallocate"`
	// MaxPendingSpans caps, each, the spans waiting for a parent (64 bytes
	// each plus a map entry) and the CLIENT spans that name a database or
	// peer waiting for a server side (64 bytes plus a map entry). Only
	// items still waiting count: one that pairs leaves at once. The oldest
	// is dropped (counted) at the cap. A queue's ring holds up to 1.25 ×
	// the cap (paired items' places are reclaimed by compaction). Size it
	// for the rate of such spans × PairWait.
	MaxPendingSpans int `yaml:"max_pending_spans"`
	// MaxPendingLinks caps links waiting for their target (about 104
	// bytes each plus a map entry, up to 1.25 × the cap as above); the
	// oldest is dropped (counted).
	MaxPendingLinks int `yaml:"max_pending_links"`
	// Shards splits the state by trace id so that requests proceed in
	// parallel; every cap above is divided among them.
	Shards int `yaml:"shards"`
	// ExpiryInterval is how often waits are checked.
	ExpiryInterval time.Duration `yaml:"expiry_interval"`
	// RecentProblems is how many unresolved, invalid and dropped links are
	// kept for GET /api/links/unresolved, at most MaxRecentProblems: each
	// holds its span name cut to MaxNameBytes, ids in hex and a time, under
	// 1 KB.
	RecentProblems int `yaml:"recent_problems"`
	// MaxNameBytes cuts the span names pairing keeps past a request (of
	// waiting links and recent problems), at a UTF-8 boundary after
	// invalid UTF-8 is repaired, as the graph cuts node names. It is not a
	// key of its own: the service sets it from graph.max_name_bytes
	// (--max-name-bytes), one figure for every kept name.
	MaxNameBytes int `yaml:"-"`
	// DatabaseNameAttributes names the database of a CLIENT span with
	// db.system.name or db.system: the first of these attributes with a
	// non-empty value (network.peer.address with :network.peer.port when
	// present). Keys are those of tracedecode.NamingAttributes.
	DatabaseNameAttributes []string `yaml:"database_name_attributes"`
	// PeerAttributes names the uninstrumented peer of another CLIENT span
	// that never meets its server side (a virtual_node edge), in order.
	PeerAttributes []string `yaml:"peer_attributes"`
	// CallerAttributes names the caller of a root SERVER or CONSUMER span
	// (a virtual_node edge from it); none found: a root SERVER span's
	// caller is user. Names by default, not addresses.
	CallerAttributes []string `yaml:"caller_attributes"`
	// SpanMultiplierKey names the span attribute holding how many spans a
	// sampled span stands for (Tempo's span_multiplier_key): its edges'
	// counts and histograms are weighted by it, rounded to a whole number
	// (at most tracedecode.MaxWeight). Without it, or where a span lacks
	// it, the OpenTelemetry threshold in the span's tracestate (ot=th:)
	// gives the weight. "" reads no attribute.
	SpanMultiplierKey string `yaml:"span_multiplier_key"`
	// FilterPolicies keep or drop spans before pairing (Tempo's
	// filter_policies; filter.go). None: every span is paired, at no cost.
	FilterPolicies []FilterPolicy `yaml:"filter_policies"`
	// BrokerNodes draws a messaging pair producer → topic → consumer, the
	// topic a node named by messaging.destination.name, instead of one
	// producer → consumer edge (broker.go).
	BrokerNodes bool `yaml:"broker_nodes"`
}

// MaxRecentProblems bounds Config.RecentProblems: 10,000 problems hold
// under 10 MB.
const MaxRecentProblems = 10_000

// NewDefaultConfig returns the defaults: about 1 GiB of state at the caps.
func NewDefaultConfig() Config {
	return Config{
		PairWait:               10 * time.Second,
		LinkWait:               5 * time.Minute,
		MaxIndexSpans:          16 << 20,
		MaxPendingSpans:        1 << 20,
		MaxPendingLinks:        1 << 20,
		Shards:                 16,
		ExpiryInterval:         time.Second,
		RecentProblems:         200,
		MaxNameBytes:           256,
		DatabaseNameAttributes: slices.Clone(tracedecode.DefaultDatabaseAttributes),
		PeerAttributes:         slices.Clone(tracedecode.DefaultPeerAttributes),
		CallerAttributes:       slices.Clone(tracedecode.DefaultCallerAttributes),
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.PairWait <= 0 {
		errs = append(errs, fmt.Errorf("pair_wait must be positive, got %s", c.PairWait))
	}
	if c.LinkWait <= 0 {
		errs = append(errs, fmt.Errorf("link_wait must be positive, got %s", c.LinkWait))
	}
	if c.Shards < 1 || c.Shards > 1024 {
		errs = append(errs, fmt.Errorf("shards must be between 1 and 1024, got %d", c.Shards))
	}
	for _, b := range []struct {
		name string
		v    int
	}{{"max_index_spans", c.MaxIndexSpans}, {"max_pending_spans", c.MaxPendingSpans}, {"max_pending_links", c.MaxPendingLinks}} {
		switch {
		case b.v < max(c.Shards, 1):
			errs = append(errs, fmt.Errorf("%s must be at least shards (%d), got %d", b.name, c.Shards, b.v))
		case b.v/max(c.Shards, 1) >= 1<<31:
			errs = append(errs, fmt.Errorf("%s per shard must be below 2^31, got %d", b.name, b.v))
		}
	}
	if c.ExpiryInterval <= 0 {
		errs = append(errs, fmt.Errorf("expiry_interval must be positive, got %s", c.ExpiryInterval))
	}
	if c.RecentProblems < 0 || c.RecentProblems > MaxRecentProblems {
		errs = append(errs, fmt.Errorf("recent_problems must be between 0 and %d, got %d", MaxRecentProblems, c.RecentProblems))
	}
	if c.MaxNameBytes < 16 {
		errs = append(errs, fmt.Errorf("max_name_bytes must be at least 16, got %d", c.MaxNameBytes))
	}
	if _, err := c.naming(); err != nil {
		errs = append(errs, err)
	}
	if _, err := newSpanFilter(c.FilterPolicies); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// naming makes the tracedecode.Naming of the attribute lists.
func (c Config) naming() (*tracedecode.Naming, error) {
	n, err := tracedecode.NewNaming(c.DatabaseNameAttributes, c.PeerAttributes, c.CallerAttributes)
	if slices.Contains(tracedecode.NamingAttributes(), c.SpanMultiplierKey) {
		err = errors.Join(err, fmt.Errorf("span_multiplier_key must not be a naming attribute, got %q", c.SpanMultiplierKey))
	}
	if err != nil {
		return nil, err
	}
	return n.WithSpanMultiplier(c.SpanMultiplierKey), nil
}

// Settings are what the code supplies; nil means the default.
type Settings struct {
	Logger *slog.Logger
	Now    func() time.Time // the clock; time.Now if nil
}

func perShard(total, shards int) int { return (total + shards - 1) / shards }

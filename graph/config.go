package graph

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config bounds the graph and its history.
type Config struct {
	// MaxNodes caps distinct node names (services, databases, peers). Names
	// past the cap are counted on the OverflowNode, never as new series.
	MaxNodes int `yaml:"max_nodes"`
	// MaxEdges caps distinct edges; observations of new edges past it are
	// dropped and counted.
	MaxEdges int `yaml:"max_edges"`
	// MaxNameBytes truncates longer node names (after UTF-8 sanitising).
	MaxNameBytes int `yaml:"max_name_bytes"`
	// BucketWidth is the resolution of the per-edge history.
	BucketWidth time.Duration `yaml:"bucket_width"`
	// Retention is how long history buckets are kept.
	Retention time.Duration `yaml:"retention"`
	// MaxHistoryBytes caps the memory of all edges' history together; past
	// it the oldest buckets of every edge are dropped first, counted in
	// Stats.HistoryEvicted. It must leave room for two chunks per edge
	// (MinHistoryBytesPerEdge × MaxEdges).
	MaxHistoryBytes int64 `yaml:"max_history_bytes"`
	// LatencyBuckets are the upper bounds, in seconds, of the latency and
	// async-delay histograms (Grafana Tempo's defaults).
	LatencyBuckets []float64 `yaml:"latency_buckets"`
	// NativeHistograms keeps, beside the classic buckets, a native
	// (exponential) histogram of every duration and delay (native.go).
	NativeHistograms bool `yaml:"native_histograms"`
	// NativeMaxBuckets bounds the buckets of each native histogram; past
	// it the histogram halves its resolution.
	NativeMaxBuckets int `yaml:"native_max_buckets"`
	// Dimensions are span or resource attributes whose values become the
	// labels client_<attr> and server_<attr> of the edge series (dims.go;
	// at most MaxDimensions). None: no sub-series, no cost.
	Dimensions []string `yaml:"dimensions"`
	// MaxDimensionValues caps the distinct values of each dimension, and
	// the sub-series of each edge; past it values and sub-series fold into
	// OverflowNode (counted).
	MaxDimensionValues int `yaml:"max_dimension_values"`
	// MaxDimensionSeries caps the sub-series of all edges together (about
	// 1.3 KB each); past it an occurrence of a new combination counts in
	// its edge's all-OverflowNode sub-series (counted).
	MaxDimensionSeries int `yaml:"max_dimension_series"`
}

// NewDefaultConfig returns the defaults.
func NewDefaultConfig() Config {
	return Config{
		MaxNodes:        10000,
		MaxEdges:        100000,
		MaxNameBytes:    256,
		BucketWidth:     time.Minute,
		Retention:       24 * time.Hour,
		MaxHistoryBytes: 512 << 20,
		LatencyBuckets:  []float64{0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8},

		NativeMaxBuckets: DefaultNativeMaxBuckets,

		MaxDimensionValues: 100,
		MaxDimensionSeries: 100_000,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxNodes < 2 {
		errs = append(errs, fmt.Errorf("max_nodes must be at least 2, got %d", c.MaxNodes))
	}
	if c.MaxEdges < 1 {
		errs = append(errs, fmt.Errorf("max_edges must be positive, got %d", c.MaxEdges))
	}
	if c.NativeHistograms && (c.NativeMaxBuckets < 2 || c.NativeMaxBuckets > 10000) {
		errs = append(errs, fmt.Errorf("native_max_buckets must be from 2 to 10000, got %d", c.NativeMaxBuckets))
	}
	if c.MaxNameBytes < 16 {
		errs = append(errs, fmt.Errorf("max_name_bytes must be at least 16, got %d", c.MaxNameBytes))
	}
	if c.BucketWidth < time.Second {
		errs = append(errs, fmt.Errorf("bucket_width must be at least 1s, got %s", c.BucketWidth))
	}
	if c.Retention < c.BucketWidth {
		errs = append(errs, fmt.Errorf("retention (%s) must be at least bucket_width (%s)", c.Retention, c.BucketWidth))
	} else if c.BucketWidth > 0 && c.Retention/c.BucketWidth > 1<<20 {
		errs = append(errs, fmt.Errorf("retention/bucket_width is %d buckets, above the limit of %d", c.Retention/c.BucketWidth, 1<<20))
	}
	if least := MinHistoryBytesPerEdge * int64(max(c.MaxEdges, 1)); c.MaxHistoryBytes < least {
		errs = append(errs, fmt.Errorf("max_history_bytes must be at least %d B per edge of max_edges (%d), got %d", MinHistoryBytesPerEdge, least, c.MaxHistoryBytes))
	}
	if len(c.LatencyBuckets) == 0 {
		errs = append(errs, errors.New("latency_buckets must not be empty"))
	} else if len(c.LatencyBuckets) > MaxLatencyBounds {
		errs = append(errs, fmt.Errorf("latency_buckets holds at most %d bounds, got %d", MaxLatencyBounds, len(c.LatencyBuckets)))
	}
	for i, b := range c.LatencyBuckets {
		if b <= 0 || (i > 0 && b <= c.LatencyBuckets[i-1]) {
			errs = append(errs, fmt.Errorf("latency_buckets must be positive and strictly increasing (at index %d: %g)", i, b))
			break
		}
	}
	errs = append(errs, validateDimensions(c.Dimensions, c.MaxDimensionValues, c.MaxDimensionSeries)...)
	return errors.Join(errs...)
}

// MinHistoryBytesPerEdge is the least Config.MaxHistoryBytes per edge of
// Config.MaxEdges: two history chunks of 8 buckets and their pointers, so
// that dropping old history can always bring memory back under the cap.
const MinHistoryBytesPerEdge = 2 * (chunkBytes + ptrBytes)

// Settings are what the code supplies; nil means the default.
type Settings struct {
	Logger *slog.Logger
	Now    func() time.Time // the clock; time.Now if nil
}

package render

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config bounds what the renderer accepts and keeps.
type Config struct {
	// MaxNodes refuses views with more nodes, before any layout (ErrTooLarge).
	MaxNodes int `yaml:"max_nodes"`
	// MaxEdges refuses views with more edges, before any layout (ErrTooLarge).
	MaxEdges int `yaml:"max_edges"`
	// Timeout bounds one layout; past it the worker is killed (ErrTimeout).
	Timeout time.Duration `yaml:"timeout"`
	// CacheEntries is how many rendered pictures are kept, by key; 0 turns
	// the cache off.
	CacheEntries int `yaml:"cache_entries"`
	// CacheBytes bounds the cached pictures' total size; 0 turns the cache
	// off.
	CacheBytes int64 `yaml:"cache_bytes"`
	// InProcess lays out inside this process (one at a time, under a global
	// lock) instead of in a child process. A timed-out layout then cannot be
	// stopped: it runs to its end in the background and holds the lock, and
	// Graphviz's WASM memory stays at its high-water mark. Meant for the
	// offline CLI; servers keep the default, false.
	InProcess bool `yaml:"in_process"`
	// Workers is how many child processes may lay out at once (ignored when
	// InProcess). More callers wait, within their deadline.
	Workers int `yaml:"workers"`
	// MaxPNGPixels bounds a zoomed PNG (picture.Options.Scale): a picture
	// that would pass it is zoomed less, so that it fits, but never below
	// scale 1. Drawing time and the worker's memory (4 bytes a pixel, and
	// more) grow with the pixels.
	MaxPNGPixels int64 `yaml:"max_png_pixels"`
}

// Defaults. DefaultMaxNodes lets the page draw 300 services with their
// databases, queues and user (316 nodes, 729 edges in BenchmarkRender) with
// room to spare: 500 services (526 nodes, 1,200 edges) lay out in ~2.5 s on
// a busy 2-core VM, a quarter of DefaultTimeout.
const (
	DefaultMaxNodes     = 500
	DefaultMaxEdges     = 1500
	DefaultTimeout      = 10 * time.Second
	DefaultCacheEntries = 64
	DefaultCacheBytes   = 64 << 20
	DefaultWorkers      = 2
	// DefaultMaxPNGPixels is chosen by measurement (README, Rendering):
	// about 70 services are drawn at scale 2, 100 services (5.6
	// megapixels at scale 1) at 1.69, and 300 services (18.1 megapixels)
	// stay at scale 1, whose drawing already takes ~8.5 s of CPU on a busy
	// 2-core VM, near DefaultTimeout; at scale 2 they took ~17 s and 700
	// MB in the worker.
	DefaultMaxPNGPixels = 16_000_000
)

// NewDefaultConfig returns the defaults: 500 nodes, 1,500 edges, 10 s, 64
// cached pictures within 64 MiB, two child-process workers, PNGs of 16
// megapixels at most when zoomed.
func NewDefaultConfig() Config {
	return Config{
		MaxNodes:     DefaultMaxNodes,
		MaxEdges:     DefaultMaxEdges,
		Timeout:      DefaultTimeout,
		CacheEntries: DefaultCacheEntries,
		CacheBytes:   DefaultCacheBytes,
		Workers:      DefaultWorkers,
		MaxPNGPixels: DefaultMaxPNGPixels,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxNodes < 1 {
		errs = append(errs, fmt.Errorf("max_nodes must be positive, got %d", c.MaxNodes))
	}
	if c.MaxEdges < 1 {
		errs = append(errs, fmt.Errorf("max_edges must be positive, got %d", c.MaxEdges))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %s", c.Timeout))
	}
	if c.CacheEntries < 0 {
		errs = append(errs, fmt.Errorf("cache_entries must not be negative, got %d", c.CacheEntries))
	}
	if c.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("cache_bytes must not be negative, got %d", c.CacheBytes))
	}
	if c.MaxPNGPixels < 1 {
		errs = append(errs, fmt.Errorf("max_png_pixels must be positive, got %d", c.MaxPNGPixels))
	}
	if !c.InProcess && (c.Workers < 1 || c.Workers > 64) {
		errs = append(errs, fmt.Errorf("workers must be between 1 and 64, got %d", c.Workers))
	}
	return errors.Join(errs...)
}

// Settings are what the code supplies; nil means the default.
type Settings struct {
	// Logger receives start, stop and worker failures; nil discards.
	Logger *slog.Logger
	// Registerer receives the renderer's metrics; if nil they are kept on a
	// private registry (never the global one).
	Registerer prometheus.Registerer
}

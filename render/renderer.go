package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/logging"
	"github.com/servicegraph/servicegraph/render/picture"
)

// ErrClosed: Render was called on, or interrupted by, Close.
var ErrClosed = errors.New("renderer closed")

// Renderer draws views as DOT, SVG or PNG, with a cache, shared concurrent
// renders, size bounds and a real deadline. Safe for concurrent use.
type Renderer struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	cache   *cache
	flight  singleflight.Group
	engine  engine

	base context.Context // parent of every layout; cancelled by Close
	stop context.CancelFunc

	mu     sync.Mutex     // guards closed and the Add side of wg
	closed bool           // set by Close
	wg     sync.WaitGroup // running layouts

	// joined, when set (tests), is called after a caller has joined a
	// render flight.
	joined func()
}

// New returns a Renderer. In child-process mode (the default) the current
// executable must call WorkerMain first (see WorkerArg).
func New(cfg Config, set Settings) (*Renderer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	set.Logger = logging.OrDiscard(set.Logger)
	if set.Registerer == nil {
		set.Registerer = prometheus.NewRegistry()
	}
	r := &Renderer{cfg: cfg, log: set.Logger, cache: newCache(cfg.CacheEntries, cfg.CacheBytes)}
	var err error
	if r.metrics, err = newMetrics(set.Registerer, r.cache.size); err != nil {
		return nil, fmt.Errorf("render metrics: %w", err)
	}
	mode := "child-process"
	if cfg.InProcess {
		mode = "in-process"
		r.engine = &inProcess{}
	} else if r.engine, err = newChildProcess(cfg.Workers); err != nil {
		return nil, err
	}
	r.base, r.stop = context.WithCancel(context.Background())
	r.log.Info("renderer ready", "mode", mode, "max_nodes", cfg.MaxNodes, "max_edges", cfg.MaxEdges,
		"timeout", cfg.Timeout, "cache_entries", cfg.CacheEntries, "workers", cfg.Workers)
	return r, nil
}

// Render returns the picture of v in format f. The returned bytes may be
// shared with other callers and the cache: do not modify them.
//
// key identifies the picture's input (the API's: view topology, window and
// filters); Render adds f and o to it. Equal keys return the cached bytes, and concurrent calls
// with the same key share one render. Views above Config.MaxNodes or
// MaxEdges fail with picture.ErrTooLarge before any layout. A layout not done by
// Config.Timeout is killed (picture.ErrTimeout); a caller whose ctx ends
// first gets picture.ErrTimeout (deadline) or ctx's error (cancelled) at once, while the shared
// render goes on, within Config.Timeout, for the others and the cache.
func (r *Renderer) Render(ctx context.Context, key string, v *graph.View, f picture.Format, o picture.Options) ([]byte, error) {
	out, result, err := r.render(ctx, key, v, f, o)
	label := f
	if !f.Valid() {
		label = "invalid" // never the caller's string: label values stay bounded
	}
	r.metrics.count(label, result)
	return out, err
}

func (r *Renderer) render(ctx context.Context, key string, v *graph.View, f picture.Format, o picture.Options) ([]byte, string, error) {
	if !f.Valid() {
		_, err := picture.ParseFormat(string(f))
		return nil, resultError, fmt.Errorf("render: %w", err)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, resultError, ErrClosed
	}
	if v == nil {
		return nil, resultError, errors.New("render: nil view")
	}
	if err := o.Validate(); err != nil {
		return nil, resultError, fmt.Errorf("render options: %w", err)
	}
	o = o.Normalized()
	if f != picture.PNG {
		o.Scale = 1 // resolution means nothing to DOT and SVG
	}
	if n, e := len(v.Nodes), len(v.Edges); n > r.cfg.MaxNodes || e > r.cfg.MaxEdges {
		return nil, resultTooLarge, fmt.Errorf("%w: %d nodes and %d edges, the limits are %d nodes and %d edges",
			picture.ErrTooLarge, n, e, r.cfg.MaxNodes, r.cfg.MaxEdges)
	}
	ck := cacheKey(key, f, o)
	if out, ok := r.cache.get(ck); ok {
		return out, resultCached, nil
	}
	var dot bytes.Buffer
	if err := picture.WriteDOT(&dot, v, o); err != nil {
		return nil, resultError, fmt.Errorf("render: %w", err)
	}
	ch := r.flight.DoChan(ck, func() (any, error) { return r.produce(ck, dot.Bytes(), f, o.Scale, len(v.Nodes), len(v.Edges)) })
	if r.joined != nil {
		r.joined()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			if errors.Is(res.Err, picture.ErrTimeout) {
				return nil, resultTimeout, res.Err
			}
			return nil, resultError, res.Err
		}
		return res.Val.([]byte), resultOK, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, resultTimeout, fmt.Errorf("%w: the caller's deadline passed (%d nodes, %d edges)",
				picture.ErrTimeout, len(v.Nodes), len(v.Edges))
		}
		return nil, resultError, fmt.Errorf("render: %w", ctx.Err())
	}
}

// produce runs one render for a flight: within Config.Timeout, on the base
// context, so that it outlives an impatient leader for the others.
func (r *Renderer) produce(ck string, dot []byte, f picture.Format, scale float64, nodes, edges int) ([]byte, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()

	start := time.Now()
	out, err := dot, error(nil)
	if f != picture.DOT {
		ctx, cancel := context.WithTimeout(r.base, r.cfg.Timeout)
		out, err = r.engine.layout(ctx, dot, f, zoom{scale: scale, maxPixels: r.cfg.MaxPNGPixels})
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			err = fmt.Errorf("%w: not done after %s (%d nodes, %d edges)", picture.ErrTimeout, r.cfg.Timeout, nodes, edges)
		case r.base.Err() != nil:
			err = ErrClosed
		default:
			r.log.Warn("render failed", "format", string(f), "nodes", nodes, "edges", edges, "err", err)
		}
	}
	r.metrics.seconds.WithLabelValues(string(f)).Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	r.cache.add(ck, out)
	return out, nil
}

// cacheKey adds the format and the normalised options to the caller's key,
// unambiguously: the title is length-prefixed and the key comes last.
func cacheKey(key string, f picture.Format, o picture.Options) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%g\x00%d:%s\x00%s", f, o.RankDir, o.Label, o.Scale, len(o.Title), o.Title, key)
}

// Close stops the workers (running child processes are killed), waits for
// running renders, and frees the in-process graphviz instance. An in-process
// layout cannot be interrupted: Close waits for it to end. Later Render calls
// fail with ErrClosed. Safe to call twice.
func (r *Renderer) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.stop()
	r.wg.Wait()
	err := r.engine.close()
	r.log.Info("renderer stopped")
	return err
}

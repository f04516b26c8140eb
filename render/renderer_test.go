package render_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
)

// newTestRenderer returns a renderer with its own registry.
func newTestRenderer(t *testing.T, cfg render.Config) (*render.Renderer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := render.New(cfg, render.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r, reg
}

// metric returns the value of a counter, or the sample count of a histogram,
// with the given labels.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch mf.GetType() {
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			default:
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func renders(t *testing.T, reg *prometheus.Registry, f picture.Format, result string) float64 {
	return metric(t, reg, "servicegraph_render_total", map[string]string{"format": string(f), "result": result})
}

func layouts(t *testing.T, reg *prometheus.Registry, f picture.Format) float64 {
	return metric(t, reg, "servicegraph_render_seconds", map[string]string{"format": string(f)})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*render.Config)
		wantErr []string
	}{
		{"defaults", func(*render.Config) {}, nil},
		{"in process ignores workers", func(c *render.Config) { c.InProcess, c.Workers = true, 0 }, nil},
		{"cache off", func(c *render.Config) { c.CacheEntries = 0 }, nil},
		{"everything wrong", func(c *render.Config) {
			*c = render.Config{MaxNodes: 0, MaxEdges: -1, Timeout: 0, CacheEntries: -1, CacheBytes: -1, Workers: 0, MaxPNGPixels: 0}
		}, []string{"max_nodes", "max_edges", "timeout", "cache_entries", "cache_bytes", "workers", "max_png_pixels"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := render.NewDefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("Validate() = %v", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
	if _, err := render.New(render.Config{}, render.Settings{}); err == nil {
		t.Error("New accepted the zero Config")
	}
}

func TestDefaults(t *testing.T) {
	c := render.NewDefaultConfig()
	if c.MaxNodes != 500 || c.MaxEdges != 1500 || c.Timeout != 10*time.Second || c.CacheEntries != 64 || c.InProcess {
		t.Errorf("defaults = %+v", c)
	}
}

// TestDefaultCapsDraw300Services: the default caps let the page draw 300
// services with their databases and user (issue 16); 500 services are
// refused before any layout.
func TestDefaultCapsDraw300Services(t *testing.T) {
	r, _ := newTestRenderer(t, render.NewDefaultConfig())
	render.SetLayoutForTest(r, func(context.Context, []byte, picture.Format) ([]byte, error) { return []byte("<svg/>"), nil })
	v := layeredView(300)
	if len(v.Nodes) != 316 || len(v.Edges) != 729 {
		t.Fatalf("300 services: %d nodes, %d edges, want 316 and 729", len(v.Nodes), len(v.Edges))
	}
	if _, err := r.Render(t.Context(), "300", v, picture.SVG, picture.Options{}); err != nil {
		t.Errorf("300 services: %v", err)
	}
	_, err := r.Render(t.Context(), "500", layeredView(500), picture.SVG, picture.Options{})
	if want := "graph too large to draw: 526 nodes and 1200 edges, the limits are 500 nodes and 1500 edges"; err == nil || err.Error() != want {
		t.Errorf("500 services: %v, want %s", err, want)
	}
}

func TestTooLargeBeforeLayout(t *testing.T) {
	tests := []struct {
		name               string
		maxNodes, maxEdges int
		want               string
	}{
		{"nodes", 3, 100, "graph too large to draw: 9 nodes and 9 edges, the limits are 3 nodes and 100 edges"},
		{"edges", 100, 3, "graph too large to draw: 9 nodes and 9 edges, the limits are 100 nodes and 3 edges"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := render.NewDefaultConfig()
			cfg.MaxNodes, cfg.MaxEdges = tc.maxNodes, tc.maxEdges
			r, reg := newTestRenderer(t, cfg)
			var calls atomic.Int32
			render.SetLayoutForTest(r, func(context.Context, []byte, picture.Format) ([]byte, error) {
				calls.Add(1)
				return []byte("<svg/>"), nil
			})
			_, err := r.Render(t.Context(), "k", picturetest.KindsView(), picture.SVG, picture.Options{})
			if !errors.Is(err, picture.ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if err.Error() != tc.want { // no hint: the caller adds one in its syntax
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if calls.Load() != 0 {
				t.Errorf("layout ran %d times", calls.Load())
			}
			if got := renders(t, reg, picture.SVG, "too_large"); got != 1 {
				t.Errorf("too_large = %v, want 1", got)
			}
		})
	}
}

// TestTimeoutChildProcess kills a worker laying out a graph that would take
// minutes.
func TestTimeoutChildProcess(t *testing.T) {
	big := picturetest.BigView(300, 1500)
	tests := []struct {
		name       string
		cfgTimeout time.Duration
		ctxTimeout time.Duration
		want       string
	}{
		{"config timeout", 150 * time.Millisecond, time.Minute, "drawing took too long: not done after 150ms (300 nodes, 1500 edges)"},
		{"caller deadline", time.Minute, 150 * time.Millisecond, "drawing took too long: the caller's deadline passed (300 nodes, 1500 edges)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := render.NewDefaultConfig()
			cfg.Timeout = tc.cfgTimeout
			r, reg := newTestRenderer(t, cfg)
			ctx, cancel := context.WithTimeout(t.Context(), tc.ctxTimeout)
			defer cancel()
			start := time.Now()
			_, err := r.Render(ctx, "big", big, picture.SVG, picture.Options{})
			if !errors.Is(err, picture.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Render returned after %s", d)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if got := renders(t, reg, picture.SVG, "timeout"); got != 1 {
				t.Errorf("timeout = %v, want 1", got)
			}
			start = time.Now()
			if err := r.Close(); err != nil { // kills the worker still running
				t.Fatal(err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Close took %s", d)
			}
		})
	}
}

func TestCacheHit(t *testing.T) {
	r, reg := newTestRenderer(t, render.NewDefaultConfig()) // child process
	v := picturetest.KindsView()
	first, err := r.Render(t.Context(), "v1/q", v, picture.SVG, picture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Render(t.Context(), "v1/q", v, picture.SVG, picture.Options{RankDir: "LR", Label: "count"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) || &first[0] != &second[0] {
		t.Error("cache hit did not return the cached bytes")
	}
	if ok, cached, n := renders(t, reg, picture.SVG, "ok"), renders(t, reg, picture.SVG, "cached"), layouts(t, reg, picture.SVG); ok != 1 || cached != 1 || n != 1 {
		t.Errorf("ok=%v cached=%v layouts=%v, want 1 1 1", ok, cached, n)
	}
	var want strings.Builder
	want.WriteString("# HELP servicegraph_render_total Render calls by format and result (ok, cached, too_large, timeout, error).\n# TYPE servicegraph_render_total counter\n")
	for _, f := range picture.Formats {
		for _, res := range []string{"cached", "error", "ok", "timeout", "too_large"} {
			n := 0
			if f == picture.SVG && (res == "ok" || res == "cached") {
				n = 1
			}
			fmt.Fprintf(&want, "servicegraph_render_total{format=%q,result=%q} %d\n", f, res, n)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "servicegraph_render_total"); err != nil {
		t.Error(err)
	}
	// Other options or another format are other pictures.
	if _, err := r.Render(t.Context(), "v1/q", v, picture.SVG, picture.Options{RankDir: "TB"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Render(t.Context(), "v1/q", v, picture.DOT, picture.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := layouts(t, reg, picture.SVG); n != 2 {
		t.Errorf("layouts = %v after a new rankdir, want 2", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if got := testutil.CollectAndCount(prometheus.Collector(reg), "servicegraph_render_cache_bytes"); got != 1 {
		t.Errorf("cache_bytes series = %d", got)
	}
}

// TestConcurrentRendersShareOne holds the layout until every caller has
// joined the flight, then checks that one layout served them all.
func TestConcurrentRendersShareOne(t *testing.T) {
	const callers = 8
	cfg := render.NewDefaultConfig()
	cfg.CacheEntries = 0 // sharing must not depend on the cache
	r, reg := newTestRenderer(t, cfg)
	var calls, joined atomic.Int32
	release := make(chan struct{})
	render.SetJoinedHookForTest(r, func() {
		if joined.Add(1) == callers {
			close(release)
		}
	})
	render.SetLayoutForTest(r, func(ctx context.Context, dot []byte, f picture.Format) ([]byte, error) {
		calls.Add(1)
		<-release
		return append([]byte("<svg>"), dot[:10]...), nil
	})
	var wg sync.WaitGroup
	outs := make([][]byte, callers)
	for i := range callers {
		wg.Go(func() {
			out, err := r.Render(t.Context(), "same", picturetest.KindsView(), picture.SVG, picture.Options{})
			if err != nil {
				t.Error(err)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("%d layouts for %d concurrent callers, want 1", calls.Load(), callers)
	}
	for i := range outs {
		if !bytes.Equal(outs[i], outs[0]) {
			t.Errorf("caller %d got other bytes", i)
		}
	}
	if ok := renders(t, reg, picture.SVG, "ok"); ok != callers {
		t.Errorf("ok = %v, want %d", ok, callers)
	}
}

// TestInProcessTimeout: a layout that outlives its deadline answers
// ErrTimeout at once, and Close waits for it.
func TestInProcessTimeout(t *testing.T) {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true
	cfg.Timeout = 50 * time.Millisecond
	r, reg := newTestRenderer(t, cfg)
	release := make(chan struct{})
	render.SetLayoutForTest(r, func(ctx context.Context, _ []byte, _ picture.Format) ([]byte, error) {
		<-ctx.Done() // as the in-process engine does: give up waiting at the deadline
		close(release)
		return nil, ctx.Err()
	})
	_, err := r.Render(t.Context(), "k", picturetest.KindsView(), picture.PNG, picture.Options{})
	if !errors.Is(err, picture.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	<-release
	if got := renders(t, reg, picture.PNG, "timeout"); got != 1 {
		t.Errorf("timeout = %v, want 1", got)
	}
}

func TestRenderErrors(t *testing.T) {
	r, reg := newTestRenderer(t, render.NewDefaultConfig())
	if _, err := r.Render(t.Context(), "k", picturetest.KindsView(), picture.SVG, picture.Options{RankDir: "sideways"}); err == nil {
		t.Error("bad rankdir accepted")
	}
	if _, err := r.Render(t.Context(), "k", picturetest.KindsView(), picture.Format("pdf"), picture.Options{}); err == nil {
		t.Error("format pdf accepted")
	}
	if _, err := r.Render(t.Context(), "k", nil, picture.SVG, picture.Options{}); err == nil {
		t.Error("nil view accepted")
	}
	if got := renders(t, reg, picture.SVG, "error"); got != 2 {
		t.Errorf("svg errors = %v, want 2", got)
	}
	if got := renders(t, reg, "invalid", "error"); got != 1 {
		t.Errorf("invalid-format errors = %v, want 1", got)
	}
	dot, err := r.Render(t.Context(), "k", picturetest.KindsView(), picture.DOT, picture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := picture.WriteDOT(&want, picturetest.KindsView(), picture.Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dot, want.Bytes()) {
		t.Error("Render(DOT) differs from WriteDOT")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Render(t.Context(), "k2", picturetest.KindsView(), picture.SVG, picture.Options{}); !errors.Is(err, render.ErrClosed) {
		t.Errorf("Render after Close: %v, want ErrClosed", err)
	}
}

func TestDuplicateRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	set := render.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: reg}
	r, err := render.New(render.NewDefaultConfig(), set)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := render.New(render.NewDefaultConfig(), set); err == nil {
		t.Error("second renderer on one registry: no error")
	}
}

func TestRunWorker(t *testing.T) {
	var dot bytes.Buffer
	if err := picture.WriteDOT(&dot, picturetest.KindsView(), picture.Options{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := render.RunWorker(bytes.NewReader(dot.Bytes()), &out, "svg", "1", "1"); err != nil {
		t.Fatal(err)
	}
	parseSVG(t, out.Bytes())
	for _, tc := range []struct{ name, in, format string }{
		{"dot format", dot.String(), "dot"},
		{"unknown format", dot.String(), "gif"},
		{"bad dot", "digraph { a -> ", "svg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := render.RunWorker(strings.NewReader(tc.in), &bytes.Buffer{}, tc.format, "1", "1"); err == nil {
				t.Error("no error")
			}
		})
	}
}

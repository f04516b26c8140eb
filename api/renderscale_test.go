package api_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
)

// optionsRenderer records the options of its last call and answers a fake
// PNG.
type optionsRenderer struct {
	mu   sync.Mutex
	last picture.Options
}

func (r *optionsRenderer) Render(_ context.Context, _ string, _ *graph.View, _ picture.Format, o picture.Options) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = o
	return []byte("\x89PNG\r\n\x1a\nfake"), nil
}

func (r *optionsRenderer) take() picture.Options {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.last
	r.last = picture.Options{}
	return o
}

// TestRenderScale: /graph.png passes scale to the renderer (default 2,
// 1 to 4, fractions allowed), for the view and for a diff; a bad value is
// a 400 naming the parameter.
func TestRenderScale(t *testing.T) {
	st, c := diffFixture(t)
	r := &optionsRenderer{}
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: r}, nil)
	h := s.Handler()
	diff := "from=" + unix(t0.Add(-time.Minute)) + "&to=" + unix(t0) + "&baseline_to=" + unix(t0.Add(-time.Minute))
	for _, tc := range []struct {
		target string
		scale  float64
		diff   bool
	}{
		{"/graph.png", 2, false},
		{"/graph.png?scale=", 2, false},
		{"/graph.png?scale=1", 1, false},
		{"/graph.png?scale=4", 4, false},
		{"/graph.png?scale=1.5&rankdir=TB", 1.5, false},
		{"/graph.svg?scale=3", 3, false}, // passed on; the renderer ignores it for SVG
		{"/graph.png?" + diff, 2, true},
		{"/graph.png?scale=3&" + diff, 3, true},
	} {
		rec := get(h, tc.target)
		o := r.take()
		if rec.Code != http.StatusOK || o.Scale != tc.scale || (o.Diff != nil) != tc.diff {
			t.Errorf("GET %s: %d %s, scale %g diff %t; want 200, scale %g diff %t", tc.target, rec.Code, rec.Body, o.Scale, o.Diff != nil, tc.scale, tc.diff)
		}
	}
	for _, tc := range []struct{ target, body string }{
		{"/graph.png?scale=0", `{"error":"scale must be a number from 1 to 4, got \"0\"","parameter":"scale"}`},
		{"/graph.png?scale=5", `{"error":"scale must be a number from 1 to 4, got \"5\"","parameter":"scale"}`},
		{"/graph.png?scale=0.99", `{"error":"scale must be a number from 1 to 4, got \"0.99\"","parameter":"scale"}`},
		{"/graph.png?scale=NaN", `{"error":"scale must be a number from 1 to 4, got \"NaN\"","parameter":"scale"}`},
		{"/graph.png?scale=Inf", `{"error":"scale must be a number from 1 to 4, got \"Inf\"","parameter":"scale"}`},
		{"/graph.png?scale=2x", `{"error":"scale must be a number from 1 to 4, got \"2x\"","parameter":"scale"}`},
		{"/graph.dot?scale=-1", `{"error":"scale must be a number from 1 to 4, got \"-1\"","parameter":"scale"}`},
		{"/graph.png?scale=9&" + diff, `{"error":"scale must be a number from 1 to 4, got \"9\"","parameter":"scale"}`},
	} {
		rec := get(h, tc.target)
		if got := string(bytes.TrimSpace(rec.Body.Bytes())); rec.Code != http.StatusBadRequest || got != tc.body {
			t.Errorf("GET %s: %d %s, want 400 %s", tc.target, rec.Code, got, tc.body)
		}
	}
}

// TestRenderScaleDrawn: over a real socket with the real renderer, the
// default /graph.png is twice the size of scale=1 (±2 pixels; the
// renderer's cache keeps the two apart).
func TestRenderScaleDrawn(t *testing.T) {
	st, c := fixture(t)
	rr := newRealRenderer(t, prometheus.NewRegistry(), func(cfg *render.Config) { cfg.Timeout = time.Minute })
	s, _ := newServer(t, c, api.Sources{Graph: st, Renderer: rr}, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	size := func(query string) (int, int) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/graph.png" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /graph.png%s: %d %s %v", query, resp.StatusCode, body, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Width, cfg.Height
	}
	w1, h1 := size("?scale=1")
	w2, h2 := size("")
	if !near(w2, 2*w1, 2) || !near(h2, 2*h1, 2) {
		t.Errorf("scale 1: %dx%d, default: %dx%d", w1, h1, w2, h2)
	}
}

func near(got, want, tol int) bool { return got >= want-tol && got <= want+tol }

package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
)

// labelled is the value of name's series whose labels include want.
func labelled(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

// reads is servicegraph_read_cache_requests_total{handler, result}.
func reads(t *testing.T, reg *prometheus.Registry, handler, result string) float64 {
	t.Helper()
	return labelled(t, reg, "servicegraph_read_cache_requests_total", map[string]string{"handler": handler, "result": result})
}

// countingMetrics is a /metrics handler that counts its encodings, each
// answering "encoding N\n" and then bytes of a generator seeded with N
// (so that two encodings never look alike, and gzip cannot shrink them);
// gate, when not nil, holds each encoding until it is closed.
type countingMetrics struct {
	n    atomic.Int64
	gate chan struct{}
	size int // body bytes
}

func (m *countingMetrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	n := m.n.Add(1)
	if m.gate != nil {
		<-m.gate
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	b := fmt.Appendf(nil, "encoding %d\n", n)
	rng := rand.New(rand.NewPCG(uint64(n), 0))
	for len(b) < m.size {
		b = binary.LittleEndian.AppendUint64(b, rng.Uint64())
	}
	_, _ = w.Write(b[:max(m.size, bytes.IndexByte(b, '\n')+1)])
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func getGzip(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(rec, r)
	return rec
}

// TestReadCacheSharesEncodings: eight concurrent scrapes while the first
// encodes make one encoding, which all eight get byte for byte; later
// scrapes within --read-max-staleness (the bound included) make none;
// one just past it makes the second. Identity and gzip are kept apart.
func TestReadCacheSharesEncodings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, c := fixture(t)
		m := &countingMetrics{gate: make(chan struct{}), size: 10 << 10}
		s, reg := newServer(t, c, api.Sources{Graph: st, Metrics: m}, nil)
		h := s.Handler()

		const n = 8
		recs := make([]*httptest.ResponseRecorder, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { recs[i] = getGzip(h, "/metrics") })
		}
		synctest.Wait() // one encodes (held at the gate), seven wait for it
		if got := m.n.Load(); got != 1 {
			t.Fatalf("encodings while %d scrapes wait = %d, want 1", n, got)
		}
		close(m.gate)
		wg.Wait()
		for i, rec := range recs {
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
				t.Fatalf("scrape %d: %d, Content-Encoding %q", i, rec.Code, rec.Header().Get("Content-Encoding"))
			}
			if !bytes.Equal(rec.Body.Bytes(), recs[0].Body.Bytes()) {
				t.Fatalf("scrape %d's body differs from scrape 0's", i)
			}
			if cl := rec.Header().Get("Content-Length"); cl != fmt.Sprint(rec.Body.Len()) {
				t.Fatalf("scrape %d: Content-Length %s for %d bytes", i, cl, rec.Body.Len())
			}
		}
		if got := string(gunzip(t, recs[0].Body.Bytes())); !strings.HasPrefix(got, "encoding 1\n") || len(got) < 10<<10-20 {
			t.Fatalf("body = %.40q… (%d bytes), want encoding 1's", got, len(got))
		}
		if miss, shared := reads(t, reg, "metrics", "miss"), reads(t, reg, "metrics", "shared"); miss != 1 || shared != n-1 {
			t.Fatalf("miss, shared = %v, %v; want 1, %d", miss, shared, n-1)
		}

		// Sequential scrapes: within the bound (1s, included) the kept
		// answer; past it, a new encoding.
		for _, after := range []time.Duration{0, 500 * time.Millisecond, time.Second} {
			c.Set(t0.Add(after))
			if rec := getGzip(h, "/metrics"); !bytes.Equal(rec.Body.Bytes(), recs[0].Body.Bytes()) {
				t.Fatalf("scrape %s later: not the kept answer", after)
			}
		}
		if got, hits := m.n.Load(), reads(t, reg, "metrics", "hit"); got != 1 || hits != 3 {
			t.Fatalf("after 3 scrapes within 1s: encodings %d, hits %v; want 1, 3", got, hits)
		}
		c.Set(t0.Add(time.Second + time.Nanosecond))
		rec := getGzip(h, "/metrics")
		if got := m.n.Load(); got != 2 {
			t.Fatalf("encodings after a scrape past 1s = %d, want 2", got)
		}
		if got := string(gunzip(t, rec.Body.Bytes())); !strings.HasPrefix(got, "encoding 2\n") {
			t.Fatalf("scrape past 1s = %.20q…, want encoding 2's", got)
		}
		// An identity scrape (28x the gzipped one at scale) is streamed,
		// never kept: each its own encoding.
		for i := range int64(2) {
			plain := get(h, "/metrics")
			if got := m.n.Load(); got != 3+i || plain.Header().Get("Content-Encoding") != "" || !strings.HasPrefix(plain.Body.String(), fmt.Sprintf("encoding %d\n", 3+i)) {
				t.Fatalf("identity scrape %d: encodings %d, Content-Encoding %q, body %.20q…", i, got, plain.Header().Get("Content-Encoding"), plain.Body.String())
			}
		}
		if bypass := reads(t, reg, "metrics", "bypass"); bypass != 2 {
			t.Fatalf("bypass = %v, want 2", bypass)
		}
	})
}

// TestReadCacheRowsFreshness follows /api/graph/data through the
// staleness bound: the answer is byte for byte the uncached one (identity
// and gzip); an edge observed after an answer was encoded shows on the
// first read past the bound; an unchanged graph is served again past the
// bound without encoding (revalidated).
func TestReadCacheRowsFreshness(t *testing.T) {
	st, c := fixture(t)
	s, reg := newServer(t, c, api.Sources{Graph: st}, nil)
	h := s.Handler()
	fresh, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.ReadMaxStaleness = 0 })
	uncached := func() string { return get(fresh.Handler(), "/api/graph/data").Body.String() }

	first := get(h, "/api/graph/data")
	want := uncached()
	if first.Code != http.StatusOK || first.Body.String() != want {
		t.Fatalf("cached answer differs from the uncached one:\n%s\n%s", first.Body.String(), want)
	}
	if got := string(gunzip(t, getGzip(h, "/api/graph/data").Body.Bytes())); got != want {
		t.Fatalf("gzip answer inflates to\n%s\nwant\n%s", got, want)
	}

	// A new edge, observed 1 ms after the answer was encoded.
	c.Set(t0.Add(time.Millisecond))
	st.Observe([]graph.Observation{{Client: st.Node("frontend", graph.ServiceNode), Server: st.Node("late", graph.ServiceNode), Kind: graph.Call, Seconds: [2]float64{0.1, -1}}}, nil)
	c.Set(t0.Add(time.Second))
	if got := get(h, "/api/graph/data").Body.String(); got != first.Body.String() {
		t.Fatal("within 1s: not the kept answer")
	}
	c.Set(t0.Add(time.Second + time.Nanosecond))
	got := get(h, "/api/graph/data").Body.String()
	if !strings.Contains(got, `"id":"late"`) || got != uncached() {
		t.Fatalf("past 1s the new edge is missing or the answer differs from the uncached one:\n%s", got)
	}
	if miss := reads(t, reg, "graph_data", "miss"); miss != 3 { // identity, gzip, identity again
		t.Fatalf("encodings = %v, want 3", miss)
	}
	// Nothing changes for 10s (the window's buckets neither): no encoding.
	c.Set(t0.Add(11 * time.Second))
	if again := get(h, "/api/graph/data").Body.String(); again != got {
		t.Fatal("unchanged graph: a different answer")
	}
	if miss, reval := reads(t, reg, "graph_data", "miss"), reads(t, reg, "graph_data", "revalidated"); miss != 3 || reval != 1 {
		t.Fatalf("unchanged graph past the bound: miss %v, revalidated %v; want 3, 1", miss, reval)
	}
	// A bad query is answered, never kept.
	for range 2 {
		if rec := get(h, "/api/graph/data?depth=x"); rec.Code != http.StatusBadRequest {
			t.Fatalf("bad query: %d", rec.Code)
		}
	}
	if miss := reads(t, reg, "graph_data", "miss"); miss != 5 {
		t.Fatalf("encodings after two bad queries = %v, want 5 (errors are not kept)", miss)
	}
}

// TestReadCacheBound: kept answers never total more than
// --read-cache-bytes; the least recently served goes first (counted); an
// answer larger than the bound is streamed whole, not kept, and its next
// requests skip the cache (counted).
func TestReadCacheBound(t *testing.T) {
	st, c := fixture(t)
	m := &countingMetrics{size: 400 << 10}
	s, reg := newServer(t, c, api.Sources{Graph: st, Metrics: m}, func(cfg *api.Config) { cfg.ReadCacheBytes = 1 << 20 })
	h := s.Handler()
	for _, q := range []string{"a", "b", "a", "c"} { // a, b kept; a served again; c evicts b
		getGzip(h, "/metrics?name[]="+q)
	}
	if got := m.n.Load(); got != 3 {
		t.Fatalf("encodings = %d, want 3", got)
	}
	bytesHeld := labelled(t, reg, "servicegraph_read_cache_bytes", nil)
	if ev := labelled(t, reg, "servicegraph_read_cache_evictions_total", nil); ev != 1 || bytesHeld > 1<<20 || bytesHeld < 800<<10 {
		t.Fatalf("evictions %v, bytes %v; want 1 and two answers (≤ 1 MiB)", ev, bytesHeld)
	}
	getGzip(h, "/metrics?name[]=a") // kept
	getGzip(h, "/metrics?name[]=b") // evicted: encoded again
	if got := m.n.Load(); got != 4 {
		t.Fatalf("encodings = %d, want 4 (b again)", got)
	}

	m.size = 3 << 20
	big := getGzip(h, "/metrics?name[]=big")
	if body := gunzip(t, big.Body.Bytes()); big.Code != http.StatusOK || len(body) != 3<<20 || !bytes.HasPrefix(body, []byte("encoding 5\n")) {
		t.Fatalf("too large: %d, %d bytes", big.Code, len(body))
	}
	// Streamed as the handler writes it (this one never gzips).
	again := getGzip(h, "/metrics?name[]=big")
	if body := again.Body.Bytes(); again.Header().Get("Content-Encoding") != "" || !bytes.HasPrefix(body, []byte("encoding 6\n")) {
		t.Fatalf("too large, again: %.20q…, want a new encoding", body)
	}
	if tl, bypass := labelled(t, reg, "servicegraph_read_cache_too_large_total", map[string]string{"handler": "metrics"}), reads(t, reg, "metrics", "bypass"); tl != 1 || bypass != 1 {
		t.Fatalf("too_large %v, bypass %v; want 1, 1", tl, bypass)
	}
	if held := labelled(t, reg, "servicegraph_read_cache_bytes", nil); held > 1<<20 {
		t.Fatalf("bytes held %v > bound", held)
	}
}

// TestReadCacheOverSocket: Go's HTTP client (which asks for gzip and
// inflates it) gets the same rows from the cache as without it, over a
// real connection; HEAD and Cache-Control: no-cache bypass the cache.
func TestReadCacheOverSocket(t *testing.T) {
	st, c := fixture(t)
	s, reg := newServer(t, c, api.Sources{Graph: st}, nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	fresh, _ := newServer(t, c, api.Sources{Graph: st}, func(cfg *api.Config) { cfg.ReadMaxStaleness = 0 })
	want := get(fresh.Handler(), "/api/graph/data?service=checkout&depth=1").Body.String()
	for range 3 {
		resp, err := srv.Client().Get(srv.URL + "/api/graph/data?service=checkout&depth=1")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != want || !resp.Uncompressed {
			t.Fatalf("over the socket: err %v, inflated %v, body\n%s\nwant\n%s", err, resp.Uncompressed, body, want)
		}
	}
	resp, err := srv.Client().Head(srv.URL + "/api/graph/data")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Cache-Control: no-cache gets a fresh answer, not the kept one.
	c.Set(t0.Add(time.Millisecond))
	st.Observe([]graph.Observation{{Client: st.Node("checkout", graph.ServiceNode), Server: st.Node("late", graph.ServiceNode), Kind: graph.Call, Seconds: [2]float64{0.1, -1}}}, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/graph/data?service=checkout&depth=1", nil)
	req.Header.Set("Cache-Control", "no-cache")
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"id":"late"`) {
		t.Fatalf("no-cache: the kept answer, without the new edge:\n%s", body)
	}
	if miss, hit, bypass := reads(t, reg, "graph_data", "miss"), reads(t, reg, "graph_data", "hit"), reads(t, reg, "graph_data", "bypass"); miss != 1 || hit != 2 || bypass != 2 {
		t.Fatalf("miss %v, hit %v, bypass %v; want 1, 2, 2", miss, hit, bypass)
	}
}

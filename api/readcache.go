package api

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/internal/acceptenc"
)

// readCache keeps the encoded answers of the heavy read routes (/metrics,
// /api/graph/data, /nodes, /edges), so that readers polling them share one
// encoding (and one gzip) instead of each paying for their own: at 100k
// edges a gzipped scrape takes ~0.8 s of CPU and a rows answer 30–40 ms,
// CPU that ingestion, on the same cores, waits for.
//
// An answer is kept per route, query string, Accept header and coding
// (gzip or identity; /metrics gzip only), and served again while it is at most
// Config.ReadMaxStaleness old (the age counts from before its encoding
// began, so a read never shows the graph older than that), or, for the
// graph routes, while the graph's snapshot version and the window's
// buckets are those it was encoded from. Concurrent requests for an answer
// being encoded wait for that encoding rather than start their own. An
// answer that is not 200 is handed to the requests that waited for it,
// never kept.
//
// Memory: the kept bodies total at most Config.ReadCacheBytes (least
// recently served dropped first, counted); an answer larger than that is
// streamed, not kept, and its key remembered for tooLargeFor so that the
// next requests stream without trying (counted). Bodies being written to
// clients when dropped live until those writes end.
type readCache struct {
	maxAge   time.Duration // 0: nothing kept, reads only paced
	maxBytes int64
	budget   *readBudget // nil: reads not paced
	slots    readSlots   // encodings at once (readSlots)
	now      func() time.Time
	gzips    sync.Pool // *gzip.Writer

	requests  *prometheus.CounterVec // handler, result
	tooLarge  *prometheus.CounterVec // handler
	evictions prometheus.Counter
	bytesG    prometheus.Gauge
	entriesG  prometheus.Gauge

	mu      sync.Mutex // guards the fields below
	entries map[string]*cached
	lru     list.List // of *cached, most recently served first
	bytes   int64     // sum of the entries' sizes
	calls   map[string]*readCall
}

// cacheReads serves the answers of the route named name through the read
// cache when it is one of the cached routes and the cache is on.
func (s *Server) cacheReads(name string, h http.Handler) http.Handler {
	if s.reads == nil {
		return h
	}
	switch name {
	case routeMetrics:
		// Its self-telemetry changes on every read: no version. Only the
		// gzipped scrape is kept (Prometheus always asks for it): the text
		// is ~28x larger (280 MB at 100k edges) and is streamed.
		return s.reads.wrap(name, h, nil, false)
	case routeData, routeNodes, routeEdges:
		return s.reads.wrap(name, h, s.rowsVersion, true)
	}
	return h
}

// rowsVersion is what a rows answer to r depends on besides r's query:
// the graph's snapshot version and the history buckets of the window. nil
// when r's query is bad (its answer, an error, is not kept) or the answer
// merges peers' graphs (whose versions this instance does not know: the
// staleness bound alone applies).
func (s *Server) rowsVersion(r *http.Request) any {
	vals := r.URL.Query()
	if local, _ := strconv.ParseBool(vals.Get(ParamLocal)); s.cluster != nil && !local {
		return nil
	}
	q, err := ParseQuery(vals, s.now(), s.cfg.MaxDepth)
	if err != nil {
		return nil
	}
	snap := s.src.Graph.Snapshot()
	w := max(int64(snap.BucketWidth), 1)
	return rowsKey{version: snap.Version, topology: snap.Topology, lo: floorDiv(q.From.UnixNano(), w), hi: floorDiv(q.To.UnixNano()-1, w)}
}

// rowsKey is a rowsVersion.
type rowsKey struct {
	version, topology uint64
	lo, hi            int64 // the window's first and last bucket
}

// tooLargeFor is how long a key whose answer did not fit is streamed
// without trying to keep it.
const tooLargeFor = time.Minute

// cacheEntryOverhead is what an entry costs besides its body and key.
const cacheEntryOverhead = 256

// Results of a cached read (the result label).
const (
	readHit         = "hit"         // kept answer, young enough
	readRevalidated = "revalidated" // kept answer, older, but the graph and window are the same
	readShared      = "shared"      // waited for an encoding in flight
	readMiss        = "miss"        // encoded (one encoding)
	readBypass      = "bypass"      // HEAD, Cache-Control: no-cache, too large, cache off: served as without the cache
)

// cached is one kept answer, or a marker of an answer too large to keep.
type cached struct {
	key      string
	built    time.Time // when its encoding began (or, revalidated, when found current)
	version  any       // the graph version it was encoded from; nil: none
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
	size     int64
	elem     *list.Element
}

// readCall is an encoding in flight; done closes when res is set.
type readCall struct {
	done chan struct{}
	res  *cached // nil or a too-large marker: serve without the cache
}

func newReadCache(maxAge time.Duration, maxBytes int64, budget *readBudget, now func() time.Time, reg prometheus.Registerer) (*readCache, error) {
	c := &readCache{
		maxAge: maxAge, maxBytes: maxBytes, budget: budget, slots: defaultReadSlots(), now: now,
		entries: map[string]*cached{}, calls: map[string]*readCall{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servicegraph_read_cache_requests_total",
			Help: "Reads of the cached routes (/metrics, /api/graph/data, /api/graph/nodes, /api/graph/edges), by route name and result: hit (a kept answer at most read_max_staleness old), revalidated (older, the graph unchanged), shared (waited for an encoding in flight), miss (encoded), bypass (HEAD, Cache-Control: no-cache, an answer larger than read_cache_bytes, or the cache off).",
		}, []string{"handler", "result"}),
		tooLarge: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servicegraph_read_cache_too_large_total",
			Help: "Answers of the cached routes larger than read_cache_bytes: streamed, not kept.",
		}, []string{"handler"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "servicegraph_read_cache_evictions_total",
			Help: "Kept answers dropped, least recently served first, to stay within read_cache_bytes.",
		}),
		bytesG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "servicegraph_read_cache_bytes",
			Help: "Bytes the read cache holds (bodies, keys and headers), at most read_cache_bytes.",
		}),
		entriesG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "servicegraph_read_cache_entries",
			Help: "Answers (and markers of answers too large) the read cache holds.",
		}),
	}
	for _, h := range []string{routeMetrics, routeData, routeNodes, routeEdges} {
		c.tooLarge.WithLabelValues(h)
		for _, r := range []string{readHit, readRevalidated, readShared, readMiss, readBypass} {
			c.requests.WithLabelValues(h, r)
		}
	}
	err := errors.Join(reg.Register(c.requests), reg.Register(c.tooLarge), reg.Register(c.evictions),
		reg.Register(c.bytesG), reg.Register(c.entriesG))
	return c, err
}

// wrap serves next's answers through the cache under the route name;
// version, when not nil, returns the graph version a request's answer
// depends on (nil when it cannot tell), for answers older than the
// staleness bound. identity false streams the answers of clients that do
// not accept gzip, never kept.
func (c *readCache) wrap(name string, next http.Handler, version func(*http.Request) any, identity bool) http.Handler {
	hit, revalidated, shared := c.requests.WithLabelValues(name, readHit), c.requests.WithLabelValues(name, readRevalidated), c.requests.WithLabelValues(name, readShared)
	miss, bypass, tooLarge := c.requests.WithLabelValues(name, readMiss), c.requests.WithLabelValues(name, readBypass), c.tooLarge.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gz := acceptenc.Gzip(r.Header.Get("Accept-Encoding"))
		if r.Method != http.MethodGet || c.maxAge == 0 || noCache(r.Header) || (!gz && !identity) {
			bypass.Inc()
			c.stream(w, r, next)
			return
		}
		key := name + "\x00" + r.URL.RawQuery + "\x00" + r.Header.Get("Accept") + "\x00" + strconv.FormatBool(gz)
		now := c.now()
		c.mu.Lock()
		e, fresh := c.lookup(key, now)
		c.mu.Unlock()
		switch {
		case e != nil && e.tooLarge:
			bypass.Inc()
			c.stream(w, r, next)
			return
		case fresh:
			hit.Inc()
			c.writeCached(w, r, e)
			return
		}
		var v any
		if version != nil {
			// It may build a snapshot: CPU, as an encoding is.
			p := c.budget.pacer(r.Context()).encoding(c.slots)
			p.hold()
			v = version(r)
			p.drop()
		}
		c.mu.Lock()
		if e, _ = c.lookup(key, now); e != nil && v != nil && !e.tooLarge && e.version == v {
			// Older than the bound, but encoded from the graph and window
			// this request would read: current as of now.
			e.built = now
			c.mu.Unlock()
			revalidated.Inc()
			c.writeCached(w, r, e)
			return
		}
		if call := c.calls[key]; call != nil {
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-r.Context().Done():
				return // the client left
			}
			if call.res == nil || call.res.tooLarge {
				bypass.Inc()
				c.stream(w, r, next)
				return
			}
			shared.Inc()
			c.writeCached(w, r, call.res)
			return
		}
		call := &readCall{done: make(chan struct{})}
		c.calls[key] = call
		hint := int64(0)
		if e != nil {
			hint = e.size
		}
		c.mu.Unlock()
		miss.Inc()
		// release ends the call: the waiters take res, or, nil, serve
		// themselves without the cache. Deferred too, so that a handler
		// that panics leaves no one waiting.
		released := false
		release := func(res *cached, keep bool) {
			if released {
				return
			}
			released = true
			c.mu.Lock()
			if keep {
				c.store(res)
			}
			delete(c.calls, key)
			c.mu.Unlock()
			call.res = res
			close(call.done)
		}
		defer release(nil, false)
		res := c.encode(w, r, key, now, v, gz, hint, next, func() {
			release(&cached{key: key, built: now, tooLarge: true, size: int64(len(key)) + cacheEntryOverhead}, true)
		})
		if res == nil {
			tooLarge.Inc()
			return
		}
		release(res, res.status == http.StatusOK)
		c.writeCached(w, r, res)
	})
}

// lookup returns key's entry and whether it may be served as it is: an
// answer at most maxAge old, or a marker younger than tooLargeFor.
// Caller holds mu.
func (c *readCache) lookup(key string, now time.Time) (*cached, bool) {
	e := c.entries[key]
	if e == nil {
		return nil, false
	}
	if e.tooLarge {
		if now.Sub(e.built) > tooLargeFor {
			c.remove(e)
			return nil, false
		}
		return e, false
	}
	c.lru.MoveToFront(e.elem)
	return e, now.Sub(e.built) <= c.maxAge
}

// store keeps e in place of key's entry, dropping the least recently
// served entries until the total fits maxBytes. Caller holds mu.
func (c *readCache) store(e *cached) {
	if old := c.entries[e.key]; old != nil {
		c.remove(old)
	}
	for c.bytes+e.size > c.maxBytes && c.lru.Len() > 0 {
		c.remove(c.lru.Back().Value.(*cached))
		c.evictions.Inc()
	}
	if e.size > c.maxBytes {
		return
	}
	e.elem = c.lru.PushFront(e)
	c.entries[e.key] = e
	c.bytes += e.size
	c.bytesG.Set(float64(c.bytes))
	c.entriesG.Set(float64(len(c.entries)))
}

// remove drops e. Caller holds mu.
func (c *readCache) remove(e *cached) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.bytes -= e.size
	c.bytesG.Set(float64(c.bytes))
	c.entriesG.Set(float64(len(c.entries)))
}

// encode runs next for r into a body of at most maxBytes (gzipped when gz)
// and returns it as an entry. Past maxBytes it calls over, streams the
// rest of the answer to w itself and returns nil.
func (c *readCache) encode(w http.ResponseWriter, r *http.Request, key string, began time.Time, version any, gz bool, hint int64, next http.Handler, over func()) *cached {
	// The encoding serves every request waiting for it: it must not end
	// when its first client leaves. Next encodes identity; the cache
	// compresses.
	ctx := context.WithoutCancel(r.Context())
	r = r.Clone(ctx)
	r.Header.Del("Accept-Encoding")
	rec := &recorder{header: http.Header{}, limit: c.maxBytes, w: w, over: over, pace: c.budget.pacerFor(r).encoding(c.slots)}
	if hint > 0 {
		rec.buf.Grow(int(min(hint+hint/8, c.maxBytes)))
	}
	if gz {
		rec.header.Set("Content-Encoding", "gzip")
		zw, _ := c.gzips.Get().(*gzip.Writer)
		if zw == nil {
			zw, _ = gzip.NewWriterLevel(&rec.sink, gzip.BestSpeed)
		} else {
			zw.Reset(&rec.sink)
		}
		rec.zw = zw
		defer c.gzips.Put(zw)
	}
	rec.sink.rec = rec
	rec.pace.hold()
	defer rec.pace.drop()
	next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.zw != nil {
		_ = rec.zw.Close()
	}
	if rec.streaming {
		return nil
	}
	// Kept as encoded when the buffer, grown to the previous answer's size
	// (hint), holds little spare room, so that a miss at 100k edges does
	// not make a second copy of its ~10 MB body; else copied to its
	// length. The size counted is the memory held.
	body := rec.buf.Bytes()
	if cap(body)-len(body) > len(body)/4 {
		body = bytes.Clone(body)
	}
	size := int64(cap(body)+len(key)) + cacheEntryOverhead
	for k, vs := range rec.header {
		size += int64(len(k))
		for _, v := range vs {
			size += int64(len(v))
		}
	}
	return &cached{key: key, built: began, version: version, status: rec.status, header: rec.header, body: body, size: size}
}

// writeCached answers e to r, paced.
func (c *readCache) writeCached(w http.ResponseWriter, r *http.Request, e *cached) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = slices.Clone(v) // e's are shared by every request it answers
	}
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	w.WriteHeader(e.status)
	c.budget.pacerFor(r).write(w, e.body)
}

// stream serves r without the cache, paced, holding a slot while it
// encodes.
func (c *readCache) stream(w http.ResponseWriter, r *http.Request, next http.Handler) {
	p := c.budget.pacerFor(r).encoding(c.slots)
	p.hold()
	defer p.drop()
	next.ServeHTTP(&pacedWriter{ResponseWriter: w, p: p}, r)
}

// recorder is the ResponseWriter an encoding writes to: the body goes
// (through zw when gzipping) to sink, which keeps it until limit, then
// streams it to w.
type recorder struct {
	header    http.Header
	status    int
	zw        *gzip.Writer // nil: identity
	sink      sink
	buf       bytes.Buffer
	limit     int64
	w         http.ResponseWriter // the encoding request's own
	over      func()              // called once, when the body passes limit
	streaming bool                // past limit: the body goes to w
	pace      *pacer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
		if !slices.Contains(rec.header.Values("Vary"), "Accept-Encoding") {
			rec.header.Add("Vary", "Accept-Encoding")
		}
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	defer rec.pace.piece() // the handlers write at most pieceSize at once (bufio)
	if rec.zw != nil {
		return rec.zw.Write(p)
	}
	return rec.sink.Write(p)
}

// sink is where a recorder's (possibly compressed) body goes.
type sink struct{ rec *recorder }

func (s *sink) Write(p []byte) (int, error) {
	rec := s.rec
	if !rec.streaming && int64(rec.buf.Len()+len(p)) > rec.limit {
		rec.streaming = true
		rec.over()
		h := rec.w.Header()
		for k, v := range rec.header {
			h[k] = v
		}
		rec.w.WriteHeader(rec.status)
		rec.pace.drop() // the writes may wait for the client; the next piece takes it again
		if _, err := rec.w.Write(rec.buf.Bytes()); err != nil {
			return 0, err
		}
		rec.buf = bytes.Buffer{}
	}
	if rec.streaming {
		rec.pace.drop()
		return rec.w.Write(p)
	}
	return rec.buf.Write(p)
}

// noCache reports whether a request asks for an answer not served from a
// cache (Cache-Control: no-cache or max-age=0, RFC 9111 5.2.1; Pragma:
// no-cache): it gets a fresh encoding of its own, as without the cache.
func noCache(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			if d = strings.ToLower(strings.TrimSpace(d)); d == "no-cache" || d == "max-age=0" {
				return true
			}
		}
	}
	return strings.EqualFold(strings.TrimSpace(h.Get("Pragma")), "no-cache")
}

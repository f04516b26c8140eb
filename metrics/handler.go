package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/acceptenc"
	"github.com/servicegraph/servicegraph/internal/logging"
)

// Config bounds the /metrics handler.
type Config struct {
	// MaxConcurrentScrapes caps scrapes served at once; more are refused
	// with 503 and Retry-After, counted.
	MaxConcurrentScrapes int `yaml:"max_concurrent_scrapes"`
	// VirtualNodeLabel adds the label virtual_node to every edge series:
	// "client" on an edge from a virtual node (user, a root span's named
	// caller), "server" on one to an uninstrumented peer, "" (no label, to
	// Prometheus) on the others: Tempo's enable_virtual_node_label.
	VirtualNodeLabel bool `yaml:"virtual_node_label"`
	// Dimensions are the graph's dimension attributes
	// (graph.Config.Dimensions): the edge families' series are then the
	// edges' sub-series, labelled client_<attr> and server_<attr>. Not a
	// key of its own: the service sets it from graph.dimensions.
	Dimensions []string `yaml:"-"`
	// SeriesIdleTimeout stops exporting the series of an edge not seen
	// for that long (0: never); they come back with its next occurrence,
	// the counters continuing. The API and history are unaffected.
	SeriesIdleTimeout time.Duration `yaml:"series_idle_timeout"`
	// Exemplars serves the scrapes that ask for OpenMetrics (Prometheus
	// does) through promhttp over the Collector, with each edge's latest
	// trace as exemplars. Off, every scrape gets the streamed text.
	Exemplars bool `yaml:"exemplars"`
	// NativeHistograms is graph.Config.NativeHistograms (not a key of its
	// own: the service sets it from graph.native_histograms): scrapes that
	// ask for protobuf or OpenMetrics then go through promhttp too, with
	// the native buckets beside the classic ones.
	NativeHistograms bool `yaml:"-"`
}

// NewDefaultConfig returns the defaults.
func NewDefaultConfig() Config { return Config{MaxConcurrentScrapes: 2} }

// Validate reports every problem at once.
func (c Config) Validate() error {
	if c.MaxConcurrentScrapes < 1 {
		return fmt.Errorf("max_concurrent_scrapes must be at least 1, got %d", c.MaxConcurrentScrapes)
	}
	if c.SeriesIdleTimeout < 0 {
		return fmt.Errorf("series_idle_timeout must not be negative, got %s", c.SeriesIdleTimeout)
	}
	return nil
}

// Settings are what the code supplies.
type Settings struct {
	Logger *slog.Logger // nil: discard
	// Registerer receives the self-telemetry collector and the handler's
	// own counters; Gatherer yields every family served besides the
	// graph-derived ones (usually the same registry). Both required.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock edges are judged idle by (Config.SeriesIdleTimeout);
	// time.Now if nil.
	Now func() time.Time
}

// RetryAfter is the Retry-After, in seconds, of a refused scrape.
const RetryAfter = 5

// Handler serves /metrics in the Prometheus text format: the gathered
// families merged, in name order, with the graph-derived ones, which are
// written straight from one snapshot, so that a scrape's memory does not
// grow with the graph. At most Config.MaxConcurrentScrapes scrapes run at
// once. With Config.Exemplars, a scrape that asks for OpenMetrics or
// protobuf (Accept) is served by promhttp over a registry holding the
// Collector's graph families, with exemplars. Safe for concurrent use.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	graph    GraphSource
	gatherer prometheus.Gatherer
	sem      chan struct{}
	refused  prometheus.Counter
	errs     *prometheus.CounterVec // cause: gathering, encoding (promhttp's)
	gzips    sync.Pool              // *gzip.Writer
	now      func() time.Time       // Settings.Now
	// rich serves the scrapes that ask for OpenMetrics or protobuf
	// (exemplars, native histograms): promhttp over a registry holding
	// the graph families (graphCollector) and the gathered ones.
	rich http.Handler

	mu     sync.Mutex // guards the series, le labels and bases of the last snapshot
	snap   *graph.Snapshot
	series *series
	les    [][]byte
	base   *bases
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the /metrics handler over g and p, registering the
// self-telemetry collector on set.Registerer.
func NewHandler(cfg Config, set Settings, g GraphSource, p PairingSource) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("metrics config: %w", err)
	}
	if set.Registerer == nil || set.Gatherer == nil {
		return nil, errors.New("metrics: Settings.Registerer and Settings.Gatherer are required")
	}
	set.Logger = logging.OrDiscard(set.Logger)
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "servicegraph_scrapes_refused_total",
		Help: "Scrapes of /metrics refused with 503, by reason: max_concurrent_scrapes (that many were being served).",
	}, []string{"reason"})
	h := &Handler{
		cfg: cfg, log: set.Logger, graph: g, gatherer: set.Gatherer,
		sem:     make(chan struct{}, cfg.MaxConcurrentScrapes),
		refused: refused.WithLabelValues("max_concurrent_scrapes"),
		// promhttp's own error counter, kept so that the exposition is
		// the one promhttp.HandlerFor served.
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promhttp_metric_handler_errors_total",
			Help: "Total number of internal errors encountered by the promhttp metric handler.",
		}, []string{"cause"}),
	}
	h.now = set.Now
	if h.now == nil {
		h.now = time.Now
	}
	h.errs.WithLabelValues("gathering")
	h.errs.WithLabelValues("encoding")
	err := errors.Join(
		set.Registerer.Register(selfCollector{NewCollector(g, p)}), // self-telemetry only: no edge labels
		set.Registerer.Register(h.errs),
		set.Registerer.Register(refused),
	)
	if err != nil {
		return nil, fmt.Errorf("metrics: register: %w", err)
	}
	if cfg.Exemplars || cfg.NativeHistograms {
		graphReg := prometheus.NewRegistry()
		if err := graphReg.Register(graphCollector{NewCollectorWith(g, p, cfg).withClock(h.now)}); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
		h.rich = promhttp.HandlerFor(prometheus.Gatherers{set.Gatherer, graphReg}, promhttp.HandlerOpts{EnableOpenMetrics: true})
	}
	return h, nil
}

// wantsRich reports whether a scrape asks for a format other than the
// streamed text: OpenMetrics (exemplars) or protobuf (native histograms).
func wantsRich(hdr http.Header) bool {
	return expfmt.NegotiateAccept(hdr, expfmt.DefaultOpenMetricsAcceptedFormats()...).FormatType() != expfmt.TypeTextPlain
}

// ServeHTTP serves one scrape.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		h.refused.Inc()
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
		http.Error(w, fmt.Sprintf("too many concurrent scrapes (max_concurrent_scrapes is %d), retry later", h.cfg.MaxConcurrentScrapes),
			http.StatusServiceUnavailable)
		return
	}
	if h.rich != nil && wantsRich(r.Header) {
		h.rich.ServeHTTP(w, r)
		return
	}
	mfs, err := h.gatherer.Gather()
	if err != nil {
		h.errs.WithLabelValues("gathering").Inc()
		h.log.Error("gather metrics", "err", err)
		http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
		return
	}

	format := expfmt.NegotiateAccept(r.Header, expfmt.NewFormat(expfmt.TypeTextPlain))
	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if acceptenc.Gzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := h.gzips.Get().(*gzip.Writer)
		if gz == nil {
			gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		} else {
			gz.Reset(w)
		}
		defer func() { gz.Close(); h.gzips.Put(gz) }()
		out = gz
	}
	var filter map[string]bool
	if names := r.URL.Query()["name[]"]; len(names) > 0 {
		filter = make(map[string]bool, len(names))
		for _, n := range names {
			filter[n] = true
		}
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	x := &exposer{w: bw, idleBefore: idleBefore(h.cfg.SeriesIdleTimeout, h.now)}
	if filter == nil || slices.ContainsFunc(streamed, func(f edgeFamily) bool { return filter[f.name] }) {
		x.snap = h.graph.Snapshot()
		x.series, x.les, x.base = h.prepare(x.snap)
	}
	enc := expfmt.NewEncoder(bw, format)
	err = nil
	i := 0
	for _, f := range streamed {
		for ; err == nil && i < len(mfs) && mfs[i].GetName() < f.name; i++ {
			if filter == nil || filter[mfs[i].GetName()] {
				err = enc.Encode(mfs[i])
			}
		}
		if err == nil && x.snap != nil && (filter == nil || filter[f.name]) {
			err = x.family(f)
		}
	}
	for ; err == nil && i < len(mfs); i++ {
		if filter == nil || filter[mfs[i].GetName()] {
			err = enc.Encode(mfs[i])
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The client went away or the write deadline passed: the response
		// is cut short, as promhttp's would be.
		h.errs.WithLabelValues("encoding").Inc()
		h.log.Debug("write metrics", "err", err)
	}
}

// prepare returns snap's series, le labels and bases, built once per
// topology (the series), per bounds (the le labels) and per snapshot (the
// bases).
func (h *Handler) prepare(snap *graph.Snapshot) (*series, [][]byte, *bases) {
	h.mu.Lock()
	prev, sr, les, b := h.snap, h.series, h.les, h.base
	h.mu.Unlock()
	if prev == snap {
		return sr, les, b
	}
	if prev == nil || prev.Topology != snap.Topology || snap.Topology == 0 {
		sr = newSeries(snap, h.cfg.VirtualNodeLabel, h.cfg.Dimensions)
	}
	if prev == nil || !slices.Equal(prev.Bounds, snap.Bounds) {
		les = newLes(snap.Bounds)
	}
	if prev == nil || prev.Topology != snap.Topology || prev.Base != snap.Base || b == nil {
		b = newBases(snap)
	} else {
		b = &bases{snap: snap, edges: b.edges, nodes: b.nodes}
	}
	h.mu.Lock()
	h.snap, h.series, h.les, h.base = snap, sr, les, b
	h.mu.Unlock()
	return sr, les, b
}

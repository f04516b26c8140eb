package metrics

import (
	"bufio"
	"cmp"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
)

// The graph-derived families are written straight from a snapshot in the
// Prometheus text format (version 0.0.4), edge by edge, byte for byte as
// the Collector's metrics come out of a registry and expfmt: families and
// series in the same order, values formatted alike. Nothing per series is
// kept: memory is a line buffer, whatever the graph's size.

// edgeFamily selects the edges of one family and what each contributes: a
// value, or a histogram.
type edgeFamily struct {
	*family
	sel func(e *graph.Edge) (v float64, h *graph.Histogram, ok bool)
	// dsel, when not nil, selects what one sub-series of dimension values
	// of an edge of kind k contributes: with dimensions the family's
	// series are the edges' sub-series (dims.go).
	dsel func(d *graph.DimSeries, k graph.Kind) (v float64, h *graph.Histogram, ok bool)
}

func scalar(v func(e *graph.Edge) float64) func(e *graph.Edge) (float64, *graph.Histogram, bool) {
	return func(e *graph.Edge) (float64, *graph.Histogram, bool) { return v(e), nil, true }
}

// streamed lists the graph-derived families in name order (the registry's).
// nil sel is the span-links family, which is per node.
var streamed = func() []edgeFamily {
	fs := []edgeFamily{
		{requestTotalF, scalar(func(e *graph.Edge) float64 { return float64(e.Count) }),
			func(d *graph.DimSeries, _ graph.Kind) (float64, *graph.Histogram, bool) {
				return float64(d.Count), nil, true
			}},
		{requestFailedF, scalar(func(e *graph.Edge) float64 { return float64(e.Failed) }),
			func(d *graph.DimSeries, _ graph.Kind) (float64, *graph.Histogram, bool) {
				return float64(d.Failed), nil, true
			}},
		{firstSeenF, scalar(func(e *graph.Edge) float64 { return unixSeconds(e.FirstSeen.UnixNano()) }), nil},
		{lastSeenF, scalar(func(e *graph.Edge) float64 { return unixSeconds(e.LastSeen.UnixNano()) }), nil},
		{messagingDelayF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			return 0, &e.Hist[0], e.Kind == graph.Messaging
		}, func(d *graph.DimSeries, k graph.Kind) (float64, *graph.Histogram, bool) {
			return 0, &d.Hist[0], k == graph.Messaging
		}},
		{linkDelayF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			return 0, &e.Hist[0], e.Kind == graph.SpanLink
		}, func(d *graph.DimSeries, k graph.Kind) (float64, *graph.Histogram, bool) {
			return 0, &d.Hist[0], k == graph.SpanLink
		}},
		{serverSecondsF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			h := durations(e, 0)
			return 0, h, h.Count > 0
		}, func(d *graph.DimSeries, k graph.Kind) (float64, *graph.Histogram, bool) {
			h := dimDurations(d, k, 0)
			return 0, h, h.Count > 0
		}},
		{clientSecondsF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			h := durations(e, 1)
			return 0, h, h.Count > 0
		}, func(d *graph.DimSeries, k graph.Kind) (float64, *graph.Histogram, bool) {
			h := dimDurations(d, k, 1)
			return 0, h, h.Count > 0
		}},
		{spanLinksF, nil, nil},
	}
	slices.SortFunc(fs, func(a, b edgeFamily) int { return cmp.Compare(a.name, b.name) })
	return fs
}()

// durations is an edge's histogram of server (i = 0) or client (1) span
// durations, on every kind: of sync edges in Hist, of async edges (whose
// Hist holds the delay) in AsyncHist.
func durations(e *graph.Edge, i int) *graph.Histogram {
	if e.Kind.Async() {
		return &e.AsyncHist[i]
	}
	return &e.Hist[i]
}

// dimDurations is durations of a sub-series of an edge of kind k.
func dimDurations(d *graph.DimSeries, k graph.Kind, i int) *graph.Histogram {
	if k.Async() {
		return &d.AsyncHist[i]
	}
	return &d.Hist[i]
}

// linkResults are the link results in label-value order.
var linkResults = func() []graph.LinkResult {
	rs := make([]graph.LinkResult, graph.NumLinkResults)
	for i := range rs {
		rs[i] = graph.LinkResult(i)
	}
	slices.SortFunc(rs, func(a, b graph.LinkResult) int { return cmp.Compare(a.String(), b.String()) })
	return rs
}()

// labelOrder returns the indexes of snap.Edges in the registry's series
// order: by client, then connection_type, then server (labels sorted by
// name, values compared in turn).
func labelOrder(snap *graph.Snapshot) []int32 {
	order := make([]int32, len(snap.Edges))
	for i := range order {
		order[i] = int32(i)
	}
	es := snap.Edges
	slices.SortFunc(order, func(a, b int32) int {
		x, y := &es[a], &es[b]
		return cmp.Or(cmp.Compare(x.Client, y.Client), cmp.Compare(x.Kind.ConnectionType(), y.Kind.ConnectionType()),
			cmp.Compare(x.Server, y.Server))
	})
	return order
}

// series is what a topology's scrapes share: the edges in series order
// and each edge's label set, built once per topology (the edges keep their
// names and positions within one).
type series struct {
	order []int32
	// labels holds, for edge i of the snapshots, the bytes
	// {client="…",connection_type="…",server="… (values escaped, the
	// closing quote left out) at labels[end[i-1]:end[i]].
	labels []byte
	end    []uint32
	// vn is, per edge, its virtual_node label value (nil without the
	// label); dims the dimension label suffixes (nil without dimensions).
	vn     []string
	dims   []string
	dimIdx []int // per label of dims, its index in a sub-series' values
}

// newSeries builds the series of snap's topology; dims are the dimension
// attributes (Config.Dimensions); vnode adds the
// virtual_node label (virtualNodeLabels).
func newSeries(snap *graph.Snapshot, vnode bool, dims []string) *series {
	s := &series{order: labelOrder(snap), end: make([]uint32, len(snap.Edges))}
	s.dims, s.dimIdx = dimLabelOrder(dims)
	var vn []string
	if vnode {
		vn = virtualNodeLabels(snap)
		s.vn = vn
	}
	n := 0
	for i := range snap.Edges {
		e := &snap.Edges[i]
		n += len(`{client="",connection_type="",server="`) + len(e.Client) + len(e.Server) + len(e.Kind.ConnectionType())
		if vnode {
			n += len(`",virtual_node="`) + len(vn[i])
		}
	}
	s.labels = make([]byte, 0, n)
	for i := range snap.Edges {
		e := &snap.Edges[i]
		s.labels = append(s.labels, `{client="`...)
		s.labels = appendEscaped(s.labels, e.Client)
		s.labels = append(s.labels, `",connection_type="`...)
		s.labels = append(s.labels, e.Kind.ConnectionType()...)
		s.labels = append(s.labels, `",server="`...)
		s.labels = appendEscaped(s.labels, e.Server)
		if vnode {
			s.labels = append(s.labels, `",virtual_node="`...)
			s.labels = append(s.labels, vn[i]...)
		}
		s.end[i] = uint32(len(s.labels))
	}
	return s
}

// virtualNodeLabels returns, per edge of snap, its virtual_node label value
// (Tempo's): "client" for a virtual_node edge from a virtual node (user, a
// root span's named caller), "server" for one to a virtual node (an
// uninstrumented peer), "" for every other edge.
func virtualNodeLabels(snap *graph.Snapshot) []string {
	virtual := make(map[string]bool)
	for i := range snap.Nodes {
		if snap.Nodes[i].Kind == graph.VirtualNode {
			virtual[snap.Nodes[i].Name] = true
		}
	}
	out := make([]string, len(snap.Edges))
	for i := range snap.Edges {
		e := &snap.Edges[i]
		switch {
		case e.Kind != graph.Virtual:
		case virtual[e.Server]:
			out[i] = "server"
		case virtual[e.Client]:
			out[i] = "client"
		}
	}
	return out
}

// labelsOf returns edge i's label bytes.
func (s *series) labelsOf(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = s.end[i-1]
	}
	return s.labels[start:s.end[i]]
}

// newLes returns, per bound, the bytes ",le="<bound> of a bucket line, and
// those of +Inf last.
func newLes(bounds []float64) [][]byte {
	out := make([][]byte, 0, len(bounds)+1)
	for _, b := range bounds {
		out = append(out, appendFloat([]byte(`",le="`), b))
	}
	return append(out, []byte(`",le="+Inf`))
}

// exposer writes graph-derived families of one snapshot.
type exposer struct {
	w      *bufio.Writer
	snap   *graph.Snapshot
	series *series
	les    [][]byte // newLes(snap.Bounds)
	base   *bases   // nil: counters are the totals
	hist   graph.Histogram
	line   []byte
	lbuf   []byte // a sub-series' labels (dimFamily)
	// idleBefore: edges last seen before it (unix ns) are idle and not
	// written (Config.SeriesIdleTimeout; math.MinInt64: none).
	idleBefore int64
	// written counts the bytes since the last yield.
	written int
}

// family writes f, or nothing if it has no series.
func (x *exposer) family(f edgeFamily) error {
	if f.sel == nil {
		return x.spanLinks(f.family)
	}
	if f.dsel != nil && x.series.dims != nil {
		return x.dimFamily(f)
	}
	es := x.snap.Edges
	if !slices.ContainsFunc(es, func(e graph.Edge) bool { _, _, ok := f.sel(&e); return ok && !x.idle(&e) }) {
		return nil
	}
	x.header(f.family)
	for _, i := range x.series.order {
		e := &es[i]
		v, h, ok := f.sel(e)
		if !ok || x.idle(e) {
			continue
		}
		if be := x.base.edge(int(i)); be != nil && counts(f.family) {
			bv, bh, _ := f.sel(be)
			if h == nil {
				v = float64(since(uint64(v), uint64(bv)))
			} else {
				h = histSince(&x.hist, h, bh)
			}
		}
		x.value(f.name, x.series.labelsOf(i), v, h)
		if len(x.line) >= 4<<10 {
			if err := x.flushLine(); err != nil {
				return err
			}
		}
	}
	return x.flushLine()
}

// value appends the lines of one series: a sample, or a histogram.
func (x *exposer) value(name string, labels []byte, v float64, h *graph.Histogram) {
	if h == nil {
		x.sample(name, "", labels, nil, v)
		return
	}
	var cum uint64
	inf := false
	for b, bound := range x.snap.Bounds {
		cum += h.Counts[b]
		x.sample(name, "_bucket", labels, x.les[b], float64(cum))
		inf = inf || math.IsInf(bound, +1)
	}
	if !inf {
		x.sample(name, "_bucket", labels, x.les[len(x.les)-1], float64(h.Count))
	}
	x.sample(name, "_sum", labels, nil, h.Sum)
	x.sample(name, "_count", labels, nil, float64(h.Count))
}

// dimFamily writes f with dimensions: one series per sub-series of every
// edge, labelled client, client_<dim>…, connection_type, server,
// server_<dim>…, [virtual_node] (label names in order, as a registry
// sorts them). Sub-series count from zero at start: they are not in the
// state file, so no base applies.
func (x *exposer) dimFamily(f edgeFamily) error {
	es := x.snap.Edges
	any := slices.ContainsFunc(es, func(e graph.Edge) bool {
		return !x.idle(&e) && slices.ContainsFunc(e.Dims, func(d graph.DimSeries) bool { _, _, ok := f.dsel(&d, e.Kind); return ok })
	})
	if !any {
		return nil
	}
	x.header(f.family)
	for _, i := range x.series.order {
		e := &es[i]
		if x.idle(e) {
			continue
		}
		for j := range e.Dims {
			d := &e.Dims[j]
			v, h, ok := f.dsel(d, e.Kind)
			if !ok {
				continue
			}
			x.lbuf = x.series.dimLabels(x.lbuf[:0], e, int(i), d)
			x.value(f.name, x.lbuf, v, h)
			if len(x.line) >= 4<<10 {
				if err := x.flushLine(); err != nil {
					return err
				}
			}
		}
	}
	return x.flushLine()
}

// dimLabels appends the label bytes of sub-series d of edge i (e), in the
// form of labelsOf.
func (s *series) dimLabels(b []byte, e *graph.Edge, i int, d *graph.DimSeries) []byte {
	b = append(b, `{client="`...)
	b = appendEscaped(b, e.Client)
	for k, l := range s.dims {
		b = append(b, `",client_`...)
		b = append(b, l...)
		b = append(b, `="`...)
		b = appendEscaped(b, d.Client[s.dimIdx[k]])
	}
	b = append(b, `",connection_type="`...)
	b = append(b, e.Kind.ConnectionType()...)
	b = append(b, `",server="`...)
	b = appendEscaped(b, e.Server)
	for k, l := range s.dims {
		b = append(b, `",server_`...)
		b = append(b, l...)
		b = append(b, `="`...)
		b = appendEscaped(b, d.Server[s.dimIdx[k]])
	}
	if s.vn != nil {
		b = append(b, `",virtual_node="`...)
		b = append(b, s.vn[i]...)
	}
	return b
}

// dimLabelOrder returns the dimension label suffixes of the attributes
// dims in label-name order, and for each its index in dims.
func dimLabelOrder(dims []string) (labels []string, idx []int) {
	if len(dims) == 0 {
		return nil, nil
	}
	idx = make([]int, len(dims))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(graph.DimensionLabel(dims[a]), graph.DimensionLabel(dims[b])) })
	for _, i := range idx {
		labels = append(labels, graph.DimensionLabel(dims[i]))
	}
	return labels, idx
}

// spanLinks writes servicegraph_span_links_total: every result of every
// node that declared a link, by result then service.
func (x *exposer) spanLinks(f *family) error {
	linked := func(n *graph.Node) bool { return n.Links != [graph.NumLinkResults]uint64{} }
	if !slices.ContainsFunc(x.snap.Nodes, func(n graph.Node) bool { return linked(&n) }) {
		return nil
	}
	x.header(f)
	for _, r := range linkResults {
		for i := range x.snap.Nodes {
			n := &x.snap.Nodes[i]
			if !linked(n) {
				continue
			}
			x.line = append(x.line, f.name...)
			x.line = append(x.line, `{result="`...)
			x.line = appendEscaped(x.line, r.String())
			x.line = append(x.line, `",service="`...)
			x.line = appendEscaped(x.line, n.Name)
			x.line = append(x.line, `"} `...)
			x.line = appendFloat(x.line, float64(since(n.Links[r], x.base.links(i)[r])))
			x.line = append(x.line, '\n')
			if err := x.flushLine(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *exposer) header(f *family) {
	x.line = append(x.line, "# HELP "...)
	x.line = append(x.line, f.name...)
	x.line = append(x.line, ' ')
	x.line = appendHelp(x.line, f.help)
	x.line = append(x.line, "\n# TYPE "...)
	x.line = append(x.line, f.name...)
	x.line = append(x.line, ' ')
	x.line = append(x.line, f.typ...)
	x.line = append(x.line, '\n')
}

// sample appends one line: name+suffix, the edge's labels, le (the bytes
// of les, or nil for none), the value.
func (x *exposer) sample(name, suffix string, labels, le []byte, v float64) {
	b := append(x.line, name...)
	b = append(b, suffix...)
	b = append(b, labels...)
	b = append(b, le...)
	b = append(b, `"} `...)
	b = appendFloat(b, v)
	x.line = append(b, '\n')
}

func (x *exposer) flushLine() error {
	_, err := x.w.Write(x.line)
	x.written += len(x.line)
	x.line = x.line[:0]
	if x.written >= yieldBytes {
		// A scrape at 100k edges is ~300 MB of text, a few hundred ms of
		// CPU: yield the processor every yieldBytes so that a waiting
		// ingest goroutine runs within ~0.1 ms, not at the scheduler's next
		// 10 ms preemption (each hop of an export would wait for one).
		x.written = 0
		runtime.Gosched()
	}
	return err
}

// yieldBytes is how much a scrape writes between two yields (~50 µs).
const yieldBytes = 64 << 10

// appendFloat formats v as expfmt does (strconv's shortest 'g').
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v > 0 && v < 1e6 && v == float64(uint64(v)):
		// An integer below 1e6: 'g' writes its digits (from 1e6 on it
		// switches to an exponent). Most values are counts.
		return strconv.AppendUint(b, uint64(v), 10)
	case v == 1:
		return append(b, '1')
	case v == 0:
		return append(b, '0')
	case v == -1:
		return append(b, "-1"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes a label value: backslash, double quote, newline.
func appendEscaped(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\"\n") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendHelp escapes a help text: backslash and newline.
func appendHelp(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// Self-telemetry of dimensions (graph.DimStats).
var (
	dimValuesFolded = desc("servicegraph_dimension_values_overflow_total", "Lookups of a new value of a dimension (--dimensions) past --max-dimension-values distinct values, counted as __overflow__ (a request's consecutive spans with the same values are looked up once).", "dimension")
	dimSeriesFolded = desc("servicegraph_dimension_series_overflow_total", "Edge occurrences counted in their edge's all-__overflow__ sub-series because the edge held --max-dimension-values sub-series, all edges --max-dimension-series, or the value combinations reached 65,536.")
	dimSeriesHeld   = desc("servicegraph_dimension_series", "Sub-series by dimension values held by every edge together.")
)

// describeDims sends the dimension descriptors.
func describeDims(ch chan<- *prometheus.Desc) {
	ch <- dimValuesFolded
	ch <- dimSeriesFolded
	ch <- dimSeriesHeld
}

// collectDims sends the dimension counters; nothing without dimensions.
func collectDims(ch chan<- prometheus.Metric, st graph.DimStats) {
	if len(st.Dimensions) == 0 {
		return
	}
	for i, d := range st.Dimensions {
		ch <- prometheus.MustNewConstMetric(dimValuesFolded, prometheus.CounterValue, float64(st.ValuesFolded[i]), d)
	}
	ch <- prometheus.MustNewConstMetric(dimSeriesFolded, prometheus.CounterValue, float64(st.SeriesFolded+st.TuplesFolded))
	ch <- prometheus.MustNewConstMetric(dimSeriesHeld, prometheus.GaugeValue, float64(st.Series))
}

// withDims makes the edge families' descriptors of a Collector with
// dimensions: the families with sub-series take the labels
// client_<dim> and server_<dim> after the edge's (labels is the edge's
// label list); first and last seen stay per edge.
func withDims(d edgeDescs, labels []string, dims []string) edgeDescs {
	l := slices.Clone(labels)
	for _, dim := range dims {
		l = append(l, "client_"+graph.DimensionLabel(dim))
	}
	for _, dim := range dims {
		l = append(l, "server_"+graph.DimensionLabel(dim))
	}
	f := func(f *family) *prometheus.Desc { return desc(f.name, f.help, l...) }
	d.requestTotal, d.requestFailed, d.serverSeconds = f(requestTotalF), f(requestFailedF), f(serverSecondsF)
	d.clientSeconds, d.messagingDelay, d.linkDelay = f(clientSecondsF), f(messagingDelayF), f(linkDelayF)
	return d
}

// collectEdgeDims sends the sub-series of edge e, whose label values are
// lv: Collect's counterpart of dimFamily.
func (c *Collector) collectEdgeDims(ch chan<- prometheus.Metric, bounds []float64, e *graph.Edge, lv []string) {
	d := &c.d
	for j := range e.Dims {
		s := &e.Dims[j]
		l := append(append(slices.Clone(lv), s.Client...), s.Server...)
		ch <- prometheus.MustNewConstMetric(d.requestTotal, prometheus.CounterValue, float64(s.Count), l...)
		ch <- prometheus.MustNewConstMetric(d.requestFailed, prometheus.CounterValue, float64(s.Failed), l...)
		switch e.Kind {
		case graph.Messaging:
			ch <- histogram(d.messagingDelay, bounds, &s.Hist[0], l)
		case graph.SpanLink:
			ch <- histogram(d.linkDelay, bounds, &s.Hist[0], l)
		}
		for i, fd := range []*prometheus.Desc{d.serverSeconds, d.clientSeconds} {
			if h := dimDurations(s, e.Kind, i); h.Count > 0 {
				ch <- histogram(fd, bounds, h, l)
			}
		}
	}
}

// idle reports whether edge e is idle: not written.
func (x *exposer) idle(e *graph.Edge) bool { return e.LastSeen.UnixNano() < x.idleBefore }

// idleBefore returns the time (unix ns) before which an edge last seen is
// idle, timeout before now; math.MinInt64 (none) for a zero timeout.
func idleBefore(timeout time.Duration, now func() time.Time) int64 {
	if timeout <= 0 {
		return math.MinInt64
	}
	return now().Add(-timeout).UnixNano()
}

// withClock sets the clock c judges idle edges by.
func (c *Collector) withClock(now func() time.Time) *Collector {
	c.now = now
	return c
}

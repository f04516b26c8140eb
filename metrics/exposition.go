package metrics

import (
	"bufio"
	"cmp"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"

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
}

func scalar(v func(e *graph.Edge) float64) func(e *graph.Edge) (float64, *graph.Histogram, bool) {
	return func(e *graph.Edge) (float64, *graph.Histogram, bool) { return v(e), nil, true }
}

// streamed lists the graph-derived families in name order (the registry's).
// nil sel is the span-links family, which is per node.
var streamed = func() []edgeFamily {
	fs := []edgeFamily{
		{requestTotalF, scalar(func(e *graph.Edge) float64 { return float64(e.Count) })},
		{requestFailedF, scalar(func(e *graph.Edge) float64 { return float64(e.Failed) })},
		{firstSeenF, scalar(func(e *graph.Edge) float64 { return unixSeconds(e.FirstSeen.UnixNano()) })},
		{lastSeenF, scalar(func(e *graph.Edge) float64 { return unixSeconds(e.LastSeen.UnixNano()) })},
		{messagingDelayF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			return 0, &e.Hist[0], e.Kind == graph.Messaging
		}},
		{linkDelayF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			return 0, &e.Hist[0], e.Kind == graph.SpanLink
		}},
		{serverSecondsF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			h := durations(e, 0)
			return 0, h, h.Count > 0
		}},
		{clientSecondsF, func(e *graph.Edge) (float64, *graph.Histogram, bool) {
			h := durations(e, 1)
			return 0, h, h.Count > 0
		}},
		{spanLinksF, nil},
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
}

// newSeries builds the series of snap's topology; vnode adds the
// virtual_node label (virtualNodeLabels).
func newSeries(snap *graph.Snapshot, vnode bool) *series {
	s := &series{order: labelOrder(snap), end: make([]uint32, len(snap.Edges))}
	var vn []string
	if vnode {
		vn = virtualNodeLabels(snap)
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
	// written counts the bytes since the last yield.
	written int
}

// family writes f, or nothing if it has no series.
func (x *exposer) family(f edgeFamily) error {
	if f.sel == nil {
		return x.spanLinks(f.family)
	}
	es := x.snap.Edges
	if !slices.ContainsFunc(es, func(e graph.Edge) bool { _, _, ok := f.sel(&e); return ok }) {
		return nil
	}
	x.header(f.family)
	for _, i := range x.series.order {
		e := &es[i]
		v, h, ok := f.sel(e)
		if !ok {
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
		labels := x.series.labelsOf(i)
		if h == nil {
			x.sample(f.name, "", labels, nil, v)
		} else {
			var cum uint64
			inf := false
			for b, bound := range x.snap.Bounds {
				cum += h.Counts[b]
				x.sample(f.name, "_bucket", labels, x.les[b], float64(cum))
				inf = inf || math.IsInf(bound, +1)
			}
			if !inf {
				x.sample(f.name, "_bucket", labels, x.les[len(x.les)-1], float64(h.Count))
			}
			x.sample(f.name, "_sum", labels, nil, h.Sum)
			x.sample(f.name, "_count", labels, nil, float64(h.Count))
		}
		if len(x.line) >= 4<<10 {
			if err := x.flushLine(); err != nil {
				return err
			}
		}
	}
	return x.flushLine()
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

package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
)

// GraphSource is what the collector reads the graph from.
type GraphSource interface {
	Snapshot() *graph.Snapshot
	Stats() graph.Stats
}

// PairingSource is what the collector reads pairing telemetry from.
type PairingSource interface {
	Stats() pairing.Stats
}

var edgeLabels = []string{"client", "server", "connection_type"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// family is a graph-derived metric family: its descriptor for the
// Collector, and its name, help and type for the streamed exposition.
type family struct {
	name, help, typ string
	desc            *prometheus.Desc
}

func newFamily(name, typ, help string, labels ...string) *family {
	return &family{name: name, help: help, typ: typ, desc: desc(name, help, labels...)}
}

// The graph-derived families: the edge families under Grafana Tempo's names
// and labels, and link health.
var (
	requestTotalF   = newFamily("traces_service_graph_request_total", "counter", "Edge occurrences: requests between two nodes, messages, resolved span links.", edgeLabels...)
	requestFailedF  = newFamily("traces_service_graph_request_failed_total", "counter", "Edge occurrences where either side's span had status ERROR.", edgeLabels...)
	serverSecondsF  = newFamily("traces_service_graph_request_server_seconds", "histogram", "Server-side span duration (consumer, linking span; of a database or uninstrumented peer: the client's).", edgeLabels...)
	clientSecondsF  = newFamily("traces_service_graph_request_client_seconds", "histogram", "Client-side span duration (producer, linked-to span).", edgeLabels...)
	messagingDelayF = newFamily("traces_service_graph_request_messaging_system_seconds", "histogram", "Delay of messaging_system edges: consumer span start minus producer span end.", edgeLabels...)
	linkDelayF      = newFamily("traces_service_graph_span_link_delay_seconds", "histogram", "Delay of span_link edges: linking span start minus linked-to span end.", edgeLabels...)
	firstSeenF      = newFamily("servicegraph_edge_first_seen_timestamp_seconds", "gauge", "When the edge was first seen, Unix seconds; survives restarts.", edgeLabels...)
	lastSeenF       = newFamily("servicegraph_edge_last_seen_timestamp_seconds", "gauge", "When the edge was last seen, Unix seconds.", edgeLabels...)
	spanLinksF      = newFamily("servicegraph_span_links_total", "counter", "Span links declared by a service's spans, by outcome: resolved, unresolved (target never seen within the link wait), invalid (zero or malformed ids), dropped (a bound was hit).", "service", "result")
)

// Descriptors of the graph-derived families.
var (
	requestTotal   = requestTotalF.desc
	requestFailed  = requestFailedF.desc
	serverSeconds  = serverSecondsF.desc
	clientSeconds  = clientSecondsF.desc
	messagingDelay = messagingDelayF.desc
	linkDelay      = linkDelayF.desc
	firstSeen      = firstSeenF.desc
	lastSeen       = lastSeenF.desc
	spanLinks      = spanLinksF.desc
)

// Descriptors of self-telemetry.
var (
	spansReceived   = desc("servicegraph_spans_received_total", "Spans received by pairing, refused ones included.")
	spansRejected   = desc("servicegraph_spans_rejected_total", "Spans refused, by reason.", "reason")
	spansDuplicate  = desc("servicegraph_spans_duplicate_total", "Spans already in the span index (retried exports), ignored.")
	spansFiltered   = desc("servicegraph_spans_filtered_total", "Spans dropped by the filter policies (pairing.filter_policies) before pairing, as if never sent.")
	linksToParent   = desc("servicegraph_span_links_to_parent_total", "Resolved span links to the linking span's own parent that made no span_link edge: the parent-child pair made its edge (counted resolved once).")
	spansRoot       = desc("servicegraph_spans_root_total", "Spans without a parent span id.")
	spansPaired     = desc("servicegraph_spans_paired_total", "Spans matched with their parent span. Every received span is rejected, filtered, duplicate, root, paired, expired (children), dropped (children) or pending (children).")
	spansSanitised  = desc("servicegraph_spans_sanitised_total", "Spans accepted after a correction, by reason.", "reason")
	pendingItems    = desc("servicegraph_pending_items", "Items waiting: spans for their parent (children), CLIENT spans for a server side (clients), links for their target (links).", "queue")
	pendingCapacity = desc("servicegraph_pending_capacity", "Items a pending queue holds at most (--max-pending-spans, --max-pending-links): at it the oldest waiting item is dropped (servicegraph_dropped_total).", "queue")
	expiredItems    = desc("servicegraph_expired_total", "Items whose wait ended without a match: spans whose parent never arrived (children).", "queue")
	droppedItems    = desc("servicegraph_dropped_total", "Items dropped because a bound was hit, by queue.", "queue")
	indexEntries    = desc("servicegraph_span_index_entries", "Spans in the span index.")
	indexBytes      = desc("servicegraph_span_index_bytes", "Memory held by the span index.")
	indexEvictions  = desc("servicegraph_span_index_evictions_total", "Spans evicted from the full span index, oldest first.")
	nodes           = desc("servicegraph_nodes", "Nodes in the graph.")
	edges           = desc("servicegraph_edges", "Edges in the graph.")
	nodesOverflowed = desc("servicegraph_nodes_overflow_total", "Node names folded into __overflow__ at the max_nodes bound.")
	edgesDropped    = desc("servicegraph_edges_dropped_total", "Edge occurrences dropped at the max_edges bound.")
	edgesFolded     = desc("servicegraph_edges_folded_total", "Saved edges summed into another edge when the graph was restored, because their nodes folded into __overflow__ under a smaller max_nodes.")
	historyBuckets  = desc("servicegraph_history_buckets", "History buckets held across all edges.")
	historyBytes    = desc("servicegraph_history_bytes", "Memory held by the history of all edges (bounded by max_history_bytes).")
	nativeReduced   = desc("servicegraph_native_resolution_halvings_total", "Times a native (exponential) bucket set halved its resolution at --native-max-buckets.")
	historyEvicted  = desc("servicegraph_history_evicted_buckets_total", "History buckets dropped, oldest first, because a bound was hit, by reason.", "reason")
)

// Collector exposes the graph and pairing state at scrape time. It reads
// one immutable snapshot per scrape and takes no writer lock beyond that.
type Collector struct {
	graph   GraphSource
	pairing PairingSource
	vnode   bool             // Config.VirtualNodeLabel
	dims    []string         // Config.Dimensions: the edge families' series are the sub-series (exposition.go)
	idle    time.Duration    // Config.SeriesIdleTimeout (exposition.go)
	now     func() time.Time // the clock idle edges are judged by
	d       edgeDescs        // the edge families' descriptors
}

// edgeDescs are the descriptors of the edge families.
type edgeDescs struct {
	requestTotal, requestFailed, serverSeconds, clientSeconds, messagingDelay, linkDelay, firstSeen, lastSeen *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector over g and p.
func NewCollector(g GraphSource, p PairingSource) *Collector {
	return &Collector{graph: g, pairing: p, d: edgeDescs{requestTotal, requestFailed, serverSeconds, clientSeconds,
		messagingDelay, linkDelay, firstSeen, lastSeen}}
}

// NewCollectorWith is NewCollector with cfg's edge labels: the
// virtual_node label when cfg.VirtualNodeLabel (as Handler streams them).
func NewCollectorWith(g GraphSource, p PairingSource, cfg Config) *Collector {
	c := NewCollector(g, p)
	if cfg.VirtualNodeLabel {
		c.vnode = true
		l := append(slices.Clone(edgeLabels), "virtual_node")
		f := func(f *family) *prometheus.Desc { return desc(f.name, f.help, l...) }
		c.d = edgeDescs{f(requestTotalF), f(requestFailedF), f(serverSecondsF), f(clientSecondsF), f(messagingDelayF),
			f(linkDelayF), f(firstSeenF), f(lastSeenF)}
	}
	if len(cfg.Dimensions) > 0 {
		l := slices.Clone(edgeLabels)
		if c.vnode {
			l = append(l, "virtual_node")
		}
		c.dims, c.d = cfg.Dimensions, withDims(c.d, l, cfg.Dimensions)
	}
	c.idle, c.now = cfg.SeriesIdleTimeout, time.Now
	return c
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	e := &c.d
	for _, d := range []*prometheus.Desc{e.requestTotal, e.requestFailed, e.serverSeconds, e.clientSeconds, e.messagingDelay,
		e.linkDelay, e.firstSeen, e.lastSeen, spanLinks} {
		ch <- d
	}
	describeSelf(ch)
}

func describeSelf(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{spansReceived, spansRejected, spansDuplicate, spansFiltered, linksToParent, spansSanitised, spansRoot, spansPaired,
		pendingItems, pendingCapacity, expiredItems, droppedItems, indexEntries, indexBytes, indexEvictions, nodes, edges,
		nodesOverflowed, edgesDropped, edgesFolded, historyBuckets, historyBytes, historyEvicted, nativeReduced} {
		ch <- d
	}
	describeDims(ch)
}

// selfCollector is the Collector without the graph-derived families, for
// a registry whose graph families Handler streams.
type selfCollector struct{ c *Collector }

func (s selfCollector) Describe(ch chan<- *prometheus.Desc) { describeSelf(ch) }
func (s selfCollector) Collect(ch chan<- prometheus.Metric) { s.c.collectSelf(ch) }

// Collect sends the current values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collectGraph(ch)
	c.collectSelf(ch)
}

// collectGraph sends the graph-derived families, with their exemplars
// (exemplar.go).
func (c *Collector) collectGraph(ch chan<- prometheus.Metric) {
	snap := c.graph.Snapshot()
	base := newBases(snap)
	before := idleBefore(c.idle, c.now)
	var vn []string
	if c.vnode {
		vn = virtualNodeLabels(snap)
	}
	d := &c.d
	for i := range snap.Edges {
		e := &snap.Edges[i]
		if e.LastSeen.UnixNano() < before { // idle (--series-idle-timeout)
			continue
		}
		// Counter values count from the base, if any.
		count, failed, hist, dur := e.Count, e.Failed, e.Hist, [2]graph.Histogram{*durations(e, 0), *durations(e, 1)}
		if be := base.edge(i); be != nil {
			count, failed = since(count, be.Count), since(failed, be.Failed)
			for j := range hist {
				hist[j] = *histSince(&graph.Histogram{}, &e.Hist[j], &be.Hist[j])
				dur[j] = *histSince(&graph.Histogram{}, durations(e, j), durations(be, j))
			}
		}
		lv := []string{e.Client, e.Server, e.Kind.ConnectionType()}
		if c.vnode {
			lv = append(lv, vn[i])
		}
		if c.dims != nil {
			ch <- prometheus.MustNewConstMetric(d.firstSeen, prometheus.GaugeValue, unixSeconds(e.FirstSeen.UnixNano()), lv...)
			ch <- prometheus.MustNewConstMetric(d.lastSeen, prometheus.GaugeValue, unixSeconds(e.LastSeen.UnixNano()), lv...)
			c.collectEdgeDims(ch, snap.Bounds, e, lv)
			continue
		}
		ch <- withExemplar(prometheus.MustNewConstMetric(d.requestTotal, prometheus.CounterValue, float64(count), lv...), &e.Exemplar)
		ch <- prometheus.MustNewConstMetric(d.requestFailed, prometheus.CounterValue, float64(failed), lv...)
		ch <- prometheus.MustNewConstMetric(d.firstSeen, prometheus.GaugeValue, unixSeconds(e.FirstSeen.UnixNano()), lv...)
		ch <- prometheus.MustNewConstMetric(d.lastSeen, prometheus.GaugeValue, unixSeconds(e.LastSeen.UnixNano()), lv...)
		switch e.Kind {
		case graph.Messaging:
			ch <- withExemplar(withNative(histogram(d.messagingDelay, snap.Bounds, &hist[0], lv), &e.Hist[0], &hist[0]), &e.Hist[0].Exemplar)
		case graph.SpanLink:
			ch <- withExemplar(withNative(histogram(d.linkDelay, snap.Bounds, &hist[0], lv), &e.Hist[0], &hist[0]), &e.Hist[0].Exemplar)
		}
		// Server and client span durations on every kind (Tempo's), so that
		// Grafana's server_seconds_sum / request_total has a value.
		if durations(e, 0).Count > 0 {
			ch <- withExemplar(withNative(histogram(d.serverSeconds, snap.Bounds, &dur[0], lv), durations(e, 0), &dur[0]), &durations(e, 0).Exemplar)
		}
		if durations(e, 1).Count > 0 {
			ch <- withExemplar(withNative(histogram(d.clientSeconds, snap.Bounds, &dur[1], lv), durations(e, 1), &dur[1]), &durations(e, 1).Exemplar)
		}
	}
	for ni, n := range snap.Nodes {
		var any uint64
		for _, v := range n.Links {
			any |= v
		}
		if any == 0 {
			continue
		}
		// Every result is exported, zeros included, so that rate() sees the
		// first increase of each.
		bl := base.links(ni)
		for r, v := range n.Links {
			ch <- prometheus.MustNewConstMetric(spanLinks, prometheus.CounterValue, float64(since(v, bl[r])), n.Name, graph.LinkResult(r).String())
		}
	}
}

func (c *Collector) collectSelf(ch chan<- prometheus.Metric) {
	p := c.pairing.Stats()
	g := c.graph.Stats()
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge := func(d *prometheus.Desc, v int, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), lv...)
	}
	counter(spansReceived, p.SpansReceived)
	counter(spansRejected, p.SpansRejected, "invalid_id")
	counter(spansRejected, p.SpansNodeOverflow, "node_id_overflow")
	counter(spansDuplicate, p.SpansDuplicate)
	counter(spansFiltered, p.SpansFiltered)
	counter(linksToParent, p.LinksToParent)
	counter(spansSanitised, p.SpansSanitised, "end_before_start")
	counter(spansRoot, p.SpansRoot)
	counter(spansPaired, p.SpansPaired)
	gauge(pendingItems, p.PendingChildren, "children")
	gauge(pendingItems, p.PendingClients, "clients")
	gauge(pendingItems, p.PendingLinks, "links")
	gauge(pendingCapacity, p.CapacityChildren, "children")
	gauge(pendingCapacity, p.CapacityClients, "clients")
	gauge(pendingCapacity, p.CapacityLinks, "links")
	counter(expiredItems, p.ExpiredChildren, "children")
	counter(droppedItems, p.DroppedChildren, "children")
	counter(droppedItems, p.DroppedClients, "clients")
	counter(droppedItems, p.DroppedLinks, "links")
	gauge(indexEntries, p.IndexSpans)
	gauge(indexBytes, p.IndexBytes)
	counter(indexEvictions, p.IndexEvictions)
	gauge(nodes, g.Nodes)
	gauge(edges, g.Edges)
	counter(nodesOverflowed, g.NodesOverflowed)
	counter(edgesDropped, g.EdgesDropped)
	counter(edgesFolded, g.EdgesFolded)
	gauge(historyBuckets, g.HistoryBuckets)
	gauge(historyBytes, int(g.HistoryBytes))
	counter(historyEvicted, g.HistoryEvicted, "max_history_bytes")
	counter(nativeReduced, g.NativeReductions)
	collectDims(ch, g.Dims)
}

func unixSeconds(ns int64) float64 { return float64(ns) / 1e9 }

func histogram(d *prometheus.Desc, bounds []float64, h *graph.Histogram, lv []string) prometheus.Metric {
	cum := make(map[float64]uint64, len(bounds))
	var run uint64
	for i, b := range bounds {
		run += h.Counts[i]
		cum[b] = run
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, cum, lv...)
}

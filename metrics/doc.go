// Package metrics exposes the service graph to Prometheus. Collector is a
// prometheus.Collector that, at scrape time, reads one immutable graph
// snapshot and the pairing counters, and emits the edge families under
// Grafana Tempo's names and labels (client, server, connection_type) plus
// the project's own telemetry under servicegraph_. Handler serves /metrics
// without the Collector's cost at scale: it registers only the
// self-telemetry, and writes the graph-derived families line by line from
// one snapshot in the text format, merged in name order with the gathered
// families, byte for byte what promhttp would write over a registry holding
// the Collector. It registers nothing on the global registry: callers pass a
// Registerer.
//
// Exemplars: a scrape whose Accept asks for OpenMetrics (or protobuf) is
// served by promhttp over a registry holding the Collector's graph
// families, which carry each edge's recent traced occurrence
// (graph.Exemplar) as the exemplar of its request counter (value: the
// occurrence's weight) and of the bucket each histogram's recent
// observation fell in, labelled trace_id and span_id, when
// Config.Exemplars is on. With Config.NativeHistograms (the graph keeps
// native histograms) the same path serves protobuf scrapes with the
// native buckets beside the classic ones (native.go). The text format
// (0.0.4), the default and the only one with both off, has neither and
// stays streamed.
//
// Concurrency: Collector and Handler are safe for concurrent use; Handler
// serves at most Config.MaxConcurrentScrapes scrapes at once and refuses
// the others with 503, counted.
// Served by the api package, the Handler sits behind its read cache:
// gzipped scrapes within api.Config.ReadMaxStaleness of each other share
// one encoding, and reads are held to api.Config.ReadBudget; the Handler
// itself encodes every scrape it is asked for.
//
// Bounds: label values are bounded by the graph's node cap
// (graph.Config.MaxNodes) and the fixed sets of connection types, link
// results, queues and reasons. A Handler scrape holds a 64 KiB write
// buffer and a 4 KiB line buffer, whatever the number of series; the
// Handler keeps, for the latest snapshot's topology, the series order and
// every edge's label set in escaped bytes (4 B + 8 B + the label bytes per
// edge, ~7 MB at 100k edges), built once per topology and shared by its
// scrapes.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register registers a Collector over g and p on reg.
func Register(reg prometheus.Registerer, g GraphSource, p PairingSource) error {
	return reg.Register(NewCollector(g, p))
}

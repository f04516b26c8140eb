// Package metrics exposes the service graph to Prometheus: a custom
// prometheus.Collector that, at scrape time, reads one immutable graph
// snapshot and the pairing counters, and emits the edge families under
// Grafana Tempo's names and labels (client, server, connection_type) plus
// the project's own telemetry under servicegraph_. It registers nothing on
// the global registry: callers pass a Registerer to Register.
//
// Label values are bounded by the graph's node cap (graph.Config.MaxNodes)
// and the fixed sets of connection types, link results, queues and reasons.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register registers a Collector over g and p on reg.
func Register(reg prometheus.Registerer, g GraphSource, p PairingSource) error {
	return reg.Register(NewCollector(g, p))
}

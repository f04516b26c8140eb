package workload

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// metricKind maps connection_type to the truth's kinds.
var metricKind = map[string]string{"": "call", "messaging_system": "messaging", "span_link": "link", "database": "database", "virtual_node": "virtual"}

// FromMetrics reads the edges off parsed /metrics families
// (traces_service_graph_request_total and _failed_total) in truth form,
// leaving out user → X edges as Edges does.
func FromMetrics(fams map[string]*dto.MetricFamily) []Edge {
	key := func(ls []*dto.LabelPair) string {
		parts := make([]string, 0, len(ls))
		for _, l := range ls {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(parts)
		return strings.Join(parts, "\x00")
	}
	failed := map[string]uint64{}
	for _, m := range fams["traces_service_graph_request_failed_total"].GetMetric() {
		failed[key(m.GetLabel())] = uint64(m.GetCounter().GetValue())
	}
	var out []Edge
	for _, m := range fams["traces_service_graph_request_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["client"] == "user" && l["connection_type"] == "virtual_node" {
			continue
		}
		out = append(out, Edge{Source: l["client"], Target: l["server"], Kind: metricKind[l["connection_type"]],
			Count: uint64(m.GetCounter().GetValue()), Failed: failed[key(m.GetLabel())]})
	}
	return out
}

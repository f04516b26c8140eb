package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/servicegraph/servicegraph/graph"
)

// withNative adds to m, a classic histogram of the counts exported (out:
// since the base, if any), the native buckets of h when it has them and
// they hold exactly those observations: a graph restored from the state
// file has no native histograms, and its restored edges export classic
// buckets only, as a Prometheus histogram's count must be its native
// buckets' total.
func withNative(m prometheus.Metric, h, out *graph.Histogram) prometheus.Metric {
	n := h.Native
	if n == nil {
		return m
	}
	total := n.ZeroCount
	for _, c := range n.Counts {
		total += c
	}
	if total != out.Count {
		return m
	}
	return nativeMetric{m, n}
}

// nativeMetric is a classic histogram with native buckets beside.
type nativeMetric struct {
	prometheus.Metric
	n *graph.NativeHistogram
}

func (m nativeMetric) Write(pb *dto.Metric) error {
	if err := m.Metric.Write(pb); err != nil {
		return err
	}
	h := pb.Histogram
	if h == nil {
		return nil
	}
	h.Schema = new(m.n.Schema)
	h.ZeroThreshold = new(graph.NativeZeroThreshold)
	h.ZeroCount = new(m.n.ZeroCount)
	if len(m.n.Counts) == 0 {
		// No bucket but the zero one: an empty span marks the
		// histogram native (Prometheus' convention).
		h.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32(0)), Length: new(uint32(0))}}
		return nil
	}
	h.PositiveSpan = []*dto.BucketSpan{{Offset: new(m.n.Offset), Length: new(uint32(len(m.n.Counts)))}}
	h.PositiveDelta = make([]int64, len(m.n.Counts))
	var prev int64
	for i, c := range m.n.Counts {
		h.PositiveDelta[i] = int64(c) - prev
		prev = int64(c)
	}
	return nil
}

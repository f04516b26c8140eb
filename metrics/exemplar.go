package metrics

import (
	"math"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/servicegraph/servicegraph/graph"
)

// Exemplar label names: OpenTelemetry's and the OpenMetrics examples'.
const (
	TraceIDLabel = "trace_id"
	SpanIDLabel  = "span_id"
)

// withExemplar attaches ex, when it holds an occurrence, to m: a
// counter's exemplar, or a histogram's on the bucket its value falls in
// (and, for a native histogram, among its exemplars). Exemplars reach
// only the OpenMetrics and protobuf expositions. (client_golang's
// NewMetricWithExemplars does the same from a map, whose label order
// varies from scrape to scrape.)
func withExemplar(m prometheus.Metric, ex *graph.Exemplar) prometheus.Metric {
	if !ex.Valid() {
		return m
	}
	return exemplified{m, &dto.Exemplar{
		Label: []*dto.LabelPair{
			{Name: new(TraceIDLabel), Value: new(ex.TraceID())},
			{Name: new(SpanIDLabel), Value: new(ex.SpanID())},
		},
		Value:     new(ex.Value),
		Timestamp: timestamppb.New(ex.When()),
	}}
}

// exemplified is a metric with one exemplar.
type exemplified struct {
	prometheus.Metric
	ex *dto.Exemplar
}

func (m exemplified) Write(pb *dto.Metric) error {
	if err := m.Metric.Write(pb); err != nil {
		return err
	}
	switch {
	case pb.Counter != nil:
		pb.Counter.Exemplar = m.ex
	case pb.Histogram != nil:
		h := pb.Histogram
		if h.GetZeroThreshold() != 0 || h.GetZeroCount() != 0 || len(h.PositiveSpan) != 0 || len(h.NegativeSpan) != 0 {
			h.Exemplars = append(h.Exemplars, m.ex)
		}
		if len(h.Bucket) == 0 {
			return nil
		}
		v := m.ex.GetValue()
		i := sort.Search(len(h.Bucket), func(i int) bool { return h.Bucket[i].GetUpperBound() >= v })
		if i < len(h.Bucket) {
			h.Bucket[i].Exemplar = m.ex
			return nil
		}
		h.Bucket = append(h.Bucket, &dto.Bucket{CumulativeCount: new(h.GetSampleCount()), UpperBound: new(math.Inf(1)), Exemplar: m.ex})
	}
	return nil
}

// graphCollector is the Collector's graph-derived families alone, for
// the registry behind the OpenMetrics and protobuf expositions (whose
// self-telemetry is on the caller's registry). It is unchecked: the
// families depend on the configuration.
type graphCollector struct{ c *Collector }

func (g graphCollector) Describe(chan<- *prometheus.Desc)    {}
func (g graphCollector) Collect(ch chan<- prometheus.Metric) { g.c.collectGraph(ch) }

package receiver

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/consumer"
)

// Label values.
const (
	transportGRPC = "grpc"
	transportHTTP = "http"

	outcomeAccepted = "accepted"
	outcomePartial  = "partial"
	outcomeRefused  = "refused"

	spansAccepted = "accepted"
	spansRejected = "rejected"
)

// metrics is the receiver's self-telemetry; see doc.go for each series.
type metrics struct {
	requests *prometheus.CounterVec // transport, outcome
	refused  *prometheus.CounterVec // transport, reason
	spans    *prometheus.CounterVec // transport, outcome
	inflight prometheus.Gauge
	// inflightBytes is the memory budget reserved now (budget.go).
	inflightBytes prometheus.Gauge
	connections   *prometheus.GaugeVec // transport
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servicegraph_receiver_requests_total",
			Help: "OTLP export requests answered, by transport and outcome (accepted, partial, refused).",
		}, []string{"transport", "outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servicegraph_receiver_refused_total",
			Help: "OTLP export requests refused, by transport and reason.",
		}, []string{"transport", "reason"}),
		spans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servicegraph_receiver_spans_total",
			Help: "Spans in decoded OTLP export requests, by transport and outcome (accepted, rejected).",
		}, []string{"transport", "outcome"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "servicegraph_receiver_inflight_requests",
			Help: "OTLP export requests being decoded or consumed now, both transports.",
		}),
		inflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "servicegraph_receiver_inflight_bytes",
			Help: "Bytes of max_inflight_bytes reserved now by OTLP requests in flight, both transports.",
		}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "servicegraph_receiver_connections",
			Help: "OTLP connections open now, by transport (at most max_connections each).",
		}, []string{"transport"}),
	}
	var errs []error
	m.requests, errs = register(reg, m.requests, errs)
	m.refused, errs = register(reg, m.refused, errs)
	m.spans, errs = register(reg, m.spans, errs)
	m.inflight, errs = register(reg, m.inflight, errs)
	m.inflightBytes, errs = register(reg, m.inflightBytes, errs)
	m.connections, errs = register(reg, m.connections, errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Export every series from the start, at zero.
	for _, tr := range []string{transportGRPC, transportHTTP} {
		for _, o := range []string{outcomeAccepted, outcomePartial, outcomeRefused} {
			m.requests.WithLabelValues(tr, o)
		}
		for _, r := range reasons {
			m.refused.WithLabelValues(tr, r)
		}
		m.spans.WithLabelValues(tr, spansAccepted)
		m.spans.WithLabelValues(tr, spansRejected)
		m.connections.WithLabelValues(tr)
	}
	return m, nil
}

// register registers c, or reuses the identical collector already there, so
// that successive receivers (a restart in the same process) share series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errs []error) (C, []error) {
	err := reg.Register(c)
	if err == nil {
		return c, errs
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, errs
		}
	}
	return c, append(errs, err)
}

// accept counts a request whose spans went to the consumer; p is the
// consumer's partial error, if any (a warning when it rejected nothing).
func (m *metrics) accept(transport string, spans int, p *consumer.PartialError) {
	outcome, rejected := outcomeAccepted, int64(0)
	if p != nil {
		outcome, rejected = outcomePartial, min(max(p.Rejected, 0), int64(spans))
	}
	m.requests.WithLabelValues(transport, outcome).Inc()
	m.spans.WithLabelValues(transport, spansAccepted).Add(float64(int64(spans) - rejected))
	m.spans.WithLabelValues(transport, spansRejected).Add(float64(rejected))
}

// refuseConn counts a connection closed at accept, past max_connections:
// a refusal, but not a request.
func (m *metrics) refuseConn(transport string) {
	m.refused.WithLabelValues(transport, reasonTooManyConnections).Inc()
}

// refuse counts a refused request; spans is the number of spans it held when
// it was decoded, zero otherwise.
func (m *metrics) refuse(transport, reason string, spans int) {
	m.requests.WithLabelValues(transport, outcomeRefused).Inc()
	m.refused.WithLabelValues(transport, reason).Inc()
	if spans > 0 {
		m.spans.WithLabelValues(transport, spansRejected).Add(float64(spans))
	}
}

package api

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the API's self-telemetry; see doc.go. The handler label is a
// route name from a fixed list, never a path, so series stay bounded.
type metrics struct {
	requests *prometheus.CounterVec   // handler, code
	duration *prometheus.HistogramVec // handler

	connections        prometheus.Gauge   // open on the listener
	connectionsRefused prometheus.Counter // closed at accept, past max_connections
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servicegraph_http_requests_total",
			Help: "HTTP API requests answered, by route name and status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "servicegraph_http_request_duration_seconds",
			Help:    "Time to answer an HTTP API request, by route name.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"handler"}),
	}
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "servicegraph_http_connections",
		Help: "Connections open on the HTTP API listener.",
	})
	m.connectionsRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "servicegraph_http_connections_refused_total",
		Help: "Connections closed at accept for being past the API listener's max_connections.",
	})
	err := errors.Join(reg.Register(m.requests), reg.Register(m.duration),
		reg.Register(m.connections), reg.Register(m.connectionsRefused))
	return m, err
}

// instrument counts and times h under the route name.
func (m *metrics) instrument(name string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"handler": name}
	return promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(labels),
		promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(labels), h))
}

package render

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/render/picture"
)

// Values of the result label of servicegraph_render_total.
const (
	resultOK       = "ok"
	resultCached   = "cached"
	resultTooLarge = "too_large"
	resultTimeout  = "timeout"
	resultError    = "error"
)

var results = [...]string{resultOK, resultCached, resultTooLarge, resultTimeout, resultError}

// metrics is the renderer's self-telemetry.
type metrics struct {
	total   *prometheus.CounterVec   // format, result
	seconds *prometheus.HistogramVec // format
}

func newMetrics(reg prometheus.Registerer, cacheBytes func() float64) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "servicegraph_render_total",
			Help: "Render calls by format and result (ok, cached, too_large, timeout, error).",
		}, []string{"format", "result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "servicegraph_render_seconds",
			Help:    "Time spent producing pictures that were not cached (DOT generation and layout), including failed and timed-out layouts.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"format"}),
	}
	cache := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "servicegraph_render_cache_bytes",
		Help: "Bytes of rendered pictures held in the render cache.",
	}, cacheBytes)
	for _, f := range picture.Formats {
		for _, r := range results {
			m.total.WithLabelValues(string(f), r)
		}
		m.seconds.WithLabelValues(string(f))
	}
	for _, c := range []prometheus.Collector{m.total, m.seconds, cache} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) count(f picture.Format, result string) {
	m.total.WithLabelValues(string(f), result).Inc()
}

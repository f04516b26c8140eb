package receiver

import "github.com/prometheus/client_golang/prometheus"

// limiter bounds the requests in flight across both transports. Acquiring
// never waits: past the bound a request is refused as overloaded at once.
type limiter struct {
	slots    chan struct{}
	inflight prometheus.Gauge
}

func newLimiter(n int, inflight prometheus.Gauge) *limiter {
	return &limiter{slots: make(chan struct{}, n), inflight: inflight}
}

// acquire takes a slot if one is free; a true result must be paired with
// release.
func (l *limiter) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		l.inflight.Inc()
		return true
	default:
		return false
	}
}

func (l *limiter) release() {
	l.inflight.Dec()
	<-l.slots
}

package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/servicegraph/servicegraph/render/picture"
)

// queryLimit lets at most Config.MaxConcurrentQueries graph queries
// (Grafana rows, Jaeger dependencies, renders) run at once: at 100k edges
// one takes a core for hundreds of milliseconds, and ingestion, which
// shares the machine, must keep the rest. A query past the limit waits
// for a slot, up to Config.RequestTimeout, then is answered 503 with
// Retry-After. Waiting requests are bounded by Config.MaxConnections.
type queryLimit struct {
	slots   chan struct{}
	timeout time.Duration
	waited  prometheus.Counter // queries that found every slot taken
	refused prometheus.Counter // queries that gave up waiting
}

func newQueryLimit(n int, timeout time.Duration, reg prometheus.Registerer) (*queryLimit, error) {
	l := &queryLimit{
		slots:   make(chan struct{}, n),
		timeout: timeout,
		waited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "servicegraph_http_queries_waited_total",
			Help: "Graph queries (rows, dependencies, renders) that waited for a slot: max_concurrent_queries were running.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "servicegraph_http_queries_refused_total",
			Help: "Graph queries answered 503 after waiting request_timeout for a slot.",
		}),
	}
	return l, errors.Join(reg.Register(l.waited), reg.Register(l.refused))
}

// errBusy answers a query that waited too long for a slot.
var errBusy = errors.New("too many graph queries at once: retry later, or " + picture.HintURL)

// wrap runs next once a slot is free; rs answers a query refused.
func (l *queryLimit) wrap(next http.Handler, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case l.slots <- struct{}{}:
		default:
			l.waited.Inc()
			t := time.NewTimer(l.timeout)
			select {
			case l.slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				l.refused.Inc()
				rs.error(w, errBusy)
				return
			case <-r.Context().Done():
				t.Stop()
				rs.error(w, errCancelled)
				return
			}
		}
		defer func() { <-l.slots }()
		next.ServeHTTP(w, r)
	})
}

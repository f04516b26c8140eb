package demo

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/servicegraph/servicegraph/internal/logging"
)

// Run generates the shop's traffic, exporting it to cfg.Endpoint, until ctx
// is done or cfg.MaxRequests requests were made. It then flushes and shuts
// every simulated service's provider down, within a few seconds even when
// the endpoint is unreachable, and returns nil. It returns an error only
// for an invalid cfg or an exporter that cannot be built; export failures
// go to the OpenTelemetry global error handler and never stop the traffic.
// A nil logger discards.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	logger = logging.OrDiscard(logger)
	if err := cfg.Validate(); err != nil {
		return err
	}
	seed := cfg.Seed
	for seed == 0 {
		seed = rand.Uint64()
	}
	f, err := newFleet(ctx, cfg.Endpoint, services)
	if err != nil {
		return err
	}
	g := newGenerator(seed, newTracers(f))

	rate := cfg.rate()
	logger.Info("demo traffic started", "endpoint", cfg.Endpoint, "rate", rate,
		"seed", seed, "max_requests", cfg.MaxRequests, "services", len(services))
	began := time.Now()
	g.loop(ctx, rate, cfg.MaxRequests)
	elapsed := time.Since(began)

	if err := f.shutdown(shutdownTimeout); err != nil {
		logger.Warn("demo traffic: spans may be lost while flushing", "endpoint", cfg.Endpoint, "err", err)
	}
	s := g.stats
	logger.Info("demo traffic stopped", "requests", s.requests, "failed", s.failed,
		"retries", s.retries, "messages", s.messages, "batches", s.batches,
		"reports", s.reports, "unresolved_links", s.unresolved, "invalid_links", s.invalid,
		"duration", elapsed.Round(time.Millisecond))
	return nil
}

// loop makes one request per tick of a ticker at rate per second, the
// first one at once, until ctx is done or limit requests (0: no limit) were
// made. Slow requests make the ticker drop ticks rather than queue them.
func (g *generator) loop(ctx context.Context, rate float64, limit int) {
	ticker := time.NewTicker(max(time.Duration(float64(time.Second)/rate), time.Microsecond))
	defer ticker.Stop()
	for ctx.Err() == nil {
		g.tick(time.Now())
		if limit > 0 && g.stats.requests >= limit {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

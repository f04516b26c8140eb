package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/servicegraph/servicegraph/internal/demo"
)

// runDemo runs the service and feeds it generated traffic through its own
// OTLP/gRPC endpoint until ctx is done.
func runDemo(ctx context.Context, cfg Config, logger *slog.Logger, rate float64, stdout io.Writer) error {
	if cfg.Receiver.GRPCAddr == "" {
		return fmt.Errorf("demo needs the OTLP/gRPC listener: --otlp-grpc-addr is empty")
	}
	if cfg.Receiver.TLS.Enabled() || cfg.Receiver.Auth.Enabled() {
		return fmt.Errorf("demo sends plaintext OTLP without a token: run it without TLS and ingest tokens")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	err := serve(ctx, cfg, logger, func(a addrs) {
		fmt.Fprintf(stdout, "servicegraph demo: open http://%s/ (metrics at /metrics); Ctrl-C stops\n", a.API)
		dcfg := demo.NewDefaultConfig()
		dcfg.Endpoint, dcfg.Rate = a.GRPC.String(), rate
		wg.Go(func() {
			if err := demo.Run(ctx, dcfg, logger); err != nil {
				logger.Error("demo traffic stopped", "err", err)
			}
		})
	})
	return err
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/servicegraph/servicegraph/internal/demo"
)

// demoLinkWait is the demo's --link-wait: short, so that the links the
// demo makes to spans that never arrive show as unresolved within a minute.
const demoLinkWait = 20 * time.Second

// demoNote is the part of demo's help that says how it differs from serve.
const demoNote = `
The demo saves nothing (--data-dir is empty; set it to keep the demo's graph,
in a directory of its own: a serve started on the same directory would show
the demo's made-up shop) and waits --link-wait 20s for a link's target, so
that unresolved links appear within a minute. Every other default is serve's.
`

// newDemoConfig is the demo's configuration before the YAML file and the
// flags: serve's, without saving and with a short link wait.
func newDemoConfig() Config {
	c := newDefaultConfig()
	c.State.Dir = ""
	c.Pairing.LinkWait = demoLinkWait
	return c
}

// runDemo runs the service and feeds it generated traffic through its own
// OTLP/gRPC endpoint. When ctx ends, the traffic stops and flushes first,
// into the still-running service, then the service shuts down.
func runDemo(ctx context.Context, cfg Config, logger *slog.Logger, rate float64, stdout io.Writer) error {
	if cfg.Receiver.GRPCAddr == "" {
		return fmt.Errorf("demo needs the OTLP/gRPC listener: --otlp-grpc-addr is empty")
	}
	if cfg.Receiver.TLS.Enabled() || cfg.Receiver.Auth.Enabled() {
		return fmt.Errorf("demo sends plaintext OTLP without a token: run it without TLS and ingest tokens")
	}
	// The SDK reports export errors through a global handler; send them to
	// our logger instead of the standard log package.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Debug("demo traffic export", "err", err) }))

	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServe()
	trafficDone := make(chan struct{})
	var finish sync.Once
	done := func() { finish.Do(func() { close(trafficDone) }) }
	go func() {
		select {
		case <-ctx.Done():
			<-trafficDone // flushed into the running service
			stopServe()
		case <-serveCtx.Done():
		}
	}()
	err := serve(serveCtx, cfg, logger, func(a addrs) {
		fmt.Fprintf(stdout, "servicegraph demo: open http://%s/ (metrics at /metrics); Ctrl-C stops\n", a.API)
		dcfg := demo.NewDefaultConfig()
		dcfg.Endpoint, dcfg.Rate = a.GRPC.String(), rate
		go func() {
			defer done()
			if err := demo.Run(ctx, dcfg, logger); err != nil {
				logger.Error("demo traffic stopped", "err", err)
			}
		}()
	})
	done() // serve has returned: there is no traffic left to wait for
	return err
}

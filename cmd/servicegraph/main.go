// Command servicegraph builds a live service graph, span-link edges
// included, from OpenTelemetry traces. main only parses flags, builds the
// logger, wires components and handles signals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/servicegraph/servicegraph/render"
)

const usage = `servicegraph builds a live service graph, span-link edges included, from
OpenTelemetry traces.

Usage:
  servicegraph [serve] [flags]          run the service (the default)
  servicegraph demo [flags]             run the service fed with generated traffic
  servicegraph render [flags] FILE...   draw OTLP/JSON trace files offline ("-" reads stdin)

Run "servicegraph COMMAND -help" for a command's flags.
`

func main() {
	if len(os.Args) > 2 && os.Args[1] == render.WorkerArg {
		if err := render.RunWorker(os.Stdin, os.Stdout, os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful stop; from then on the signals
	// have their default effect, so a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "servicegraph:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; it returns when the command is done or
// ctx is cancelled.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "demo":
		fs := flag.NewFlagSet("servicegraph "+cmd, flag.ContinueOnError)
		fs.SetOutput(stderr)
		var demoRate float64
		if cmd == "demo" {
			fs.Float64Var(&demoRate, "demo-rate", 20, "generated user requests per second")
		}
		fs.Usage = func() {
			fmt.Fprintf(stderr, "Usage: servicegraph %s [flags]\n\nFlags (defaults shown; --config FILE sets the same keys in YAML, flags win):\n", cmd)
			fs.PrintDefaults()
		}
		cfg, err := parseConfig(fs, args)
		if err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected arguments: %q", fs.Args())
		}
		logger, err := newLogger(cfg.Log, stderr)
		if err != nil {
			return err
		}
		if cmd == "demo" {
			return runDemo(ctx, cfg, logger, demoRate, stdout)
		}
		return serve(ctx, cfg, logger, nil)
	case "render":
		return renderCmd(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func newLogger(c LogConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

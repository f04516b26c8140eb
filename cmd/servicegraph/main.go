// Command servicegraph builds a live service graph, span-link edges
// included, from OpenTelemetry traces. main only parses flags, builds the
// logger, wires components and handles signals.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/servicegraph/servicegraph/internal/demo"
	"github.com/servicegraph/servicegraph/render"
)

func main() {
	render.WorkerMain()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful stop; from then on the signals
	// have their default effect, so a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	code := report(run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line; it returns when the command is done or
// ctx is cancelled. Help goes to stdout; errors are returned, for report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			writeUsage(stdout)
			return nil
		case a != "" && a[0] != '-':
			cmd, args = a, args[1:]
		}
	}
	switch cmd {
	case "serve", "demo":
		return serveCmd(ctx, cmd, args, stdout, stderr)
	case "render":
		return renderCmd(ctx, args, stdout, stderr)
	case "diff":
		return diffCmd(ctx, args, stdout, stderr)
	case "snapshot":
		return snapshotCmd(ctx, args, stdout, stderr)
	case "help":
		if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
			writeUsage(stdout)
			return nil
		}
		if purpose(args[0]) == "" || args[0] == "help" {
			return &usageError{hint: "run 'servicegraph --help' for the commands", err: fmt.Errorf("help: unknown command %q", args[0])}
		}
		return run(ctx, []string{args[0], "--help"}, stdout, stderr)
	default:
		return &usageError{hint: "run 'servicegraph --help' for the commands", err: fmt.Errorf("unknown command %q", cmd)}
	}
}

// serveCmd runs serve or demo: the service, demo with generated traffic.
func serveCmd(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("servicegraph "+cmd, flag.ContinueOnError)
	var demoRate float64
	defaults := newDefaultConfig
	if cmd == "demo" {
		defaults = newDemoConfig
		fs.Float64Var(&demoRate, "demo-rate", demo.DefaultRate, fmt.Sprintf(
			"generated user requests per second, from 0 to %g; 0 means the default (%g)", demo.MaxRate, demo.DefaultRate))
	}
	fs.Usage = func() {
		w := fs.Output()
		p := purpose(cmd)
		fmt.Fprintf(w, "Usage: servicegraph %s [flags]\n\n%s%s.\n", cmd, strings.ToUpper(p[:1]), p[1:])
		if cmd == "demo" {
			fmt.Fprint(w, demoNote)
		}
		fmt.Fprint(w, "\nFlags (defaults shown; --config FILE sets the same keys in YAML, flags win):\n")
		fs.PrintDefaults()
	}
	cfg, err := parseConfig(fs, args, stdout, defaults)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage(cmd, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	if cmd == "demo" && !(demoRate >= 0 && demoRate <= demo.MaxRate) {
		return errUsage(cmd, fmt.Errorf("--demo-rate must be from 0 to %g (0: the default, %g), got %g", demo.MaxRate, demo.DefaultRate, demoRate))
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	if cmd == "demo" {
		return runDemo(ctx, cfg, logger, demoRate, stdout)
	}
	return serve(ctx, cfg, logger, nil)
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

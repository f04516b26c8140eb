package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/render"
)

// maxInputBytes bounds one input file of the offline renderer.
const maxInputBytes = 1 << 30

// renderCmd draws OTLP/JSON files offline with the service's own pairing.
func renderCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("servicegraph render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output file; default stdout. The extension picks the format unless -format is given")
	format := fs.String("format", "", "dot, svg or png (default: from -o, else svg)")
	rankdir := fs.String("rankdir", "LR", "layout direction: LR, TB, RL or BT")
	service := fs.String("service", "", "draw only this service's neighbourhood")
	depth := fs.Int("depth", graph.DefaultDepth, "neighbourhood depth with -service")
	kinds := fs.String("kinds", "", "edge kinds to draw (comma list of call,messaging_system,span_link,database,virtual_node); default all")
	timeout := fs.Duration("timeout", time.Minute, "layout deadline")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: servicegraph render [flags] FILE... (OTLP/JSON: one ExportTraceServiceRequest per file or per line; - reads stdin)\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("render: no input files")
	}
	f, err := pickFormat(*format, *out)
	if err != nil {
		return err
	}
	ks, err := graph.ParseKinds(*kinds)
	if err != nil {
		return fmt.Errorf("-kinds: %w", err)
	}
	opts := render.Options{RankDir: *rankdir}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("-rankdir: %w", err)
	}

	now := time.Now()
	store, err := graph.New(graph.NewDefaultConfig(), graph.Settings{Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	proc, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: func() time.Time { return now }}, store)
	if err != nil {
		return err
	}
	for _, name := range fs.Args() {
		if err := feedFile(ctx, proc, name); err != nil {
			return err
		}
	}
	proc.Flush() // the input is complete: every wait is over
	q := graph.Query{From: time.Unix(0, 0), To: now.Add(time.Hour), Service: *service, Depth: *depth, Kinds: ks}
	view, err := store.Snapshot().Query(q)
	if err != nil {
		return err
	}
	var pic []byte
	if f == render.DOT {
		var b bytes.Buffer
		err = render.WriteDOT(&b, view, opts)
		pic = b.Bytes()
	} else {
		// Layout runs in a child process (this binary) that is killed at
		// the deadline; offline there is no size cap beyond it.
		cfg := render.NewDefaultConfig()
		cfg.Timeout, cfg.MaxNodes, cfg.MaxEdges = *timeout, math.MaxInt32, math.MaxInt32
		var r *render.Renderer
		quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if r, err = render.New(cfg, render.Settings{Logger: quiet}); err == nil {
			pic, err = r.Render(ctx, "cli", view, f, opts)
			err = errors.Join(err, r.Close())
		}
	}
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if *out == "" {
		_, err = stdout.Write(pic)
		return err
	}
	return os.WriteFile(*out, pic, 0o644)
}

func pickFormat(format, out string) (render.Format, error) {
	if format == "" {
		format = strings.TrimPrefix(filepath.Ext(out), ".")
		if format == "" {
			format = "svg"
		}
	}
	f, err := render.ParseFormat(format)
	if err != nil {
		return "", fmt.Errorf("-format: %w", err)
	}
	return f, nil
}

// feedFile decodes one file of OTLP/JSON requests (a single JSON object, or
// one per line as the collector's file exporter writes) into proc.
func feedFile(ctx context.Context, proc *pairing.Processor, name string) error {
	var r io.Reader
	if name == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(io.LimitReader(r, maxInputBytes))
	u := &ptrace.JSONUnmarshaler{}
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			if n == 1 {
				return fmt.Errorf("%s: empty file, want OTLP/JSON traces", name)
			}
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: request %d: not JSON: %w", name, n, err)
		}
		td, err := u.UnmarshalTraces(raw)
		if err != nil {
			return fmt.Errorf("%s: request %d: not OTLP/JSON traces: %w", name, n, err)
		}
		if td.SpanCount() == 0 && !bytes.Contains(raw, []byte("resourceSpans")) {
			return fmt.Errorf("%s: request %d: no resourceSpans: not OTLP/JSON traces", name, n)
		}
		if err := proc.ConsumeTraces(ctx, td); err != nil {
			fmt.Fprintf(os.Stderr, "%s: request %d: %v\n", name, n, err)
		}
	}
}

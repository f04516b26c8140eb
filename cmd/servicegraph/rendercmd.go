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
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/render"
	"github.com/servicegraph/servicegraph/render/picture"
)

// maxInputBytes bounds one input file of the offline renderer.
const maxInputBytes = 1 << 30

// hintTimeout ends the message of a layout past -timeout.
const hintTimeout = picture.HintFlags + "; or allow more time with -timeout"

// renderFlags are the command line of servicegraph render.
type renderFlags struct {
	out, format, rankdir, service, kinds string
	direction                            string
	depth                                int
	depthSet                             bool
	cycles                               bool
	scale                                float64
	timeout                              time.Duration
	files                                []string
}

// renderCmd draws OTLP/JSON files offline with the service's own pairing.
// A wrong command line is a usage error (exit 2); input that draws nothing,
// a bad file or a layout past -timeout is a failure (exit 1).
func renderCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl, err := parseRenderFlags(args, stdout)
	if err != nil {
		return err
	}
	f, opts, q, err := fl.check()
	if err != nil {
		return errUsage("render", err)
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
	spans := 0
	for _, name := range fl.files {
		n, err := feedFile(ctx, proc, name, stderr)
		if err != nil {
			return err
		}
		spans += n
	}
	proc.Flush() // the input is complete: every wait is over
	if spans == 0 {
		return errors.New("nothing to draw: the input holds no spans")
	}
	q.To = now.Add(time.Hour)
	snap := store.Snapshot()
	view, err := snap.Query(q)
	if errors.Is(err, graph.ErrUnknownService) {
		return fmt.Errorf("-service %q: no such service in the input", fl.service)
	} else if err != nil {
		return err
	}
	if err := checkDrawable(view, snap, q, spans); err != nil {
		return err
	}
	pic, err := draw(ctx, view, f, opts, fl.timeout, stderr)
	if err != nil {
		return err
	}
	if fl.out == "" {
		_, err = stdout.Write(pic)
		return err
	}
	return os.WriteFile(fl.out, pic, 0o644)
}

// parseRenderFlags parses the command line; -h prints the usage.
func parseRenderFlags(args []string, stdout io.Writer) (renderFlags, error) {
	var fl renderFlags
	fs := flag.NewFlagSet("servicegraph render", flag.ContinueOnError)
	fs.StringVar(&fl.out, "o", "", "output file; default stdout. Its extension (.dot, .svg, .png) picks the format unless -format is given")
	fs.StringVar(&fl.format, "format", "", "dot, svg or png (default: from -o, else svg)")
	fs.StringVar(&fl.rankdir, "rankdir", picture.RankDirs[0], "layout direction, one of "+strings.Join(picture.RankDirs[:], ", "))
	fs.StringVar(&fl.service, "service", "", "draw only this service's neighbourhood")
	fs.IntVar(&fl.depth, "depth", graph.DefaultDepth, fmt.Sprintf("neighbourhood depth in hops with -service, 0 to %d", api.DefaultMaxDepth))
	fs.StringVar(&fl.direction, "direction", graph.Both.String(), "with -service: both, downstream (what the service reaches) or upstream (what reaches it)")
	fs.BoolVar(&fl.cycles, "cycles", false, "draw only the edges on a cycle (self-loops and strongly connected services)")
	fs.StringVar(&fl.kinds, "kinds", "", "edge kinds to draw (comma list of call,messaging_system,span_link,database,virtual_node); default all")
	fs.DurationVar(&fl.timeout, "timeout", time.Minute, "layout deadline")
	fs.Float64Var(&fl.scale, "scale", 2, fmt.Sprintf("PNG zoom, 1 to %d (text included; DOT and SVG ignore it)", picture.MaxScale))
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: servicegraph render [flags] FILE...\n\nDraw OTLP/JSON trace files offline as DOT, SVG or PNG (one ExportTraceServiceRequest\nper file or per line; - reads stdin), with the service's pairing and link resolution.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return fl, err
	}
	fs.Visit(func(f *flag.Flag) { fl.depthSet = fl.depthSet || f.Name == "depth" })
	fl.files = fs.Args()
	return fl, nil
}

// check validates the flags, reporting every problem at once, and returns
// the format, the picture options and the query (without its end).
func (fl renderFlags) check() (picture.Format, picture.Options, graph.Query, error) {
	var errs []error
	f, err := fl.pickFormat()
	errs = append(errs, err)
	opts := picture.Options{RankDir: fl.rankdir, Scale: fl.scale}
	if err := opts.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("-%w", err))
	}
	q := graph.Query{From: time.Unix(0, 0), Service: fl.service, Depth: fl.depth}
	if fl.depth < 0 || fl.depth > api.DefaultMaxDepth {
		errs = append(errs, fmt.Errorf("-depth must be a whole number from 0 to %d, got %d", api.DefaultMaxDepth, fl.depth))
	} else if fl.depthSet && fl.service == "" {
		errs = append(errs, errors.New("-depth needs -service: it counts hops from that service"))
	}
	if q.Direction, err = graph.ParseDirection(fl.direction); err != nil {
		errs = append(errs, fmt.Errorf("-direction: %w", err))
	} else if q.Direction != graph.Both && fl.service == "" {
		errs = append(errs, fmt.Errorf("-direction %s needs -service: it walks from that service", q.Direction))
	}
	q.Cycles = fl.cycles
	if q.Kinds, err = graph.ParseKinds(fl.kinds); err != nil {
		errs = append(errs, fmt.Errorf("-kinds: %w", err))
	}
	if fl.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout must be positive, got %s", fl.timeout))
	}
	if len(fl.files) == 0 {
		errs = append(errs, errors.New("no input files (give - to read stdin)"))
	}
	return f, opts, q, errors.Join(errs...)
}

// pickFormat is -format, else the extension of -o, else SVG.
func (fl renderFlags) pickFormat() (picture.Format, error) {
	switch {
	case fl.format != "":
		f, err := picture.ParseFormat(fl.format)
		if err != nil {
			return "", fmt.Errorf("-format: %w", err)
		}
		return f, nil
	case fl.out != "":
		f, err := picture.FormatOfFile(fl.out)
		if err != nil {
			return "", fmt.Errorf("-o %q: %w (or give -format)", fl.out, err)
		}
		return f, nil
	}
	return picture.SVG, nil
}

// checkDrawable refuses a view without edges, which would draw the legend
// alone, and says why it is empty: spans that made no edges, or filters
// that left none.
func checkDrawable(v *graph.View, snap *graph.Snapshot, q graph.Query, spans int) error {
	if len(v.Edges) > 0 {
		return nil
	}
	all, err := snap.Query(graph.Query{From: q.From, To: q.To, Depth: graph.DefaultDepth, Kinds: graph.AllKinds})
	if err != nil {
		return err
	}
	if len(all.Edges) == 0 {
		return fmt.Errorf("nothing to draw: the input's %s made no edges (edges need a client and a server span, a producer and a consumer, a span link, or a client span naming its peer)", plural(spans, "span"))
	}
	return fmt.Errorf("nothing to draw: none of the input's %d edges matches -service, -depth, -direction, -cycles and -kinds", len(all.Edges))
}

// draw returns the picture: DOT text directly, SVG and PNG laid out in a
// child process (this binary) killed at the deadline. Offline there is no
// size cap beyond the deadline.
func draw(ctx context.Context, v *graph.View, f picture.Format, opts picture.Options, timeout time.Duration, stderr io.Writer) ([]byte, error) {
	if f == picture.DOT {
		var b bytes.Buffer
		if err := picture.WriteDOT(&b, v, opts); err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		return b.Bytes(), nil
	}
	cfg := render.NewDefaultConfig()
	cfg.Timeout, cfg.MaxNodes, cfg.MaxEdges = timeout, math.MaxInt32, math.MaxInt32
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := render.New(cfg, render.Settings{Logger: quiet})
	if err != nil {
		return nil, err
	}
	pic, err := r.Render(ctx, "cli", v, f, opts)
	err = errors.Join(err, r.Close())
	if errors.Is(err, picture.ErrTimeout) {
		return nil, fmt.Errorf("%w; %s", err, hintTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return pic, nil
}

// feedFile decodes one file of OTLP/JSON requests (a single JSON object, or
// one per line as the collector's file exporter writes) into proc and
// returns how many spans it held. Requests pairing refuses are reported
// on stderr and skipped.
func feedFile(ctx context.Context, proc tracesConsumer, name string, stderr io.Writer) (int, error) {
	var r io.Reader
	if name == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		r = f
	}
	return feedReader(ctx, proc, name, r, stderr)
}

// tracesConsumer takes decoded requests: a *pairing.Processor, or a
// wrapper that looks at them first.
type tracesConsumer interface {
	ConsumeTraces(ctx context.Context, td ptrace.Traces) error
}

// feedReader is feedFile of an open input named name.
func feedReader(ctx context.Context, proc tracesConsumer, name string, r io.Reader, stderr io.Writer) (int, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxInputBytes))
	u := &ptrace.JSONUnmarshaler{}
	spans := 0
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			if n == 1 {
				return 0, fmt.Errorf("%s: empty file, want OTLP/JSON traces", name)
			}
			return spans, nil
		} else if err != nil {
			return 0, fmt.Errorf("%s: request %d: not JSON: %w", name, n, err)
		}
		td, err := u.UnmarshalTraces(raw)
		if err != nil {
			return 0, fmt.Errorf("%s: request %d: not OTLP/JSON traces: %w", name, n, err)
		}
		if td.SpanCount() == 0 && !bytes.Contains(raw, []byte("resourceSpans")) {
			return 0, fmt.Errorf("%s: request %d: no resourceSpans: not OTLP/JSON traces", name, n)
		}
		spans += td.SpanCount()
		if err := proc.ConsumeTraces(ctx, td); err != nil {
			fmt.Fprintf(stderr, "%s: request %d: %v\n", name, n, err)
		}
	}
}

// plural is "1 span", "2 spans".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/render/picture"
)

// formatJSON is the diff command's fourth output format, beside the
// picture's: the JSON of GET /api/graph/diff.
const formatJSON = "json"

// diffFlags are the command line of servicegraph diff.
type diffFlags struct {
	out, format, rankdir, label string
	thresholds                  graph.Thresholds
	scale                       float64
	timeout                     time.Duration
	files                       []string
}

// diffCmd compares two inputs, each an OTLP/JSON trace file or a saved
// snapshot document, and writes the diff as DOT, SVG, PNG or JSON. A
// wrong command line is a usage error (exit 2); an input that cannot be
// read, is neither kind, or leaves nothing to compare is a failure (exit
// 1). Finding changes is not a failure.
func diffCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl, err := parseDiffFlags(args, stdout)
	if err != nil {
		return err
	}
	format, opts, err := fl.check()
	if err != nil {
		return errUsage("diff", err)
	}
	old, oldTraces, err := loadSample(ctx, fl.files[0], stderr)
	if err != nil {
		return err
	}
	cur, curTraces, err := loadSample(ctx, fl.files[1], stderr)
	if err != nil {
		return err
	}
	if oldTraces && curTraces {
		// Two trace files compare by counts: both windows get the longer
		// time span, so that a file of a second and one of an hour do
		// not differ by their rates alone.
		span := max(old.To.Sub(old.From), cur.To.Sub(cur.From))
		old, cur = withSpan(old, span), withSpan(cur, span)
	}
	if len(old.Edges) == 0 && len(cur.Edges) == 0 {
		return fmt.Errorf("nothing to compare: neither %s nor %s has edges", fl.files[0], fl.files[1])
	}
	d, err := graph.Compare(old, cur, fl.thresholds)
	if err != nil {
		return err
	}
	var out []byte
	if format == formatJSON {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(api.DiffJSON(d)); err != nil {
			return fmt.Errorf("encode diff: %w", err)
		}
		out = b.Bytes()
	} else {
		opts.Diff = d
		if out, err = draw(ctx, d.View(), picture.Format(format), opts, fl.timeout, stderr); err != nil {
			return err
		}
	}
	if fl.out == "" {
		_, err = stdout.Write(out)
		return err
	}
	return os.WriteFile(fl.out, out, 0o644)
}

// parseDiffFlags parses the command line; -h prints the usage.
func parseDiffFlags(args []string, stdout io.Writer) (diffFlags, error) {
	fl := diffFlags{thresholds: graph.DefaultThresholds}
	fs := flag.NewFlagSet("servicegraph diff", flag.ContinueOnError)
	fs.StringVar(&fl.out, "o", "", "output file; default stdout. Its extension (.dot, .svg, .png, .json) picks the format unless -format is given")
	fs.StringVar(&fl.format, "format", "", "dot, svg, png or json (default: from -o, else svg)")
	fs.StringVar(&fl.rankdir, "rankdir", picture.RankDirs[0], "layout direction, one of "+strings.Join(picture.RankDirs[:], ", "))
	fs.StringVar(&fl.label, "label", picture.LabelCount, "what edge labels count: count (requests in each input) or rate (per second)")
	fs.Float64Var(&fl.thresholds.Rate, "rate-change", graph.DefaultThresholds.Rate, "relative change of requests/s from which an edge or node is changed (0.5: ±50%)")
	fs.Float64Var(&fl.thresholds.ErrorPoints, "error-change", graph.DefaultThresholds.ErrorPoints, "change of the error percentage, in points, from which it is changed")
	fs.Float64Var(&fl.thresholds.Latency, "latency-change", graph.DefaultThresholds.Latency, "relative change of p95 (else mean) latency or async delay from which it is changed")
	fs.DurationVar(&fl.timeout, "timeout", time.Minute, "layout deadline")
	fs.Float64Var(&fl.scale, "scale", 2, fmt.Sprintf("PNG zoom, 1 to %d (text included; DOT, SVG and JSON ignore it)", picture.MaxScale))
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: servicegraph diff [flags] OLD NEW\n\n%s%s: what changed from OLD (the baseline) to NEW.\n"+
			"Each is an OTLP/JSON trace file (- reads stdin) or a snapshot saved by 'servicegraph snapshot'\n"+
			"or GET /api/graph/snapshot; the kind is detected. Added nodes and edges are drawn green,\n"+
			"removed ones red and faded, changed ones orange with the change.\n\nFlags:\n",
			strings.ToUpper(purpose("diff")[:1]), purpose("diff")[1:])
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return fl, err
	}
	fl.files = fs.Args()
	return fl, nil
}

// check validates the flags, reporting every problem at once, and returns
// the format (a picture.Format or formatJSON) and the picture options.
func (fl diffFlags) check() (string, picture.Options, error) {
	var errs []error
	format, err := fl.pickFormat()
	errs = append(errs, err)
	opts := picture.Options{RankDir: fl.rankdir, Label: fl.label, Scale: fl.scale}
	if err := opts.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("-%w", err))
	}
	if err := fl.thresholds.Validate(); err != nil {
		errs = append(errs, err)
	}
	if fl.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout must be positive, got %s", fl.timeout))
	}
	switch {
	case len(fl.files) != 2:
		errs = append(errs, fmt.Errorf("want two inputs, OLD and NEW, got %d", len(fl.files)))
	case fl.files[0] == "-" && fl.files[1] == "-":
		errs = append(errs, errors.New("only one input can be stdin (-)"))
	}
	return format, opts, errors.Join(errs...)
}

// pickFormat is -format, else the extension of -o, else SVG.
func (fl diffFlags) pickFormat() (string, error) {
	switch {
	case fl.format == formatJSON:
		return formatJSON, nil
	case fl.format != "":
		f, err := picture.ParseFormat(fl.format)
		if err != nil {
			return "", fmt.Errorf("-format: %w (or json)", err)
		}
		return string(f), nil
	case strings.EqualFold(filepath.Ext(fl.out), ".json"):
		return formatJSON, nil
	case fl.out != "":
		f, err := picture.FormatOfFile(fl.out)
		if err != nil {
			return "", fmt.Errorf("-o %q: %w, or .json (or give -format)", fl.out, err)
		}
		return string(f), nil
	}
	return string(picture.SVG), nil
}

// loadSample reads one input: a snapshot document, or OTLP/JSON traces
// drawn with the service's pairing (as servicegraph render does), told
// apart by the first JSON value's keys ("format" or "resourceSpans");
// traces reports the latter.
func loadSample(ctx context.Context, name string, stderr io.Writer) (graph.Sample, bool, error) {
	var in []byte
	var err error
	if name == "-" {
		in, err = io.ReadAll(io.LimitReader(os.Stdin, maxInputBytes+1))
	} else {
		in, err = readBounded(name)
	}
	if err != nil {
		return graph.Sample{}, false, err
	}
	if len(in) > maxInputBytes {
		return graph.Sample{}, false, fmt.Errorf("%s: larger than %d bytes", name, maxInputBytes)
	}
	var first map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(in)).Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return graph.Sample{}, false, fmt.Errorf("%s: empty file, want OTLP/JSON traces or a servicegraph snapshot", name)
		}
		return graph.Sample{}, false, fmt.Errorf("%s: not JSON (want OTLP/JSON traces or a servicegraph snapshot): %w", name, err)
	}
	switch {
	case first["format"] != nil:
		doc, err := graph.ReadDocument(bytes.NewReader(in))
		if err != nil {
			return graph.Sample{}, false, fmt.Errorf("%s: %w", name, err)
		}
		return doc.Sample, false, nil
	case first["resourceSpans"] != nil:
		s, err := traceSample(ctx, name, in, stderr)
		return s, true, err
	}
	return graph.Sample{}, false, fmt.Errorf("%s: neither OTLP/JSON traces (no \"resourceSpans\") nor a servicegraph snapshot (no \"format\": %q)",
		name, graph.DocumentFormat)
}

// readBounded reads a file of at most maxInputBytes (+1 to tell).
func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxInputBytes+1))
}

// spanWindow passes requests on and notes the earliest span start and the
// latest span end.
type spanWindow struct {
	next     tracesConsumer
	min, max uint64 // Unix ns; min 0: none yet
}

func (w *spanWindow) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				s := spans.At(k)
				if st := uint64(s.StartTimestamp()); st > 0 && (w.min == 0 || st < w.min) {
					w.min = st
				}
				w.max = max(w.max, uint64(s.EndTimestamp()), uint64(s.StartTimestamp()))
			}
		}
	}
	return w.next.ConsumeTraces(ctx, td)
}

// traceSample pairs the spans of one trace file and returns its graph as
// a sample whose window is the time its spans cover (at least a second):
// rates are over that time. Histograms are known (the file is the whole
// window); first and last seen are not (zero).
func traceSample(ctx context.Context, name string, in []byte, stderr io.Writer) (graph.Sample, error) {
	now := time.Now()
	clock := func() time.Time { return now }
	store, err := graph.New(graph.NewDefaultConfig(), graph.Settings{Now: clock})
	if err != nil {
		return graph.Sample{}, err
	}
	proc, err := pairing.New(pairing.NewDefaultConfig(), pairing.Settings{Now: clock}, store)
	if err != nil {
		return graph.Sample{}, err
	}
	w := &spanWindow{next: proc}
	spans, err := feedReader(ctx, w, name, bytes.NewReader(in), stderr)
	if err != nil {
		return graph.Sample{}, err
	}
	proc.Flush()
	if spans == 0 {
		return graph.Sample{}, fmt.Errorf("%s: no spans", name)
	}
	snap := store.Snapshot()
	v, err := snap.Query(graph.Query{From: time.Unix(0, 0), To: now.Add(time.Hour), Depth: graph.DefaultDepth, Kinds: graph.AllKinds})
	if err != nil {
		return graph.Sample{}, err
	}
	s := graph.NewSample(snap, v)
	s.From = time.Unix(0, int64(w.min)).UTC()
	for i := range s.Edges {
		s.Edges[i].FirstSeen, s.Edges[i].LastSeen = time.Time{}, time.Time{}
	}
	return withSpan(s, max(time.Unix(0, int64(w.max)).Sub(s.From), time.Second)), nil
}

// withSpan returns s over the window of length span from s.From, its
// rates over that window. s's edges are its own (NewSample's); its
// nodes are copied.
func withSpan(s graph.Sample, span time.Duration) graph.Sample {
	s.To = s.From.Add(span)
	secs := span.Seconds()
	s.Nodes = append([]graph.ViewNode(nil), s.Nodes...)
	for i := range s.Nodes {
		s.Nodes[i].Rate = float64(s.Nodes[i].Count) / secs
	}
	for i := range s.Edges {
		s.Edges[i].Rate = float64(s.Edges[i].Count) / secs
	}
	return s
}

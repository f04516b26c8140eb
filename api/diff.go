package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servicegraph/servicegraph/graph"
)

// Diff parameters: the baseline window and the thresholds of "changed".
const (
	ParamBaselineFrom = "baseline_from" // default: baseline_to minus the window's length
	ParamBaselineTo   = "baseline_to"   // default: from (or baseline_from plus the window's length)
	// ParamBaselineOffset moves the window back by a duration for the
	// baseline: [from − offset, to − offset]. Go or Prometheus syntax
	// (7d, 1w, 24h, 90m, 1h30m); exclusive with baseline_from and
	// baseline_to. Empty: not given.
	ParamBaselineOffset = "baseline_offset"
	ParamRateChange     = "rate_change"    // relative change of requests/s, default 0.5
	ParamErrorChange    = "error_change"   // change of error %, in percentage points, default 1
	ParamLatencyChange  = "latency_change" // relative change of p95 (or mean) latency or delay, default 0.5
)

// Route names of the diff and snapshot endpoints.
const (
	routeDiff       = "graph_diff"
	routeDiffFields = "graph_diff_fields"
	routeDiffData   = "graph_diff_data"
)

// diffQuery is a parsed diff request: the current window's query, the
// baseline window and the thresholds.
type diffQuery struct {
	q                        graph.Query
	baselineFrom, baselineTo time.Time
	thresholds               graph.Thresholds
}

// isDiff reports whether the request asks for a diff (a baseline given).
func isDiff(v url.Values) bool {
	return v.Has(ParamBaselineFrom) || v.Has(ParamBaselineTo) || v.Has(ParamBaselineOffset)
}

// parseDiff parses the filters (ParseQuery), the baseline window and the
// thresholds. The baseline defaults to the window of the same length
// immediately before from; with only one of baseline_from and baseline_to
// the other keeps that length; baseline_offset moves the window back.
// Empty parameters count as not given.
func parseDiff(v url.Values, now time.Time, maxDepth int) (diffQuery, error) {
	var d diffQuery
	var err error
	if d.q, err = ParseQuery(v, now, maxDepth); err != nil {
		return d, err
	}
	span := d.q.To.Sub(d.q.From)
	bf, bt, off := v.Get(ParamBaselineFrom), v.Get(ParamBaselineTo), v.Get(ParamBaselineOffset)
	switch {
	case off != "" && (bf != "" || bt != ""):
		return d, paramErr(ParamBaselineOffset, "give the baseline either as baseline_offset or as baseline_from/baseline_to, not both")
	case off != "":
		o, err := parseOffset(off)
		if err != nil {
			return d, paramErr(ParamBaselineOffset, "baseline_offset must be a positive duration such as 7d, 24h or 90m, got %s", echo(off))
		}
		d.baselineFrom, d.baselineTo = d.q.From.Add(-o), d.q.To.Add(-o)
	case bf == "" && bt == "":
		d.baselineTo = d.q.From
		d.baselineFrom = d.q.From.Add(-span)
	case bf == "":
		if d.baselineTo, err = parseTimeParam(v, ParamBaselineTo, time.Time{}); err != nil {
			return d, err
		}
		d.baselineFrom = d.baselineTo.Add(-span)
	case bt == "":
		if d.baselineFrom, err = parseTimeParam(v, ParamBaselineFrom, time.Time{}); err != nil {
			return d, err
		}
		d.baselineTo = d.baselineFrom.Add(span)
	default:
		if d.baselineFrom, err = parseTimeParam(v, ParamBaselineFrom, time.Time{}); err != nil {
			return d, err
		}
		if d.baselineTo, err = parseTimeParam(v, ParamBaselineTo, time.Time{}); err != nil {
			return d, err
		}
	}
	if d.baselineFrom.Before(minTime) {
		d.baselineFrom = minTime
	}
	if !d.baselineFrom.Before(d.baselineTo) {
		param := ParamBaselineFrom
		if bf == "" {
			param = ParamBaselineTo
		}
		return d, paramErr(param, "baseline_from (%s) must be before baseline_to (%s)",
			d.baselineFrom.UTC().Format(time.RFC3339Nano), d.baselineTo.UTC().Format(time.RFC3339Nano))
	}
	d.thresholds = graph.DefaultThresholds
	for _, p := range []struct {
		name string
		dst  *float64
		max  float64
	}{
		{ParamRateChange, &d.thresholds.Rate, 1e6},
		{ParamErrorChange, &d.thresholds.ErrorPoints, 100},
		{ParamLatencyChange, &d.thresholds.Latency, 1e6},
	} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f > 0 && f <= p.max) {
			return d, paramErr(p.name, "%s must be a number above 0 and at most %g, got %s", p.name, p.max, echo(s))
		}
		*p.dst = f
	}
	return d, nil
}

// diff parses a diff request and compares the baseline window with the
// current one over one snapshot.
func (s *Server) diff(r *http.Request) (*graph.Diff, diffQuery, error) {
	d, err := parseDiff(r.URL.Query(), s.now(), s.cfg.MaxDepth)
	if err != nil {
		return nil, d, err
	}
	snap := s.src.Graph.Snapshot()
	cur, err := snap.Query(d.q)
	switch {
	case errors.Is(err, graph.ErrUnknownService):
		return nil, d, paramErr(ParamService, "unknown service %s", echo(d.q.Service))
	case err != nil:
		return nil, d, fmt.Errorf("query graph: %w", err)
	}
	bq := d.q
	bq.From, bq.To = d.baselineFrom, d.baselineTo
	base, err := snap.Query(bq)
	if err != nil {
		return nil, d, fmt.Errorf("query graph: %w", err)
	}
	out, err := graph.Compare(graph.NewSample(snap, base), graph.NewSample(snap, cur), d.thresholds)
	if err != nil {
		return nil, d, fmt.Errorf("compare windows: %w", err)
	}
	return out, d, nil
}

// serveDiff answers /api/graph/diff (diffBody).
func (s *Server) serveDiff(r *http.Request) apiFuncResult {
	d, _, err := s.diff(r)
	if err != nil {
		return apiFuncResult{err: err}
	}
	return apiFuncResult{data: DiffJSON(d)}
}

// DiffBody is the JSON of /api/graph/diff and of `servicegraph diff -o
// FILE.json`. Times are RFC 3339 (UTC); rates are requests per second of
// their window.
type DiffBody struct {
	From         time.Time      `json:"from"`
	To           time.Time      `json:"to"`
	BaselineFrom time.Time      `json:"baseline_from"`
	BaselineTo   time.Time      `json:"baseline_to"`
	Thresholds   diffThresholds `json:"thresholds"`
	Summary      diffSummary    `json:"summary"`
	Nodes        []diffNode     `json:"nodes"`
	Edges        []diffEdge     `json:"edges"`
}

type diffThresholds struct {
	RateChange    float64 `json:"rate_change"`
	ErrorChange   float64 `json:"error_change"`
	LatencyChange float64 `json:"latency_change"`
}

type diffSummary struct {
	Nodes statusCounts `json:"nodes"`
	Edges statusCounts `json:"edges"`
}

type statusCounts struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
	Same    int `json:"same"`
}

type diffNode struct {
	ID       string        `json:"id"`
	Kind     string        `json:"kind"`
	Status   string        `json:"status"`
	Reasons  []string      `json:"reasons"`
	Baseline *diffNodeSide `json:"baseline"` // null when added
	Current  *diffNodeSide `json:"current"`  // null when removed
	Change   *diffChange   `json:"change"`   // null unless in both windows
}

type diffNodeSide struct {
	Requests     uint64  `json:"requests"`
	Failed       uint64  `json:"failed"`
	Rate         float64 `json:"rate"`
	ErrorPercent float64 `json:"error_percent"`
}

type diffEdge struct {
	ID       string        `json:"id"` // as /api/graph/data's: client>server:kind, percent-encoded
	Source   string        `json:"source"`
	Target   string        `json:"target"`
	Kind     string        `json:"kind"`
	Async    bool          `json:"async"`
	Measure  string        `json:"measure"` // "latency" (sync) or "delay" (async): what the seconds measure
	Status   string        `json:"status"`
	Reasons  []string      `json:"reasons"`
	Baseline *diffEdgeSide `json:"baseline"`
	Current  *diffEdgeSide `json:"current"`
	Change   *diffChange   `json:"change"`
}

type diffEdgeSide struct {
	Requests     uint64   `json:"requests"`
	Failed       uint64   `json:"failed"`
	Rate         float64  `json:"rate"`
	ErrorPercent float64  `json:"error_percent"`
	MeanSeconds  *float64 `json:"mean_seconds"` // null when unknown
	P50Seconds   *float64 `json:"p50_seconds"`  // null when the window's histogram is unknown
	P95Seconds   *float64 `json:"p95_seconds"`
	// FirstSeen and LastSeen are the edge's first and latest occurrence
	// known to the window's source (live: since the edge was first seen,
	// not limited to the window); null when unknown (trace files).
	FirstSeen *time.Time `json:"first_seen"`
	LastSeen  *time.Time `json:"last_seen"`
}

// diffChange is current minus baseline; ratios are (current −
// baseline)/baseline, null when the baseline is 0 or unknown.
type diffChange struct {
	Rate        float64  `json:"rate"`
	RateRatio   *float64 `json:"rate_ratio"`
	ErrorPoints float64  `json:"error_points"`
	MeanSeconds *float64 `json:"mean_seconds,omitempty"` // edges only; null when unknown on either side
	P50Seconds  *float64 `json:"p50_seconds,omitempty"`
	P95Seconds  *float64 `json:"p95_seconds,omitempty"`
	P95Ratio    *float64 `json:"p95_ratio,omitempty"`
}

// DiffJSON returns d's JSON body. Every number is finite.
func DiffJSON(d *graph.Diff) DiffBody {
	b := DiffBody{
		From: d.New.From.UTC(), To: d.New.To.UTC(), BaselineFrom: d.Old.From.UTC(), BaselineTo: d.Old.To.UTC(),
		Thresholds: diffThresholds{RateChange: d.Thresholds.Rate, ErrorChange: d.Thresholds.ErrorPoints, LatencyChange: d.Thresholds.Latency},
		Nodes:      make([]diffNode, 0, len(d.Nodes)), Edges: make([]diffEdge, 0, len(d.Edges)),
	}
	nc, ec := d.Counts()
	b.Summary.Nodes = counts(nc)
	b.Summary.Edges = counts(ec)
	for i := range d.Nodes {
		n := &d.Nodes[i]
		out := diffNode{ID: n.Name, Kind: n.Kind.String(), Status: n.Status.String(), Reasons: nonNil(n.Reasons),
			Baseline: nodeSideJSON(n.Old), Current: nodeSideJSON(n.New)}
		if n.Old != nil && n.New != nil {
			out.Change = rateChange(d, n.Old.Count, n.New.Count)
			out.Change.ErrorPoints = n.New.ErrorPercent - n.Old.ErrorPercent
		}
		b.Nodes = append(b.Nodes, out)
	}
	for i := range d.Edges {
		e := &d.Edges[i]
		measure := "latency"
		if e.Kind.Async() {
			measure = "delay"
		}
		ve := graph.ViewEdge{Client: e.Client, Server: e.Server, Kind: e.Kind}
		out := diffEdge{ID: edgeID(&ve), Source: e.Client, Target: e.Server, Kind: e.Kind.String(), Async: e.Kind.Async(),
			Measure: measure, Status: e.Status.String(), Reasons: nonNil(e.Reasons),
			Baseline: edgeSideJSON(e.Old), Current: edgeSideJSON(e.New)}
		if o, c := e.Old, e.New; o != nil && c != nil {
			ch := rateChange(d, o.Count, c.Count)
			ch.ErrorPoints = c.ErrorPercent - o.ErrorPercent
			if o.MeanSeconds > 0 && c.MeanSeconds > 0 {
				ch.MeanSeconds = num(c.MeanSeconds - o.MeanSeconds)
			}
			if o.Percentiles && c.Percentiles {
				ch.P50Seconds, ch.P95Seconds, ch.P95Ratio = num(c.P50-o.P50), num(c.P95-o.P95), ratio(o.P95, c.P95)
			}
			out.Change = ch
		}
		b.Edges = append(b.Edges, out)
	}
	return b
}

// rateChange is the rate part of a change (graph.Diff.RateChange).
func rateChange(d *graph.Diff, oldCount, newCount uint64) *diffChange {
	delta, r, ok := d.RateChange(oldCount, newCount)
	ch := &diffChange{Rate: finiteOr0(delta)}
	if ok {
		ch.RateRatio = num(r)
	}
	return ch
}

func counts(c [4]int) statusCounts {
	return statusCounts{Added: c[graph.Added], Removed: c[graph.Removed], Changed: c[graph.Changed], Same: c[graph.Same]}
}

// timeOrNil is t in UTC, nil when zero.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nodeSideJSON(s *graph.NodeSide) *diffNodeSide {
	if s == nil {
		return nil
	}
	return &diffNodeSide{Requests: s.Count, Failed: s.Failed, Rate: finiteOr0(s.Rate), ErrorPercent: finiteOr0(s.ErrorPercent)}
}

func edgeSideJSON(s *graph.EdgeSide) *diffEdgeSide {
	if s == nil {
		return nil
	}
	out := &diffEdgeSide{Requests: s.Count, Failed: s.Failed, Rate: finiteOr0(s.Rate), ErrorPercent: finiteOr0(s.ErrorPercent),
		FirstSeen: timeOrNil(s.FirstSeen), LastSeen: timeOrNil(s.LastSeen)}
	if s.MeanSeconds > 0 {
		out.MeanSeconds = num(s.MeanSeconds)
	}
	if s.Percentiles {
		out.P50Seconds, out.P95Seconds = num(s.P50), num(s.P95)
	}
	return out
}

// ratio is (b−a)/a, nil when a is 0 or either is not finite.
func ratio(a, b float64) *float64 {
	if a == 0 {
		return nil
	}
	return num((b - a) / a)
}

// num points to f, nil when f is not finite (JSON has no NaN or Inf).
func num(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func finiteOr0(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// parseOffset parses a positive duration in Prometheus' syntax (7d, 1w,
// 1h30m) or Go's (1.5h, 90m).
func parseOffset(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		gd, gerr := time.ParseDuration(s)
		if gerr != nil {
			return 0, err
		}
		d = model.Duration(gd)
	}
	if d <= 0 {
		return 0, errors.New("not positive")
	}
	return time.Duration(d), nil
}

package api

import (
	"net/http"
	"strings"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// Colours of a diff (node color and arcs, edge color): the pictures'.
const (
	ColourAdded   = picture.ColourAdded   // green: only in the current window
	ColourRemoved = picture.ColourRemoved // red: only in the baseline
	ColourChanged = picture.ColourChanged // orange: in both, past a threshold
	ColourSame    = picture.ColourSame    // grey: in both, within the thresholds
)

// statusColour is the colour of status st.
func statusColour(st graph.Status) string {
	switch st {
	case graph.Added:
		return ColourAdded
	case graph.Removed:
		return ColourRemoved
	case graph.Changed:
		return ColourChanged
	}
	return ColourSame
}

// diffFields is the answer of /api/graph/diff/fields: one entry per key
// of diffNodeRow and diffEdgeRow, in the same order. The node arcs are the
// status: exactly one of them is 1.
var diffFields = fieldsBody{
	Nodes: []field{
		{Name: "id", Type: "string"},
		{Name: "title", Type: "string", DisplayName: "Service"},
		{Name: "subtitle", Type: "string", DisplayName: "Status"},
		{Name: "mainstat", Type: "number", DisplayName: "Requests/s"},
		{Name: "secondarystat", Type: "number", DisplayName: "Error %"},
		{Name: "arc__added", Type: "number", DisplayName: "Added", Color: ColourAdded},
		{Name: "arc__removed", Type: "number", DisplayName: "Removed", Color: ColourRemoved},
		{Name: "arc__changed", Type: "number", DisplayName: "Changed", Color: ColourChanged},
		{Name: "arc__same", Type: "number", DisplayName: "Same", Color: ColourSame},
		{Name: "color", Type: "string"},
		{Name: "detail__kind", Type: "string", DisplayName: "Kind"},
		{Name: "detail__reasons", Type: "string", DisplayName: "Changed by"},
		{Name: "detail__baseline_rate", Type: "number", DisplayName: "Baseline requests/s"},
		{Name: "detail__current_rate", Type: "number", DisplayName: "Current requests/s"},
		{Name: "detail__baseline_error_percent", Type: "number", DisplayName: "Baseline error %"},
		{Name: "detail__current_error_percent", Type: "number", DisplayName: "Current error %"},
	},
	Edges: []field{
		{Name: "id", Type: "string"},
		{Name: "source", Type: "string"},
		{Name: "target", Type: "string"},
		{Name: "mainstat", Type: "number", DisplayName: "Requests/s"},
		{Name: "secondarystat", Type: "number", DisplayName: "Error %"},
		{Name: "thickness", Type: "number"},
		{Name: "color", Type: "string"},
		{Name: "strokeDasharray", Type: "string"},
		{Name: "detail__connection_type", Type: "string", DisplayName: "Connection type"},
		{Name: "detail__status", Type: "string", DisplayName: "Status"},
		{Name: "detail__reasons", Type: "string", DisplayName: "Changed by"},
		{Name: "detail__baseline_rate", Type: "number", DisplayName: "Baseline requests/s"},
		{Name: "detail__current_rate", Type: "number", DisplayName: "Current requests/s"},
		{Name: "detail__baseline_error_percent", Type: "number", DisplayName: "Baseline error %"},
		{Name: "detail__current_error_percent", Type: "number", DisplayName: "Current error %"},
		{Name: "detail__baseline_p95_seconds", Type: "number", DisplayName: "Baseline p95 latency or delay (s)"},
		{Name: "detail__current_p95_seconds", Type: "number", DisplayName: "Current p95 latency or delay (s)"},
		{Name: "detail__baseline_mean_seconds", Type: "number", DisplayName: "Baseline mean latency or delay (s)"},
		{Name: "detail__current_mean_seconds", Type: "number", DisplayName: "Current mean latency or delay (s)"},
	},
}

// diffNodeRow is one node of a diff, keyed by field name. mainstat and
// secondarystat are the current window's (the baseline's for a removed
// node); the detail__ numbers of a window the node is absent from are
// null.
type diffNodeRow struct {
	ID             string   `json:"id"`
	Title          string   `json:"title"`
	Subtitle       string   `json:"subtitle"` // added, removed, changed or same
	MainStat       float64  `json:"mainstat"`
	SecondaryStat  float64  `json:"secondarystat"`
	ArcAdded       float64  `json:"arc__added"`
	ArcRemoved     float64  `json:"arc__removed"`
	ArcChanged     float64  `json:"arc__changed"`
	ArcSame        float64  `json:"arc__same"`
	Color          string   `json:"color"`
	Kind           string   `json:"detail__kind"`
	Reasons        string   `json:"detail__reasons"` // comma list: rate, errors, latency
	BaselineRate   *float64 `json:"detail__baseline_rate"`
	CurrentRate    *float64 `json:"detail__current_rate"`
	BaselineErrPct *float64 `json:"detail__baseline_error_percent"`
	CurrentErrPct  *float64 `json:"detail__current_error_percent"`
}

// diffEdgeRow is one edge of a diff, keyed by field name; strokeDasharray
// keeps the convention of /api/graph/data ("6 4" async, "" sync), colour
// is the status's.
type diffEdgeRow struct {
	ID              string   `json:"id"`
	Source          string   `json:"source"`
	Target          string   `json:"target"`
	MainStat        float64  `json:"mainstat"`
	SecondaryStat   float64  `json:"secondarystat"`
	Thickness       int      `json:"thickness"`
	Color           string   `json:"color"`
	StrokeDasharray string   `json:"strokeDasharray"`
	ConnectionType  string   `json:"detail__connection_type"`
	Status          string   `json:"detail__status"`
	Reasons         string   `json:"detail__reasons"`
	BaselineRate    *float64 `json:"detail__baseline_rate"`
	CurrentRate     *float64 `json:"detail__current_rate"`
	BaselineErrPct  *float64 `json:"detail__baseline_error_percent"`
	CurrentErrPct   *float64 `json:"detail__current_error_percent"`
	BaselineP95     *float64 `json:"detail__baseline_p95_seconds"`
	CurrentP95      *float64 `json:"detail__current_p95_seconds"`
	BaselineMean    *float64 `json:"detail__baseline_mean_seconds"`
	CurrentMean     *float64 `json:"detail__current_mean_seconds"`
}

type diffDataBody struct {
	Nodes []diffNodeRow `json:"nodes"`
	Edges []diffEdgeRow `json:"edges"`
}

// serveDiffFields answers the Node Graph API datasource's field list of
// the diff; the query string is checked as /api/graph/diff/data's.
func (s *Server) serveDiffFields(r *http.Request) apiFuncResult {
	if _, err := parseDiff(r.URL.Query(), s.now(), s.cfg.MaxDepth); err != nil {
		return apiFuncResult{err: err}
	}
	return apiFuncResult{data: diffFields}
}

// serveDiffData answers the Node Graph API datasource's rows of the diff.
func (s *Server) serveDiffData(r *http.Request) apiFuncResult {
	d, _, err := s.diff(r)
	if err != nil {
		return apiFuncResult{err: err}
	}
	return apiFuncResult{data: diffRows(d)}
}

// diffRows returns the Node Graph API rows of d, nodes sorted by id, edges
// by client, server and kind.
func diffRows(d *graph.Diff) diffDataBody {
	out := diffDataBody{Nodes: make([]diffNodeRow, 0, len(d.Nodes)), Edges: make([]diffEdgeRow, 0, len(d.Edges))}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		row := diffNodeRow{ID: n.Name, Title: n.Name, Subtitle: n.Status.String(), Color: statusColour(n.Status),
			Kind: n.Kind.String(), Reasons: strings.Join(n.Reasons, ",")}
		switch n.Status {
		case graph.Added:
			row.ArcAdded = 1
		case graph.Removed:
			row.ArcRemoved = 1
		case graph.Changed:
			row.ArcChanged = 1
		default:
			row.ArcSame = 1
		}
		main := n.New
		if main == nil {
			main = n.Old
		}
		row.MainStat, row.SecondaryStat = finiteOr0(main.Rate), finiteOr0(main.ErrorPercent)
		if n.Old != nil {
			row.BaselineRate, row.BaselineErrPct = num(n.Old.Rate), num(n.Old.ErrorPercent)
		}
		if n.New != nil {
			row.CurrentRate, row.CurrentErrPct = num(n.New.Rate), num(n.New.ErrorPercent)
		}
		out.Nodes = append(out.Nodes, row)
	}
	var maxCount uint64
	for i := range d.Edges {
		for _, s := range []*graph.EdgeSide{d.Edges[i].Old, d.Edges[i].New} {
			if s != nil {
				maxCount = max(maxCount, s.Count)
			}
		}
	}
	for i := range d.Edges {
		e := &d.Edges[i]
		main := e.New
		if main == nil {
			main = e.Old
		}
		dash := ""
		if e.Kind.Async() {
			dash = asyncDash
		}
		ve := graph.ViewEdge{Client: e.Client, Server: e.Server, Kind: e.Kind}
		row := diffEdgeRow{ID: edgeID(&ve), Source: e.Client, Target: e.Server,
			MainStat: finiteOr0(main.Rate), SecondaryStat: finiteOr0(main.ErrorPercent),
			Thickness: thickness(main.Count, maxCount), Color: statusColour(e.Status), StrokeDasharray: dash,
			ConnectionType: e.Kind.String(), Status: e.Status.String(), Reasons: strings.Join(e.Reasons, ",")}
		if o := e.Old; o != nil {
			row.BaselineRate, row.BaselineErrPct = num(o.Rate), num(o.ErrorPercent)
			if o.Percentiles {
				row.BaselineP95 = num(o.P95)
			}
			if o.MeanSeconds > 0 {
				row.BaselineMean = num(o.MeanSeconds)
			}
		}
		if c := e.New; c != nil {
			row.CurrentRate, row.CurrentErrPct = num(c.Rate), num(c.ErrorPercent)
			if c.Percentiles {
				row.CurrentP95 = num(c.P95)
			}
			if c.MeanSeconds > 0 {
				row.CurrentMean = num(c.MeanSeconds)
			}
		}
		out.Edges = append(out.Edges, row)
	}
	return out
}
